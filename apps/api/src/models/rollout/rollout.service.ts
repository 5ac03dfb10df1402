import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_ROLLOUT,
  ErrorCode,
  FathomError,
  type AliasName,
  type KnownModel,
  type RolloutChange,
  type RolloutState,
} from '@fathom/contracts';
import { compareVersions } from '@fathom/models';
import { AuditLogStore } from '@fathom/database';
import { RolloutStore } from '@fathom/queue';
import { activeTraceId } from '@fathom/telemetry';
import { PromotionGateService, type GatePassed } from '../../evaluations/promotion-gate.service';
import { aliasVersion, workersServing } from '../catalog/model-resolver';
import { ServedModelsService } from '../catalog/served-models.service';

/** A model as the admin API shows it: versions, who serves them, aliases, weights and the change log. */
export interface ModelRollout {
  name: string;
  task: string;
  versions: Array<{ version: string; workers: number; variants: string[] }>;
  aliases: { stable: string | null; canary: string | null };
  weights: RolloutState['weights'];
  history: string[];
  log: RolloutChange[];
}

/**
 * Moves a model's aliases and traffic weights: promote the canary, roll back to the previous
 * stable, pin an alias to a version. Every change is effective at once (RolloutStore), logged
 * with the time and the admin key's id, and written to the audit log.
 */
@Injectable()
export class RolloutService {
  private readonly logger = new Logger(RolloutService.name);

  constructor(
    @Inject(RolloutStore) private readonly store: RolloutStore,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(AuditLogStore) private readonly audit: AuditLogStore,
    @Inject(PromotionGateService) private readonly gate: PromotionGateService,
  ) {}

  async describe(name: string): Promise<ModelRollout> {
    const { declared } = await this.model(name);
    const rollout = (await this.store.get(name)) ?? DEFAULT_ROLLOUT;
    const workers = await this.models.liveWorkers();
    const versions = [...new Set(declared.map((m) => m.version))].sort(compareVersions).reverse();
    return {
      name,
      task: declared[0]!.task,
      versions: versions.map((version) => ({
        version,
        workers: workersServing(workers, { name, version }),
        variants: [...new Set(declared.filter((m) => m.version === version && m.variant).map((m) => m.variant!))],
      })),
      aliases: { stable: aliasVersion(rollout, 'stable', declared) ?? null, canary: rollout.aliases.canary ?? null },
      weights: rollout.weights,
      history: rollout.history,
      log: await this.store.log(name),
    };
  }

  async setAlias(name: string, alias: AliasName, version: string, keyId: string, force = false): Promise<RolloutChange> {
    const { declared, served } = await this.model(name);
    if (!declared.some((m) => m.version === version)) {
      throw new FathomError(ErrorCode.ModelNotFound, `${name} has no version "${version}".`, {
        versions: [...new Set(declared.map((m) => m.version))],
      });
    }
    // A canary nobody serves takes no traffic; a stable nobody serves would fail every request.
    if (alias === 'stable' && !force) requireServed(name, version, served);
    return this.change(name, keyId, 'set-alias', (state) => {
      const current = aliasVersion(state, alias, declared);
      if (alias === 'stable' && current !== undefined && current !== version) state.history.push(current);
      state.aliases[alias] = version;
      return state;
    });
  }

  async removeCanary(name: string, keyId: string): Promise<RolloutChange> {
    await this.model(name);
    return this.change(name, keyId, 'remove-alias', (state) => {
      delete state.aliases.canary;
      state.weights = { stable: 100, canary: 0 };
      return state;
    });
  }

  async setWeights(name: string, weights: RolloutState['weights'], keyId: string): Promise<RolloutChange> {
    await this.model(name);
    return this.change(name, keyId, 'set-weights', (state) => {
      if (weights.canary > 0 && state.aliases.canary === undefined) {
        throw new FathomError(ErrorCode.RolloutConflict, `${name} has no canary: point the canary alias at a version first.`);
      }
      state.weights = weights;
      return state;
    });
  }

  /**
   * The canary becomes stable and takes all traffic; the old stable is remembered for rollback.
   * Under a promotion gate (issue 14) the canary is first compared with stable on the gate's
   * dataset and refused (409 promotion_refused, with the figures) when it is worse beyond the
   * margin; `force` skips the gate and needs a `reason`, which the change log and audit keep.
   */
  async promote(name: string, keyId: string, force = false, reason?: string): Promise<RolloutChange> {
    const { declared, served } = await this.model(name);
    const before = (await this.store.get(name)) ?? DEFAULT_ROLLOUT;
    const checkedCanary = before.aliases.canary;
    const checkedStable = aliasVersion(before, 'stable', declared);
    let passed: GatePassed | null = null;
    if (force) {
      if ((await this.gate.inForce(name, checkedCanary)) && !reason?.trim()) {
        throw new FathomError(
          ErrorCode.MissingField,
          `${name} has a promotion gate: forcing past it needs a reason for the change log, e.g. {"reason": "gate dataset out of date; checked by hand"}.`,
          { field: 'reason' },
        );
      }
    } else if (checkedCanary !== undefined && checkedStable !== undefined && checkedStable !== checkedCanary) {
      passed = await this.gate.check(name, checkedStable, checkedCanary, keyId);
    }
    const extra = { ...(reason?.trim() ? { reason: reason.trim() } : {}), ...(passed ? { gate: gateFigures(passed) } : {}) };
    return this.change(
      name,
      keyId,
      'promote',
      (state) => {
        const canary = state.aliases.canary;
        if (canary === undefined) throw new FathomError(ErrorCode.RolloutConflict, `${name} has no canary to promote.`);
        if (!force && canary !== checkedCanary)
          throw new FathomError(
            ErrorCode.RolloutConflict,
            `${name}'s canary moved to ${canary} while its gate was checked: promote again.`,
          );
        if (!force) requireServed(name, canary, served);
        const stable = aliasVersion(state, 'stable', declared);
        if (stable !== undefined && stable !== canary) state.history.push(stable);
        state.aliases = { stable: canary };
        state.weights = { stable: 100, canary: 0 };
        return state;
      },
      extra,
    );
  }

  /** Stable goes back to the version it was before, with all traffic; any canary is dropped. */
  async rollback(name: string, keyId: string, force = false): Promise<RolloutChange> {
    const { served } = await this.model(name);
    return this.change(name, keyId, 'rollback', (state) => {
      const previous = state.history.pop();
      if (previous === undefined)
        throw new FathomError(ErrorCode.RolloutConflict, `${name} has no earlier stable version to roll back to.`);
      if (!force) requireServed(name, previous, served);
      state.aliases = { stable: previous };
      state.weights = { stable: 100, canary: 0 };
      return state;
    });
  }

  private async change(
    name: string,
    keyId: string,
    action: RolloutChange['action'],
    apply: (state: RolloutState) => RolloutState,
    extra: Pick<RolloutChange, 'reason' | 'gate'> = {},
  ): Promise<RolloutChange> {
    const change = await this.store.update(name, keyId, action, apply, extra);
    // The admin key's id comes with the request's logger (authentication hook), as on all its lines.
    this.logger.log({
      msg: 'rollout changed',
      model: name,
      action,
      at: change.at,
      aliases: change.after.aliases,
      weights: change.after.weights,
    });
    // The change is already in effect: a database outage must not answer it as failed (a client
    // retrying a promote would promote again), so a lost audit entry is logged as an error instead.
    await this.audit
      .record({
        actor: keyId,
        action: `rollout.${action}`,
        targetType: 'model',
        targetId: name,
        details: {
          before: { aliases: change.before.aliases, weights: change.before.weights },
          after: { aliases: change.after.aliases, weights: change.after.weights },
          ...extra,
        },
        traceId: activeTraceId() ?? null,
      })
      .catch((error: Error) =>
        this.logger.error({ msg: 'rollout changed, but its audit entry could not be written', model: name, action, error: error.message }),
      );
    return change;
  }

  private model(name: string): Promise<{ declared: KnownModel[]; served: KnownModel[] }> {
    return this.models.declarations(name);
  }
}

function requireServed(name: string, version: string, served: KnownModel[]): void {
  if (!served.some((m) => m.version === version && !m.variant)) {
    throw new FathomError(
      ErrorCode.RolloutConflict,
      `No worker serves ${name}@${version}: making it stable would fail every unpinned request. Start a worker for it, or add ?force=true.`,
    );
  }
}

/** A passed gate as the change log keeps it. */
function gateFigures({ gate, comparison, metric }: GatePassed): NonNullable<RolloutChange['gate']> {
  return {
    dataset: `${comparison.dataset.name}@${comparison.dataset.version}`,
    metric: metric.metric,
    margin: gate.gate.margin,
    stable: metric.a,
    canary: metric.b,
    ci95: metric.ci95,
    pairs: comparison.pairs,
    evaluations: [comparison.a.evaluation, comparison.b.evaluation],
  };
}
