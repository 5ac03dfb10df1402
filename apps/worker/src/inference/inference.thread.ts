/**
 * An inference thread: `session.run` blocks the thread it runs on for the whole inference, so it
 * must not be the worker's main thread, where BullMQ renews locks and heartbeats are sent.
 *
 * This file only wires the parts to the message port: the session registry (one session per
 * model, created once, warmed up), the pipeline (a job's pixel work) and the batch scheduler. Jobs
 * are pipelined: each is decoded and preprocessed as soon as it arrives (sharp works on libuv's
 * threads, so the next images are decoded while a session.run holds this thread), then waits for
 * its batch; one batch runs at a time, and its results are post-processed and encoded while the
 * next batch runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { BatchScheduler } from './batch.scheduler';
import { InferencePipeline, type PreparedJob } from './inference.pipeline';
import { OnnxSessionRegistry } from './onnx-session.registry';
import type { PoolMessage, ThreadData, ThreadMessage } from './thread-protocol';

const init = workerData as ThreadData;
const port = parentPort!;
const post = (message: ThreadMessage) => port.postMessage(message);
// Images are seen once: libvips' operation cache would only hold memory.
sharp.cache(false);
sharp.concurrency(init.sharpThreads);

const retired = new Int32Array(init.retired);
/**
 * Leaves once the pool has retired this thread (a stage outlasted its limit). Called only from
 * JavaScript with no session.run on the stack: a thread stopped inside onnxruntime's native run
 * takes the whole process down with it (ADR 0009).
 */
const leaveIfRetired = (): void => {
  if (Atomics.load(retired, 0) === 1) process.exit(0);
};

OnnxSessionRegistry.load(init.models, init).then(
  (sessions) => {
    const pipeline = new InferencePipeline(sessions, { maxPixels: init.maxPixels, png: init.png }, post);
    const scheduler = new BatchScheduler<PreparedJob>(async (jobs) => {
      leaveIfRetired();
      await pipeline.runBatch(jobs);
      leaveIfRetired();
    });
    // Loads and unloads one at a time, in the order sent; jobs keep running meanwhile.
    let control = Promise.resolve();
    const controlled = (work: () => Promise<void>): void => void (control = control.then(work));
    port.on('message', (message: PoolMessage) => {
      switch (message.type) {
        case 'retire':
          process.exit(0);
          break;
        case 'load':
          controlled(() =>
            sessions.add(message.spec).then(
              (model) => post({ type: 'loaded', requestId: message.requestId, model }),
              (error: Error) => post({ type: 'load-failed', requestId: message.requestId, message: firstLine(error) }),
            ),
          );
          break;
        case 'unload':
          controlled(() =>
            sessions.remove(message.key).then(
              () => post({ type: 'unloaded', requestId: message.requestId }),
              // A session that fails to release is gone from the registry all the same.
              () => post({ type: 'unloaded', requestId: message.requestId }),
            ),
          );
          break;
        default:
          void pipeline.prepare(message).then((job) => job && scheduler.add(job.batchKey, job.loaded.batching, job));
      }
    });
    post({ type: 'ready', models: sessions.loaded });
  },
  (error: Error) => post({ type: 'init-failed', message: firstLine(error) }),
);

function firstLine(error: Error): string {
  return error.message.split('\n')[0] ?? error.message;
}
