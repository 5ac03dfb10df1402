/**
 * Sizes libuv's thread pool, which runs sharp's decodes and encodes for every inference thread,
 * before anything uses it (it is created on first use, once per process): 2 per inference thread,
 * at least libuv's default of 4. An explicit UV_THREADPOOL_SIZE wins. Imported first by main.ts;
 * WORKER_INFERENCE_THREADS is read raw here and validated with the rest of the config later.
 */
const inferenceThreads = Number.parseInt(process.env.WORKER_INFERENCE_THREADS ?? '', 10);
if (!process.env.UV_THREADPOOL_SIZE && inferenceThreads > 2) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, 2 * inferenceThreads));
}
