import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { inferenceQueueName, type JobAccepted, type JobStatus } from '@fathom/contracts';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';
import { attribute, OtlpReceiver, SPAN_KIND } from './support/otlp-receiver';

const MODEL = 'depth-test';
const QUEUE = inferenceQueueName(MODEL, '1.0.0');

describe('API traces: the upload’s server span, the enqueue as its child, the WebSocket push in the job’s trace', () => {
  let stack: FathomStack;
  let receiver: OtlpReceiver;
  let image: Buffer;

  beforeAll(async () => {
    receiver = new OtlpReceiver();
    await receiver.start();
    stack = await FathomStack.start();
    await stack.startApi({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    image = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 10, g: 200, b: 90 } } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.stop();
  });

  it('exports one trace per job from the API, whose id is in the status and the X-Trace-Id header', async () => {
    const socket = await stack.connect();
    // Paused, so the socket subscribes before a worker can finish the job and the relay delivers job.completed.
    const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection: redis, prefix: 'fathom' });
    await queue.pause();
    const response = await submit(stack.api, { image, model: MODEL });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobAccepted;
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === id);
    await subscribe(socket, id);
    await queue.resume();
    await completed;
    await queue.close();
    redis.disconnect();

    const traceId = response.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const statusResponse = await fetch(`${stack.api.url}/v1/jobs/${id}`);
    expect(statusResponse.headers.get('x-trace-id')).toBe(traceId);
    expect(((await statusResponse.json()) as JobStatus).traceId).toBe(traceId);

    const server = await receiver.span((s) => s.traceId === traceId && s.kind === SPAN_KIND.SERVER, 'server span of the upload');
    expect(server).toMatchObject({ name: 'POST /v1/jobs', service: 'fathom-api' });
    expect(attribute(server, 'http.route')).toBe('/v1/jobs');
    expect(attribute(server, 'fathom.job.id')).toBe(id);
    expect(attribute(server, 'fathom.key.id')).toBe('local');

    const producer = await receiver.span(
      (s) => s.kind === SPAN_KIND.PRODUCER && attribute(s, 'bullmq.job.id') === id,
      'BullMQ producer span',
    );
    expect(producer).toMatchObject({ traceId, parentSpanId: server.spanId, name: `add ${QUEUE}.infer` });
    expect(attribute(producer, 'bullmq.queue.name')).toBe(QUEUE);

    for (const stage of ['read upload', 'inspect image', 'store input']) {
      expect(await receiver.span((s) => s.traceId === traceId && s.name === stage, stage)).toMatchObject({ parentSpanId: server.spanId });
    }

    // The push continues the job's trace from the context BullMQ stored with the job.
    const push = await receiver.span(
      (s) => s.name === 'socket.io emit job.completed' && attribute(s, 'fathom.job.id') === id,
      'WebSocket push',
    );
    expect(push).toMatchObject({ traceId, parentSpanId: producer.spanId, kind: SPAN_KIND.PRODUCER });
    expect(attribute(push, 'messaging.system')).toBe('socket.io');
    expect(attribute(push, 'fathom.ws.listeners')).toBe(1);
    expect(attribute(push, 'fathom.ws.delivered')).toBe(1);

    // A poll is its own trace, named by its route, never by the job id in its URL.
    const poll = await receiver.span((s) => s.kind === SPAN_KIND.SERVER && s.name.startsWith('GET /v1/jobs'), 'server span of the poll');
    expect(poll.name).toBe('GET /v1/jobs/:id');
    expect(poll.traceId).not.toBe(traceId);
  });

  it('leaves probes and scrapes out of the traces, and gives any traced response its trace id', async () => {
    const models = await fetch(`${stack.api.url}/v1/models`);
    const traceId = models.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(await receiver.span((s) => s.traceId === traceId, 'GET /v1/models')).toMatchObject({
      name: 'GET /v1/models',
      kind: SPAN_KIND.SERVER,
    });
    expect((await fetch(stack.api.metricsUrl)).headers.get('x-trace-id')).toBeNull();
    expect((await fetch(`${stack.api.url}/healthz`)).headers.get('x-trace-id')).toBeNull();
    expect(receiver.spans.filter((s) => /metrics|healthz/.test(s.name))).toEqual([]);
  });
});
