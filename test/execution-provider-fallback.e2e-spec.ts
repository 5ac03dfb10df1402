import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { JobAccepted, JobStatus } from '@fathom/contracts';
import { depthModelsDir, FathomStack, submit } from './support/fathom-stack';

/** Where onnxruntime-node keeps its native providers; the CUDA one is there only after a cuda12 install. */
const ortBin = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
const gpuInstall = existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));
if (gpuInstall) console.log(`skipped: onnxruntime-node here has its CUDA provider (${ortBin}), so asking for it does not fall back`);
const describeOnCpuInstall = gpuInstall ? describe.skip : describe;

describeOnCpuInstall('a worker asked for TensorRT and CUDA on a host without them (a CPU install)', () => {
  let stack: FathomStack;
  let fallback: Record<string, unknown>;
  let metricsUrl: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    const worker = await stack.startWorker({
      MODELS_DIR: depthModelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
      ORT_EXECUTION_PROVIDERS: 'tensorrt,cuda,cpu',
    });
    metricsUrl = await FathomStack.metricsUrl(worker);
    fallback = JSON.parse(await worker.waitForLine(/"msg":"execution provider fell back"/, 1_000)) as Record<string, unknown>;
  }, 60_000);
  afterAll(() => stack.stop());

  it('serves on the CPU and says, at start, which providers it passed over and why', () => {
    expect(fallback).toMatchObject({ level: 'warn', model: 'depth-test@1.0.0', requested: 'tensorrt', executionProvider: 'cpu' });
    expect(fallback.reason).toMatch(/^tensorrt: .+; cuda: .+/);
  });

  it('shows the fallback in its metrics', async () => {
    const exposition = await (await fetch(metricsUrl)).text();
    expect(exposition).toMatch(
      /^fathom_model_execution_provider\{model="depth-test",version="1\.0\.0",variant="",provider="cpu",requested="tensorrt"\} 1$/m,
    );
    expect(exposition).toMatch(
      /^fathom_execution_provider_fallbacks_total\{model="depth-test",version="1\.0\.0",requested="tensorrt"\} 1$/m,
    );
  });

  it('completes jobs, each status naming the provider it ran on', async () => {
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer();
    const job = (await (await submit(stack.api, { image, model: 'depth-test' })).json()) as JobAccepted;
    const status: JobStatus = await stack.jobEnd(job.id);
    expect(status).toMatchObject({ state: 'completed', executionProvider: 'cpu' });
  });
});
