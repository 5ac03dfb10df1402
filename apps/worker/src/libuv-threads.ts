/**
 * Sizes libuv's thread pool, which runs sharp's decodes and encodes for every inference thread,
 * before anything uses it (it is created on first use, once per process): 2 per inference thread,
 * at least libuv's default of 4. An explicit UV_THREADPOOL_SIZE wins. Imported first by main.ts;
 * a bad value is left for main.ts's loadWorkerConfig to report with the rest of the config.
 */
import { libuvEnv, libuvThreadPoolSize } from './config/libuv.env';

const parsed = libuvEnv.safeParse(process.env);
const size = parsed.success ? libuvThreadPoolSize(parsed.data) : undefined;
// libuv reads the variable itself when it creates the pool: writing it is how the size is set.
if (size !== undefined) process.env.UV_THREADPOOL_SIZE = String(size);
