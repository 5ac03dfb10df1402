import type { ServedModel } from '@fathom/contracts';
import { specKey, type ModelSpec } from '@fathom/models';
import type { LoadedModel } from '../inference/thread-protocol';
import { consumerConcurrency, servedModel } from '../models/served-model';

/** The parts a model is served by: the pool that holds its sessions, the consumer of its queue, the heartbeat that announces it. */
export interface ServingParts {
  pool: { load(spec: ModelSpec): Promise<LoadedModel>; unload(key: string): Promise<void> };
  consumers: { add(model: ServedModel, concurrency: number): void; remove(queue: string): Promise<void> };
  heartbeat: { readonly models: readonly ServedModel[]; serve(models: ServedModel[]): void };
  config: { WORKER_CONCURRENCY: number; WORKER_INFERENCE_THREADS: number };
}

/**
 * Starts and stops serving models at runtime, in the one order that loses nothing: loaded and
 * warmed up on every thread → queue consumed → announced; withdrawn from the heartbeat (the API
 * stops routing here) → queue consumer closed (jobs in hand finish) → sessions released.
 */
export class ModelServing {
  constructor(private readonly parts: ServingParts) {}

  /**
   * Serves a model version and its variants, all or nothing: when one fails to load, those
   * loaded are unloaded and the error (the thread's exact reason) is thrown.
   */
  async start(specs: readonly ModelSpec[]): Promise<void> {
    const { pool, consumers, heartbeat, config } = this.parts;
    const loaded: Array<{ spec: ModelSpec; model: LoadedModel }> = [];
    try {
      for (const spec of specs) loaded.push({ spec, model: await pool.load(spec) });
    } catch (error) {
      await Promise.all(loaded.map(({ spec }) => pool.unload(specKey(spec))));
      throw error;
    }
    const served = loaded.map(({ spec, model }) => {
      const announced = servedModel(spec, model);
      consumers.add(announced, consumerConcurrency(config, model.maxBatch));
      return announced;
    });
    heartbeat.serve([...heartbeat.models, ...served]);
  }

  /** Stops serving them: what is still queued waits for another worker. */
  async stop(specs: readonly ModelSpec[]): Promise<void> {
    const { pool, consumers, heartbeat } = this.parts;
    const queues = new Set(specs.map((spec) => servedModel(spec, undefined).queue));
    heartbeat.serve(heartbeat.models.filter((m) => !queues.has(m.queue)));
    await Promise.all([...queues].map((queue) => consumers.remove(queue)));
    await Promise.all(specs.map((spec) => pool.unload(specKey(spec))));
  }
}
