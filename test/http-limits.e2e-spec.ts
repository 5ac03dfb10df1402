import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { errorBodySchema, type ErrorBody, type JobAccepted } from '@fathom/contracts';
import { buildSlowDepthModel } from '@fathom/testing';
import { depthModelsDir, FathomStack, submit, type ApiInstance } from './support/fathom-stack';

const REQUEST_TIMEOUT_MS = 2000;
const HEADERS_TIMEOUT_MS = 1000;
const SHUTDOWN_GRACE_MS = 1500;
const MAX_UPLOAD_BYTES = 20_000;

/** The body of an error answer, checked against the documented shape. */
async function errorOf(response: Response): Promise<ErrorBody['error']> {
  return errorBodySchema.parse(await response.json()).error;
}

/** A raw multipart body, so a test can send what FormData would not (repeated fields, several files). */
function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>): { body: Buffer; type: string } {
  const boundary = 'fathom-test-boundary';
  const chunks = parts.flatMap(({ name, value, filename }) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n` +
        (filename ? 'Content-Type: application/octet-stream\r\n' : '') +
        '\r\n',
    ),
    Buffer.from(value),
    Buffer.from('\r\n'),
  ]);
  return { body: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

function postForm(api: ApiInstance, parts: Parameters<typeof multipart>[0]): Promise<Response> {
  const { body, type } = multipart(parts);
  return fetch(`${api.url}/v1/jobs`, { method: 'POST', body: new Uint8Array(body), headers: { 'Content-Type': type } });
}

/** A raw connection to the API; `closed` resolves with what the server sent and when it closed. */
function rawConnection(api: ApiInstance): Promise<{ socket: Socket; openedAt: number; closed: Promise<{ at: number; received: string }> }> {
  const { hostname, port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const closed = new Promise<{ at: number; received: string }>((done) => socket.once('close', () => done({ at: Date.now(), received })));
    socket.once('error', () => undefined);
    socket.once('connect', () => resolve({ socket, openedAt: Date.now(), closed }));
    socket.once('error', reject);
  });
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Starts an upload whose body then trickles in at one byte a second (a slow-body client). It asks
 * for `100 Continue`, so `inFlight` resolves once the server has the request.
 */
async function slowUpload(api: ApiInstance) {
  const connection = await rawConnection(api);
  connection.socket.write(
    'POST /v1/jobs HTTP/1.1\r\nHost: fathom\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
      'Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n--b',
  );
  const trickle = setInterval(() => connection.socket.writable && connection.socket.write('x'), 1000);
  void connection.closed.then(() => clearInterval(trickle));
  const inFlight = new Promise<void>((resolve) => connection.socket.once('data', () => resolve()));
  return { ...connection, inFlight };
}

/** The final answer in what a raw connection received (after any `100 Continue`): its status line and JSON body. */
function rawAnswer(received: string): { statusLine: string; body: unknown } {
  const answer = received.startsWith(CONTINUE) ? received.slice(CONTINUE.length) : received;
  return { statusLine: answer.slice(0, answer.indexOf('\r\n')), body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) };
}

/**
 * A request whose body the server refuses from its Content-Length alone: the headers are sent and
 * the body withheld, so the answer cannot race a body write into a closed connection (fetch then
 * reports EPIPE and drops the answer).
 */
function answeredBeforeBodyEnd(url: string, method: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('HTTP limits: slow clients are cut off, every limit answers with its own code in the documented shape', () => {
  let stack: FathomStack;
  let api: ApiInstance;

  beforeAll(async () => {
    stack = await FathomStack.start();
    api = await stack.startApi({
      API_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      API_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      API_MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    });
  });
  afterAll(() => stack.stop());

  it('cuts off 20 clients sending a body at 1 byte/s once the request timeout has passed (408 request_timeout)', async () => {
    const connections = await Promise.all(Array.from({ length: 20 }, () => slowUpload(api)));
    for (const { openedAt, closed } of connections) {
      const { at, received } = await closed;
      // Not before the configured timeout, and within twice it (Node checks for expired requests every tenth of it).
      expect(at - openedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS * 0.95);
      expect(at - openedAt).toBeLessThan(REQUEST_TIMEOUT_MS * 2);
      const answer = rawAnswer(received);
      expect(answer.statusLine).toMatch(/^HTTP\/1\.1 408 /);
      const { error } = errorBodySchema.parse(answer.body);
      expect(error.code).toBe('request_timeout');
      expect(error.message).toContain(`${REQUEST_TIMEOUT_MS} ms`);
    }
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it('cuts off a client sending its headers at 1 byte/s within twice the headers timeout', async () => {
    const { socket, openedAt, closed } = await rawConnection(api);
    const header = 'GET /healthz HTTP/1.1\r\nHost: fathom\r\nX-Slow: ';
    let sent = 0;
    const trickle = setInterval(() => socket.writable && socket.write(header[sent++ % header.length]!), 200);
    const { at, received } = await closed;
    clearInterval(trickle);
    expect(at - openedAt).toBeLessThan(HEADERS_TIMEOUT_MS * 2);
    const answer = rawAnswer(received);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorBodySchema.parse(answer.body).error.code).toBe('request_timeout');
  });

  it('refuses more fields than the form takes with 400 too_many_fields, naming the limit', async () => {
    const image = { name: 'image', value: Buffer.from('not read'), filename: 'a.png' };
    const response = await postForm(api, [...Array.from({ length: 1000 }, () => ({ name: 'model', value: 'depth' })), image]);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('too_many_fields');
    expect(error.message).toContain('more than 5 fields');
  });

  it('refuses a second file with 400 too_many_files, naming the limit', async () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ name: 'image', value: Buffer.from('x'), filename: `${i}.png` }));
    const response = await postForm(api, [{ name: 'model', value: 'depth' }, ...files]);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('too_many_files');
    expect(error.message).toContain('more than 1 file');
  });

  it('refuses a 100 KB options field with 413 options_too_large naming the limit, never cutting it', async () => {
    const options = JSON.stringify({ note: 'x'.repeat(100_000) });
    const response = await submit(api, { image: Buffer.from('x'), model: 'depth', options });
    expect(response.status).toBe(413);
    const error = await errorOf(response);
    expect(error.code).toBe('options_too_large');
    expect(error.message).toContain('65536 bytes');
  });

  it('refuses an image over API_MAX_UPLOAD_BYTES with 413 image_too_large naming the limit', async () => {
    const response = await submit(api, { image: Buffer.alloc(MAX_UPLOAD_BYTES + 1), model: 'depth' });
    expect(response.status).toBe(413);
    const error = await errorOf(response);
    expect(error.code).toBe('image_too_large');
    expect(error.message).toContain(`${MAX_UPLOAD_BYTES} bytes`);
  });

  it('answers an id over 100 characters with 400 invalid_job_id, not a 414 in Fastify’s format', async () => {
    for (const init of [{}, { method: 'DELETE' }]) {
      const response = await fetch(`${api.url}/v1/jobs/${'a'.repeat(150)}`, init);
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error.code).toBe('invalid_job_id');
      expect(error.message).toContain('100 characters');
    }
  });

  it('answers Fastify’s own refusals (no route, bad URL, bad or large JSON, large headers) in the documented shape', async () => {
    const notFound = await fetch(`${api.url}/v2/nothing`);
    expect([notFound.status, (await errorOf(notFound)).code]).toEqual([404, 'route_not_found']);

    const badUrl = await fetch(`${api.url}/v1/jobs/%E0%A4%A`);
    expect([badUrl.status, (await errorOf(badUrl)).code]).toEqual([400, 'invalid_request']);

    const weights = `${api.url}/v1/admin/models/depth/weights`;
    const json = { 'Content-Type': 'application/json' };
    const badJson = await fetch(weights, { method: 'PUT', body: '{', headers: json });
    expect([badJson.status, (await errorOf(badJson)).code]).toEqual([400, 'invalid_request']);

    const bigJson = await answeredBeforeBodyEnd(weights, 'PUT', json, JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }));
    expect(bigJson.status).toBe(413);
    const big = errorBodySchema.parse(JSON.parse(bigJson.body)).error;
    expect(big.code).toBe('body_too_large');
    expect(big.message).toContain('1048576 bytes');

    const { socket, closed } = await rawConnection(api);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: fathom\r\nX-Pad: ${'x'.repeat(20 * 1024)}\r\n\r\n`);
    const { received } = await closed;
    const answer = rawAnswer(received);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 431 /);
    expect(errorBodySchema.parse(answer.body).error).toMatchObject({
      code: 'headers_too_large',
      message: expect.stringContaining('16384 bytes'),
    });
  });
});

describe('API shutdown: a SIGTERM is not held up by its clients', () => {
  let stack: FathomStack;

  beforeAll(async () => {
    stack = await FathomStack.start();
  });
  afterAll(() => stack.stop());

  const startApi = () => stack.startApi({ API_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS) });

  it('exits at once with an idle keep-alive client connected', async () => {
    const api = await startApi();
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      get(`${api.url}/healthz`, { agent }, (r) => r.resume().on('end', resolve)).on('error', reject),
    );
    const signalledAt = Date.now();
    api.process.kill('SIGTERM');
    expect(await api.process.waitForExit(SHUTDOWN_GRACE_MS * 3)).toEqual({ code: 0, signal: null });
    // Idle connections are not waited for: well inside the grace.
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS);
    agent.destroy();
  });

  it('gives an upload in flight the grace period, then closes its connection and exits 0', async () => {
    const api = await startApi();
    const upload = await slowUpload(api);
    await upload.inFlight;
    const signalledAt = Date.now();
    api.process.kill('SIGTERM');
    expect(await api.process.waitForExit(SHUTDOWN_GRACE_MS * 3)).toEqual({ code: 0, signal: null });
    const { at } = await upload.closed;
    expect(at - signalledAt).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_MS * 0.95);
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS * 3);
  });

  it('answers a request arriving on a busy connection during the shutdown 503 service_unavailable, in the documented shape', async () => {
    const api = await startApi();
    const { socket, closed } = await rawConnection(api);
    const form = '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\ndepth\r\n--b--\r\n';
    socket.write(
      'POST /v1/jobs HTTP/1.1\r\nHost: fathom\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
        `Content-Length: ${form.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await new Promise((resolve) => socket.once('data', resolve)); // 100 Continue: the request is in flight
    api.process.kill('SIGTERM');
    await api.process.waitForLine(/"msg":"SIGTERM: closing"/, SHUTDOWN_GRACE_MS);
    // The upload ends (refused: no image), and the client sends its next request on the same connection.
    socket.write(`${form}GET /v1/models HTTP/1.1\r\nHost: fathom\r\n\r\n`);
    const { received } = await closed;
    const second = received.slice(received.lastIndexOf('HTTP/1.1 '));
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second.toLowerCase()).toContain('connection: close');
    expect(second.toLowerCase()).toContain('retry-after: 1');
    expect(errorBodySchema.parse(rawAnswer(second).body).error.code).toBe('service_unavailable');
    expect(await api.process.waitForExit(SHUTDOWN_GRACE_MS * 3)).toEqual({ code: 0, signal: null });
  });
});

describe('admission: a refused upload writes nothing to Redis', () => {
  /** The slow stand-in takes a square input of its side; a noise image of that side is ~800 KB of PNG. */
  const SIDE = 518;
  let stack: FathomStack;
  let api: ApiInstance;

  beforeAll(async () => {
    stack = await FathomStack.start();
    api = await stack.startApi({ API_MAX_QUEUE_DEPTH: '1', API_RETRY_AFTER_SECONDS: '9' });
    // Several seconds a job on one slot: a second job waits long enough for the test to find the queue full.
    const modelsDir = depthModelsDir(buildSlowDepthModel({ side: SIDE, matmulLayers: 3000 }), 'slow-depth');
    await stack.startWorker({ MODELS_DIR: modelsDir, WORKER_BUILTIN_MODELS: 'false', WORKER_CONCURRENCY: '1' });
  });
  afterAll(() => stack.stop());

  it('answers 503 queue_full with Retry-After, and neither Redis nor the object store gets the image, nor Redis a key', async () => {
    const image = await sharp(randomBytes(SIDE * SIDE * 3), { raw: { width: SIDE, height: SIDE, channels: 3 } })
      .png()
      .toBuffer();
    const running = (await (await submit(api, { image, model: 'slow-depth' })).json()) as JobAccepted;
    await stack.jobStarted(running.id);
    expect((await submit(api, { image, model: 'slow-depth' })).status).toBe(202); // waiting: the queue is now at its depth

    const redis = new Redis(stack.redis.url);
    const inputBytes = async () => Number(/total_net_input_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
    // The rate limiter's per-second counters come and go with every request and window: not the job's.
    const jobKeys = async () => (await redis.keys('*')).filter((key) => !key.includes(':rate-limit:')).sort();
    // Everything the API process wrote (files, sockets, pipes): the store's write would be the image.
    const apiWrote = () => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${api.process.child.pid}/io`, 'utf8'))![1]);
    const keysBefore = await jobKeys();
    const inputBefore = await inputBytes();
    const writtenBefore = apiWrote();
    const refused = await submit(api, { image, model: 'slow-depth' });
    const writtenAfter = apiWrote();
    const inputAfter = await inputBytes();
    const keysAfter = await jobKeys();
    redis.disconnect();

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('9');
    expect((await errorOf(refused)).code).toBe('queue_full');
    // The other clients (worker heartbeats, lock renewals, this test's reads) send a few KB meanwhile; the image is ~800 KB.
    expect(image.length).toBeGreaterThan(500_000);
    expect(inputAfter - inputBefore).toBeLessThan(image.length / 10);
    expect(writtenAfter - writtenBefore).toBeLessThan(image.length / 10);
    expect(keysAfter).toEqual(keysBefore);

    // A refusal is not an error: one short line, no stack.
    const line = await api.process.waitForLine(/"statusCode":503/, 5_000);
    expect(line).toContain('"msg":"request refused"');
    expect(line).not.toContain('stack');
    expect(line.length).toBeLessThan(400);
  });
});
