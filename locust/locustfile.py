"""Load test for Fathom: upload over REST, then hear the end over socket.io or by polling.

Two user types, mixed evenly unless picked on the command line (``locust ... SocketUser``):

- ``SocketUser``: ``POST /v1/jobs``, then waits on its socket.io connection (one per user, namespace
  ``/jobs``, websocket transport) for ``job.completed`` / ``job.failed``. Submit → completed is
  reported as request type ``WS``, name ``job.completed``.
- ``PollingUser``: ``POST /v1/jobs``, then ``GET /v1/jobs/:id`` until a terminal state (reported as
  ``POLL`` ``job.completed``), then downloads the result.

Settings (environment):
  FATHOM_MODEL            model to ask for (default ppocr-v4-det)
  FATHOM_IMAGES           a directory or a glob of images to upload (default: a small PNG made here)
  FATHOM_OPTIONS          task options as JSON, sent as the ``options`` field (default: none)
  FATHOM_JOB_TIMEOUT_S    submit → end limit; a job still running then is a failure (default 60)
  FATHOM_HTTP_TIMEOUT_S   per HTTP request (default 30)
  FATHOM_POLL_INTERVAL_S  PollingUser's pause between status requests (default 0.1)
  FATHOM_WAIT_S           a user's pause between jobs (default 0: each user keeps one job in flight)
  FATHOM_API_KEY          an API key with jobs:write and jobs:read, for an API with API_AUTH=keys (default: none sent)
The host comes from ``--host``.
"""

import glob
import json
import os
import random
import struct
import time
import zlib

import gevent
from gevent.event import AsyncResult
import socketio
from locust import HttpUser, constant, task
from locust.exception import StopUser

MODEL = os.environ.get("FATHOM_MODEL", "ppocr-v4-det")
OPTIONS = os.environ.get("FATHOM_OPTIONS")
JOB_TIMEOUT_S = float(os.environ.get("FATHOM_JOB_TIMEOUT_S", "60"))
HTTP_TIMEOUT_S = float(os.environ.get("FATHOM_HTTP_TIMEOUT_S", "30"))
POLL_INTERVAL_S = float(os.environ.get("FATHOM_POLL_INTERVAL_S", "0.1"))
WAIT_S = float(os.environ.get("FATHOM_WAIT_S", "0"))
API_KEY = os.environ.get("FATHOM_API_KEY") or None
JOBS_NAMESPACE = "/jobs"
TERMINAL_STATES = ("completed", "failed", "cancelled")

if OPTIONS is not None:
    json.loads(OPTIONS)  # a typo should stop the run here, not fail every request


def generated_png(width=160, height=120):
    """An RGB gradient PNG built with zlib and struct only, so the locustfile needs no imaging package."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 128)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def load_images():
    spec = os.environ.get("FATHOM_IMAGES")
    if not spec:
        return [("generated.png", generated_png())]
    paths = sorted(glob.glob(os.path.join(spec, "*"))) if os.path.isdir(spec) else sorted(glob.glob(spec))
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        raise SystemExit(f"FATHOM_IMAGES={spec!r} matches no files")
    images = []
    for path in paths:
        with open(path, "rb") as f:
            images.append((os.path.basename(path), f.read()))
    return images


IMAGES = load_images()


def fail(response):
    """Reports a non-success response by its status and Fathom's error code (e.g. ``503 queue_full``)."""
    if response.status_code == 0:
        return  # no response at all: Locust already reports the connection error
    try:
        code = response.json()["error"]["code"]
    except Exception:
        code = "(not a Fathom error body)"
    response.failure(f"{response.status_code} {code}")


class FathomUser(HttpUser):
    abstract = True
    wait_time = constant(WAIT_S)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if API_KEY is not None:
            # On the session, so every request (submit, poll, result) sends it.
            self.client.headers["Authorization"] = f"Bearer {API_KEY}"

    def fire(self, request_type, name, started, exception=None, length=0):
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def submit(self):
        """POST /v1/jobs; the job's id, or None after reporting the failure (503 queue_full included)."""
        filename, image = random.choice(IMAGES)
        data = {"model": MODEL}
        if OPTIONS is not None:
            data["options"] = OPTIONS
        with self.client.post(
            "/v1/jobs",
            data=data,
            files={"image": (filename, image, "application/octet-stream")},
            name="POST /v1/jobs",
            timeout=HTTP_TIMEOUT_S,
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                fail(response)
                return None
            return response.json()["id"]


class SocketUser(FathomUser):
    """REST submit, then the end of the job over socket.io."""

    def on_start(self):
        self.waiting = {}  # job id → AsyncResult set by the event handlers
        self.sio = socketio.Client(reconnection=True)
        for event, outcome in (("job.completed", "completed"), ("job.failed", "failed"), ("job.cancelled", "cancelled")):
            self.sio.on(event, self.handler(outcome), namespace=JOBS_NAMESPACE)
        started = time.perf_counter()
        try:
            self.sio.connect(
                self.host,
                namespaces=[JOBS_NAMESPACE],
                transports=["websocket"],
                wait_timeout=HTTP_TIMEOUT_S,
                auth={"token": API_KEY} if API_KEY is not None else None,
            )
        except Exception as e:
            self.fire("WS", "connect", started, exception=e)
            raise StopUser()
        self.fire("WS", "connect", started)

    def on_stop(self):
        try:
            self.sio.disconnect()
        except Exception:
            pass

    def handler(self, outcome):
        def on_event(payload):
            waiter = self.waiting.get(payload.get("jobId"))
            if waiter is not None and not waiter.ready():
                waiter.set((outcome, payload))

        return on_event

    @task
    def submit_and_listen(self):
        started = time.perf_counter()
        job_id = self.submit()
        if job_id is None:
            return
        # Registered before subscribing: a job that already ended is reported right after the subscribe.
        waiter = self.waiting[job_id] = AsyncResult()
        try:
            reply = self.sio.call("subscribe", {"jobId": job_id}, namespace=JOBS_NAMESPACE, timeout=HTTP_TIMEOUT_S)
            if not reply or not reply.get("ok"):
                code = (reply or {}).get("error", {}).get("code", "no_ack")
                self.fire("WS", "job.completed", started, exception=Exception(f"subscribe refused: {code}"))
                return
            try:
                outcome, payload = waiter.get(timeout=max(0.0, JOB_TIMEOUT_S - (time.perf_counter() - started)))
            except gevent.Timeout:
                self.fire("WS", "job.completed", started, exception=Exception(f"no job end within {JOB_TIMEOUT_S:g} s"))
                return
            if outcome == "completed":
                self.fire("WS", "job.completed", started, length=len(json.dumps(payload)))
            else:
                code = payload.get("error", {}).get("code", outcome)
                self.fire("WS", "job.completed", started, exception=Exception(f"job {outcome}: {code}"))
        except socketio.exceptions.SocketIOError as e:
            self.fire("WS", "job.completed", started, exception=e)
        finally:
            self.waiting.pop(job_id, None)
            if self.sio.connected:
                self.sio.emit("unsubscribe", {"jobId": job_id}, namespace=JOBS_NAMESPACE)


class PollingUser(FathomUser):
    """REST submit, then GET the status until the job ends, then download the result."""

    @task
    def submit_and_poll(self):
        started = time.perf_counter()
        job_id = self.submit()
        if job_id is None:
            return
        status = None
        while True:
            with self.client.get(f"/v1/jobs/{job_id}", name="GET /v1/jobs/:id", timeout=HTTP_TIMEOUT_S, catch_response=True) as response:
                if response.status_code != 200:
                    fail(response)
                else:
                    status = response.json()
            if status is not None and status.get("state") in TERMINAL_STATES:
                break
            if time.perf_counter() - started > JOB_TIMEOUT_S:
                state = status.get("state") if status else "unknown"
                self.fire("POLL", "job.completed", started, exception=Exception(f"still {state} after {JOB_TIMEOUT_S:g} s"))
                return
            gevent.sleep(POLL_INTERVAL_S)
        if status["state"] != "completed":
            code = (status.get("error") or {}).get("code", status["state"])
            self.fire("POLL", "job.completed", started, exception=Exception(f"job {status['state']}: {code}"))
            return
        self.fire("POLL", "job.completed", started)
        with self.client.get(f"/v1/jobs/{job_id}/result", name="GET /v1/jobs/:id/result", timeout=HTTP_TIMEOUT_S, catch_response=True) as response:
            if response.status_code != 200:
                fail(response)
            elif not response.content:
                response.failure("empty result")

