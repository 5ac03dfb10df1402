import { Inject, Injectable, Logger } from '@nestjs/common';
import type { DeploymentView, WorkerHeartbeat } from '@fathom/contracts';
import { DeploymentStore, type DeploymentRecord } from '@fathom/database';
import { DeploymentMirror } from '@fathom/queue';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { DeploymentsGateway } from './deployments.gateway';
import { desiredOf, mirrored, viewOf } from './deployment-views';

/**
 * What follows every change of a deployment, wherever it was made (a request, the puller, the
 * reconciler): the Redis mirror workers read, this instance's resolution cache, and the sockets.
 */
@Injectable()
export class DeploymentSync {
  private readonly logger = new Logger(DeploymentSync.name);
  /** The last view sent for each deployment, so a view is emitted once per change. */
  private readonly sent = new Map<string, string>();

  constructor(
    @Inject(DeploymentMirror) private readonly mirror: DeploymentMirror,
    @Inject(DeploymentStore) private readonly store: DeploymentStore,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(DeploymentsGateway) private readonly gateway: DeploymentsGateway,
  ) {}

  /** A deployment changed: mirror it (or drop it from the mirror), and tell the sockets. */
  async changed(record: DeploymentRecord): Promise<DeploymentView> {
    if (mirrored(record)) await this.mirror.put(desiredOf(record));
    // Failed or retired after workers had it: they unload it. (Pending and pulling ones were never mirrored.)
    else if (record.source !== 'local' && (record.state === 'failed' || record.state === 'retired')) await this.mirror.remove(record.id);
    this.models.registered.forget();
    const view = viewOf(record, await this.models.liveWorkers().catch(() => []));
    this.announce(view);
    return view;
  }

  /** Emits a view to the sockets unless it is the one sent last. */
  announce(view: DeploymentView): void {
    const text = JSON.stringify({ ...view, updatedAt: undefined, workers: view.workers.map((w) => ({ ...w, since: undefined })) });
    if (this.sent.get(view.id) === text) return;
    this.sent.set(view.id, text);
    if (view.state === 'retired' || view.state === 'failed') setTimeout(() => this.sent.delete(view.id), 60_000).unref();
    this.gateway.emit(view);
  }

  /** Rewrites the whole mirror from PostgreSQL (start-up: a flushed or stale Redis is repaired). */
  async rebuildMirror(): Promise<number> {
    const rows = await this.store.list({ states: ['warming', 'serving', 'retiring', 'retired'] });
    // Newest first: a retired local tombstone counts only when no newer row holds its name@version.
    const seen = new Set<string>();
    const entries = rows.flatMap((row) => {
      const key = `${row.name}@${row.version}`;
      if (seen.has(key)) return [];
      seen.add(key);
      return mirrored(row) ? [desiredOf(row)] : [];
    });
    await this.mirror.replaceAll(entries);
    this.logger.log({ msg: 'deployments mirrored to Redis', deployments: entries.length });
    return entries.length;
  }

  /** The views of `records` with live workers' reports. */
  views(records: DeploymentRecord[], workers: WorkerHeartbeat[]): DeploymentView[] {
    return records.map((r) => viewOf(r, workers));
  }
}
