/**
 * What tracing costs in throughput: the same load through a real redis-server, API and worker,
 * with tracing off and with it on (both apps exporting OTLP http/protobuf, the default, to a local
 * sink that accepts and discards). A tiny model at 28×28 makes the per-job work small, so the
 * spans' share is as large as it gets: the worst case, not the typical one.
 *
 *   npm run build && node dist/tools/tracing-overhead.js [jobs=300] [concurrency=8] [rounds=3] [tiny|ppocr-v4-det]
 *
 * `ppocr-v4-det` runs the built-in PP-OCRv4 detector on a 600×400 image instead: a real model's cost.
 *
 * Prints one JSON line per round and mode, then the medians: throughput, and CPU time per job of
 * the API and the worker processes (read from /proc; steadier than throughput on a shared 2-core
 * machine, where the load generator, Redis and both apps compete for the same cores).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, NULL_MODEL_INPUT, submit } from '../test/support/fathom-stack';

async function otlpSink(): Promise<{ url: string; requests: () => number; close: () => void }> {
  let requests = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests += 1;
      response.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, close: () => server.close() };
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

interface RunResult {
  jobsPerSecond: number;
  p50Ms: number;
  apiCpuMsPerJob: number;
  workerCpuMsPerJob: number;
}

async function run(jobs: number, concurrency: number, env: Record<string, string>, model: string): Promise<RunResult> {
  const stack = await FathomStack.start();
  try {
    await stack.startApi({ ...env, ...LOAD_TEST_LIMITS_ENV, API_MAX_QUEUE_DEPTH: '100000' });
    const real = model !== 'tiny';
    await stack.startWorker({
      ...env,
      ...(real
        ? { WORKER_MODELS: model }
        : { MODELS_DIR: depthModelsDir(undefined, 'tiny', NULL_MODEL_INPUT), WORKER_BUILTIN_MODELS: 'false' }),
      WORKER_CONCURRENCY: String(concurrency),
    });
    const [width, height] = real ? [600, 400] : [64, 48];
    const image = await sharp({
      create: { width, height, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
    })
      .png()
      .toBuffer();
    const one = async () => {
      const started = performance.now();
      const response = await submit(stack.api, { image, model }, {}, '/v1/infer');
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`POST /v1/infer answered ${response.status}`);
      return performance.now() - started;
    };
    const drive = async (count: number) => {
      const latencies: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < count) latencies.push(await one());
        }),
      );
      return latencies;
    };
    await drive(Math.min(50, jobs)); // warm-up: sessions, JIT, connections
    const pids = [stack.api.process.child.pid!, stack.workers[0]!.child.pid!];
    const cpuBefore = pids.map(cpuMs);
    const started = performance.now();
    const latencies = (await drive(jobs)).sort((a, b) => a - b);
    const seconds = (performance.now() - started) / 1000;
    const [apiCpu, workerCpu] = pids.map((pid, i) => (cpuMs(pid) - cpuBefore[i]!) / jobs);
    return {
      jobsPerSecond: jobs / seconds,
      p50Ms: latencies[Math.floor(latencies.length / 2)]!,
      apiCpuMsPerJob: apiCpu!,
      workerCpuMsPerJob: workerCpu!,
    };
  } finally {
    await stack.stop();
  }
}

const rounded = (r: RunResult): RunResult => ({
  jobsPerSecond: Math.round(r.jobsPerSecond * 10) / 10,
  p50Ms: Math.round(r.p50Ms * 10) / 10,
  apiCpuMsPerJob: Math.round(r.apiCpuMsPerJob * 100) / 100,
  workerCpuMsPerJob: Math.round(r.workerCpuMsPerJob * 100) / 100,
});

async function main(): Promise<void> {
  const [jobs = 300, concurrency = 8, rounds = 3] = process.argv.slice(2, 5).map(Number);
  const model = process.argv[5] ?? 'tiny';
  const sink = await otlpSink();
  const modes = {
    off: {},
    on: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
  } as Record<string, Record<string, string>>;
  const results: Record<string, RunResult[]> = { off: [], on: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const mode of round % 2 ? ['off', 'on'] : ['on', 'off']) {
      const result = await run(jobs, concurrency, modes[mode]!, model);
      results[mode]!.push(result);
      console.log(JSON.stringify({ round, tracing: mode, model, jobs, concurrency, ...rounded(result) }));
    }
  }
  sink.close();
  const median = (mode: string, key: keyof RunResult) => results[mode]!.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
  const summary = Object.fromEntries(
    ['off', 'on'].map((mode) => [
      mode,
      rounded({
        jobsPerSecond: median(mode, 'jobsPerSecond'),
        p50Ms: median(mode, 'p50Ms'),
        apiCpuMsPerJob: median(mode, 'apiCpuMsPerJob'),
        workerCpuMsPerJob: median(mode, 'workerCpuMsPerJob'),
      }),
    ]),
  );
  const cpu = (mode: string) => median(mode, 'apiCpuMsPerJob') + median(mode, 'workerCpuMsPerJob');
  console.log(
    JSON.stringify({
      median: summary,
      throughputOverheadPercent: Math.round((1 - median('on', 'jobsPerSecond') / median('off', 'jobsPerSecond')) * 1000) / 10,
      cpuPerJobOverheadPercent: Math.round((cpu('on') / cpu('off') - 1) * 1000) / 10,
      addedCpuMsPerJob: Math.round((cpu('on') - cpu('off')) * 100) / 100,
      otlpRequests: sink.requests(),
    }),
  );
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
