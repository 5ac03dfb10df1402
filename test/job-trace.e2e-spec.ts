import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { EvaluationView, JobAccepted, JobStatus, SampleResult } from '@fathom/contracts';
import { uploadDataset, writeFlatDepthDataset } from './support/datasets';
import { depthModelsDir, FathomStack, nextEvent, submit, subscribe } from './support/fathom-stack';
import { attribute, OtlpReceiver, SPAN_KIND, type ReceivedSpan } from './support/otlp-receiver';

/**
 * One trace per job, across processes: the API's upload span → the enqueue (producer) → the
 * worker's consumer span → its stage spans → the socket.io push back in the API. Both processes
 * export to a real OTLP/HTTP receiver this test runs (JSON, so it can read them).
 */
describe('one trace per job, from the upload to the WebSocket push', () => {
  let stack: FathomStack;
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    receiver = new OtlpReceiver();
    await receiver.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' };
    stack = await FathomStack.start();
    await stack.startApi(otel);
    await stack.startWorker({ ...otel, MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
  });
  afterAll(async () => {
    await stack.stop();
    await receiver.stop();
  });

  it('links the API and worker spans of one job into one tree', async () => {
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    const socket = await stack.connect();
    const response = await submit(stack.api, { image, model: 'depth-test', filename: 'photo.png' });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobAccepted;
    const traceId = response.headers.get('x-trace-id')!;
    const completed = nextEvent(socket, 'job.completed', (e) => e.jobId === id);
    await subscribe(socket, id);
    await completed;
    const status = (await (await fetch(`${stack.api.url}/v1/jobs/${id}`)).json()) as JobStatus;
    expect(status.traceId).toBe(traceId);

    const inTrace = (name: string | RegExp) =>
      receiver.span((s) => s.traceId === traceId && (typeof name === 'string' ? s.name === name : name.test(s.name)), String(name));
    const upload = await inTrace('POST /v1/jobs');
    const producer = await inTrace(/^add infer\.\{depth-test@1\.0\.0\}/);
    const consumer = await inTrace(/^process infer\.\{depth-test@1\.0\.0\}/);
    expect(upload).toMatchObject({ service: 'fathom-api', kind: SPAN_KIND.SERVER });
    expect(producer).toMatchObject({ service: 'fathom-api', parentSpanId: upload.spanId, kind: SPAN_KIND.PRODUCER });
    expect(consumer).toMatchObject({ service: 'fathom-worker', parentSpanId: producer.spanId, kind: SPAN_KIND.CONSUMER });
    // The key that submitted the job (API_AUTH=none here: the local principal) names the request and the job.
    expect([attribute(upload, 'fathom.key.id'), attribute(consumer, 'fathom.key.id')]).toEqual(['local', 'local']);

    const stages: ReceivedSpan[] = [];
    for (const stage of ['fetch', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'store']) stages.push(await inTrace(stage));
    for (const stage of stages) expect(stage).toMatchObject({ service: 'fathom-worker', parentSpanId: consumer.spanId });
    const inference = stages.find((s) => s.name === 'inference')!;
    expect({
      model: attribute(inference, 'fathom.model'),
      version: attribute(inference, 'fathom.model.version'),
      batch: attribute(inference, 'fathom.batch.size'),
      provider: attribute(inference, 'fathom.execution_provider'),
      width: attribute(inference, 'fathom.input.width'),
      height: attribute(inference, 'fathom.input.height'),
      bytes: attribute(inference, 'fathom.input.bytes'),
    }).toEqual({ model: 'depth-test', version: '1.0.0', batch: 1, provider: 'cpu', width: 64, height: 48, bytes: image.length });

    const push = await inTrace('socket.io emit job.completed');
    expect(push).toMatchObject({ service: 'fathom-api' });
    expect(new Set(receiver.spans.filter((s) => s.traceId === traceId).map((s) => s.service))).toEqual(
      new Set(['fathom-api', 'fathom-worker']),
    );

    // …and the worker's log lines about the job carry the same trace id.
    const jobLines = stack.workers[0]!.output()
      .split('\n')
      .filter((line) => line.includes(`"jobId":"${id}"`));
    expect(jobLines.length).toBeGreaterThan(0);
    for (const line of jobLines) expect(line).toContain(`"traceId":"${traceId}"`);
  });
  it('an evaluation run is one trace: the run, each sample queued under it, and the worker running each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-trace-eval-'));
    await writeFlatDepthDataset(dir, { name: 'flat-trace', samples: 3 });
    await uploadDataset(stack.api, dir);
    const started = await fetch(`${stack.api.url}/v1/evaluations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataset: 'flat-trace', model: 'depth-test' }),
    });
    const { id, links } = (await started.json()) as EvaluationView;
    for (;;) {
      const view = (await (await fetch(`${stack.api.url}${links.self}`)).json()) as EvaluationView;
      if (view.state === 'completed') break;
      expect(['queued', 'running']).toContain(view.state);
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await receiver.span((s) => s.name === 'evaluation' && attribute(s, 'fathom.evaluation.id') === id, 'evaluation');
    const lines = (await (await fetch(`${stack.api.url}${links.samples}`)).text()).trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const { jobId, sample } = JSON.parse(line) as SampleResult;
      const queued = await receiver.span(
        (s) => s.name === 'evaluation sample' && attribute(s, 'fathom.evaluation.sample') === sample,
        `evaluation sample ${sample}`,
      );
      expect(queued).toMatchObject({ traceId: run.traceId, parentSpanId: run.spanId, service: 'fathom-api' });
      const producer = await receiver.span((s) => s.parentSpanId === queued.spanId && s.name.startsWith('add infer.'), `add for ${sample}`);
      const consumer = await receiver.span((s) => s.parentSpanId === producer.spanId, `process for ${sample}`);
      expect(consumer).toMatchObject({ traceId: run.traceId, service: 'fathom-worker', kind: SPAN_KIND.CONSUMER });
      // The job's status names the run's trace, as a user job's names its own.
      const status = (await (await fetch(`${stack.api.url}/v1/jobs/${jobId}`)).json()) as JobStatus;
      expect(status.traceId).toBe(run.traceId);
    }
  });
});
