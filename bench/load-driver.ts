import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { JOBS_NAMESPACE, type JobAccepted, type JobCompletedEvent, type JobStatus } from '@fathom/contracts';
import type { ApiInstance, JobsSocket } from '../test/support/fathom-stack';
import type { BenchImage } from './bench-images';

export interface InferSample {
  jobId: string;
  /** From sending the form to the last byte of the primary artifact. */
  wallMs: number;
}

export interface DriveResult {
  samples: InferSample[];
  seconds: number;
}

/**
 * How a client gets its answer: `infer` waits on POST /v1/infer; `socket` submits with POST
 * /v1/jobs, subscribes on socket.io, waits for job.completed and downloads the primary artifact.
 */
export type DriverRoute = 'infer' | 'socket';

export const ROUTE_DESCRIPTION: Record<DriverRoute, string> = {
  infer: 'POST /v1/infer (waits for the artifact)',
  socket: 'POST /v1/jobs, socket.io subscribe → job.completed, GET the primary artifact',
};

/** One client: one socket.io connection (for `socket`), one job at a time. */
export interface LoadClient {
  run(image: BenchImage): Promise<InferSample>;
  close(): void;
}

/**
 * The driver's HTTP: node:http on kept-alive connections, each form encoded once. The driver shares
 * the cores with what it measures, and fetch with a FormData per request cost it about a third more
 * CPU per job; the bytes on the wire are the same multipart form.
 */
export class HttpClient {
  private readonly agent = new Agent({ keepAlive: true });
  private readonly forms = new Map<string, { body: Buffer; contentType: string }>();

  constructor(private readonly api: ApiInstance) {}

  /** POST the multipart form curl -F model=… -F image=@… would send; `headers` adds to it (an Idempotency-Key). */
  upload(path: string, model: string, image: BenchImage, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const key = `${model}\n${image.name}`;
    let form = this.forms.get(key);
    if (!form) {
      const boundary = `----fathom-bench-${randomUUID()}`;
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${model}\r\n--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${image.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
      form = {
        body: Buffer.concat([Buffer.from(head), image.bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
        contentType: `multipart/form-data; boundary=${boundary}`,
      };
      this.forms.set(key, form);
    }
    return this.send('POST', path, { ...headers, 'content-type': form.contentType, 'content-length': String(form.body.length) }, form.body);
  }

  get(path: string): Promise<HttpAnswer> {
    return this.send('GET', path, {});
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.api.url}${path}`, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One client request through the synchronous route: submit, wait, read the primary artifact. */
async function inferOnce(http: HttpClient, model: string, image: BenchImage): Promise<InferSample> {
  const started = performance.now();
  const response = await http.upload('/v1/infer', model, image);
  const wallMs = performance.now() - started;
  if (response.status !== 200) throw new Error(`POST /v1/infer answered ${response.status} for ${image.name}`);
  return { jobId: String(response.headers['x-fathom-job-id'] ?? ''), wallMs };
}

const TERMINAL_TIMEOUT_MS = 60_000;

/** A user of the asynchronous route, with its own socket.io connection to the API's /jobs namespace. */
class SocketClient implements LoadClient {
  private readonly waiting = new Map<string, { resolve: (event: JobCompletedEvent) => void; reject: (error: Error) => void }>();

  private readonly http: HttpClient;

  private constructor(
    api: ApiInstance,
    private readonly model: string,
    private readonly socket: JobsSocket,
  ) {
    this.http = new HttpClient(api);
    socket.on('job.completed', (event) => this.waiting.get(event.jobId)?.resolve(event));
    socket.on('job.failed', (event) =>
      this.waiting.get(event.jobId)?.reject(new Error(`job ${event.jobId} failed: ${event.error.code} ${event.error.message}`)),
    );
    socket.on(
      'job.error',
      (event) =>
        event.jobId && this.waiting.get(event.jobId)?.reject(new Error(`job ${event.jobId}: ${event.error.code} ${event.error.message}`)),
    );
  }

  static connect(api: ApiInstance, model: string): Promise<SocketClient> {
    const socket: JobsSocket = io(`${api.url}${JOBS_NAMESPACE}`, { transports: ['websocket'], forceNew: true });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new SocketClient(api, model, socket)));
      socket.once('connect_error', reject);
    });
  }

  async run(image: BenchImage): Promise<InferSample> {
    const started = performance.now();
    const response = await this.http.upload('/v1/jobs', this.model, image);
    if (response.status !== 202)
      throw new Error(`POST /v1/jobs answered ${response.status} for ${image.name}: ${response.body.toString()}`);
    const { id } = JSON.parse(response.body.toString()) as JobAccepted;
    // Listening before subscribing: the gateway sends the end at once if the job already finished.
    const ended = new Promise<JobCompletedEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no job.completed for ${id} within ${TERMINAL_TIMEOUT_MS} ms`)), TERMINAL_TIMEOUT_MS);
      const settle = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
      };
      this.waiting.set(id, {
        resolve: (event) => (settle(), resolve(event)),
        reject: (error) => (settle(), reject(error)),
      });
    });
    this.socket.emit('subscribe', { jobId: id });
    const { result } = await ended;
    const primary = result.artifacts.find((a) => a.name === result.primary);
    if (!primary) throw new Error(`job ${id} completed without its primary artifact ${result.primary}`);
    const artifact = await this.http.get(primary.url);
    const wallMs = performance.now() - started;
    if (artifact.status !== 200) throw new Error(`GET ${primary.url} answered ${artifact.status}`);
    return { jobId: id, wallMs };
  }

  close(): void {
    this.socket.disconnect();
    this.http.close();
  }
}

class InferClient implements LoadClient {
  private readonly http: HttpClient;

  constructor(
    api: ApiInstance,
    private readonly model: string,
  ) {
    this.http = new HttpClient(api);
  }

  run(image: BenchImage): Promise<InferSample> {
    return inferOnce(this.http, this.model, image);
  }

  close(): void {
    this.http.close();
  }
}

export async function connectClients(api: ApiInstance, model: string, route: DriverRoute, clients: number): Promise<LoadClient[]> {
  if (route === 'infer') return Array.from({ length: clients }, () => new InferClient(api, model));
  return Promise.all(Array.from({ length: clients }, () => SocketClient.connect(api, model)));
}

/**
 * `clients` closed-loop clients, each sending its next request as soon as the last one answered,
 * until `jobs` requests are done; images are taken in turn so every image is sent equally often
 * when `jobs` is a multiple of the set. Connections are made before the clock starts.
 */
export async function drive(
  api: ApiInstance,
  model: string,
  images: BenchImage[],
  jobs: number,
  clients: number,
  route: DriverRoute,
): Promise<DriveResult> {
  const connected = await connectClients(api, model, route, clients);
  try {
    return await driveClients(connected, images, jobs);
  } finally {
    for (const client of connected) client.close();
  }
}

export async function driveClients(clients: LoadClient[], images: BenchImage[], jobs: number): Promise<DriveResult> {
  const samples: InferSample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < jobs) {
        const image = images[next++ % images.length]!;
        samples.push(await client.run(image));
      }
    }),
  );
  return { samples, seconds: (performance.now() - started) / 1000 };
}

export async function jobStatus(api: ApiInstance, jobId: string): Promise<JobStatus> {
  const response = await fetch(`${api.url}/v1/jobs/${jobId}`);
  if (response.status !== 200) throw new Error(`GET /v1/jobs/${jobId} answered ${response.status}`);
  return (await response.json()) as JobStatus;
}
