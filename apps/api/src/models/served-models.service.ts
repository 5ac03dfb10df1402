import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FathomError, taskOptionsSchemas, type ModelListing, type ServedModel, type WorkerHeartbeat } from '@fathom/contracts';
import { WorkerRegistry } from '@fathom/queue';
import { z } from 'zod';

/** Heartbeats are read at most this often per API instance. */
const CACHE_MS = 500;

/**
 * What live workers serve, from their heartbeats. A model no live worker serves cannot be
 * submitted to: the client gets an error at once instead of a job that waits forever.
 */
@Injectable()
export class ServedModelsService {
  private cache: { at: number; workers: Promise<WorkerHeartbeat[]> } | null = null;

  constructor(@Inject(WorkerRegistry) private readonly registry: WorkerRegistry) {}

  async liveWorkers(): Promise<WorkerHeartbeat[]> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > CACHE_MS) {
      const workers = this.registry.liveWorkers(now);
      this.cache = { at: now, workers };
      workers.catch(() => (this.cache = null));
    }
    return this.cache.workers;
  }

  async listings(): Promise<ModelListing[]> {
    const byKey = new Map<string, { model: ServedModel; workers: number; providers: Set<ServedModel['executionProvider']> }>();
    for (const worker of await this.liveWorkers()) {
      for (const model of worker.models) {
        const key = `${model.name}@${model.version}`;
        const entry = byKey.get(key) ?? { model, workers: 0, providers: new Set() };
        entry.workers += 1;
        entry.providers.add(model.executionProvider);
        byKey.set(key, entry);
      }
    }
    return [...byKey.values()]
      .sort((a, b) => a.model.name.localeCompare(b.model.name) || compareVersions(b.model.version, a.model.version))
      .map(({ model, workers, providers }) => ({
        name: model.name,
        version: model.version,
        task: model.task,
        workers,
        executionProviders: [...providers],
        options: z.toJSONSchema(taskOptionsSchemas[model.task], { io: 'input' }),
      }));
  }

  /** `name` resolves to the newest served version; `name@version` pins one. */
  async resolve(reference: string): Promise<ServedModel> {
    const [name, version] = reference.split('@', 2) as [string, string | undefined];
    const candidates = (await this.liveWorkers()).flatMap((w) => w.models).filter((m) => m.name === name);
    const match = version === undefined ? candidates.sort((a, b) => compareVersions(b.version, a.version))[0] : candidates.find((m) => m.version === version);
    if (match) return match;
    const served = [...new Set((await this.liveWorkers()).flatMap((w) => w.models.map((m) => `${m.name}@${m.version}`)))].sort();
    throw new FathomError(
      ErrorCode.ModelNotFound,
      candidates.length > 0
        ? `Model "${name}" is served, but not version "${version}".`
        : `No worker serves a model named "${name}". See GET /v1/models.`,
      { served },
    );
  }
}

/** Numeric-aware version order: 1.10.0 > 1.9.0. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
