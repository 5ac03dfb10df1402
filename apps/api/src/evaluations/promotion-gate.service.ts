import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ErrorCode,
  FathomError,
  metricOf,
  promotionGateSchema,
  type ComparisonView,
  type MetricComparison,
  type PromotionGate,
} from '@fathom/contracts';
import { PromotionGateStore } from '@fathom/database';
import { RolloutStore } from '@fathom/queue';
import { gateDecision } from '@fathom/evaluation';
import { activeTraceId } from '@fathom/telemetry';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { DatasetsService } from '../datasets/datasets.service';
import { ServedModelsService } from '../models/catalog/served-models.service';
import { EvaluationsService } from './evaluations.service';

/** A gate and where it was set: over the admin API (wins) or in the canary's manifest. */
export interface GateInForce {
  gate: PromotionGate;
  source: 'admin' | 'manifest';
}

/** What a passed gate found, for the rollout's log. */
export interface GatePassed {
  gate: GateInForce;
  comparison: ComparisonView;
  metric: MetricComparison;
}

const POLL_MS = 500;

/**
 * The promotion gate (issue 14): before a canary becomes stable, it is compared with stable on the
 * gate's dataset (each one's latest completed run of that dataset version reused, a missing one
 * run), and refused — 409 promotion_refused with the figures — when it is worse on the gate's
 * metric by more than the margin. The point estimate decides; the bootstrap interval is shown.
 */
@Injectable()
export class PromotionGateService {
  private readonly logger = new Logger(PromotionGateService.name);

  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(PromotionGateStore) private readonly gates: PromotionGateStore,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(DatasetsService) private readonly datasets: DatasetsService,
    @Inject(EvaluationsService) private readonly evaluations: EvaluationsService,
    @Inject(RolloutStore) private readonly rollouts: RolloutStore,
  ) {}

  /** The gate in force for `name`, judged by the candidate version's manifest when no admin gate is set. */
  async inForce(name: string, candidateVersion?: string): Promise<GateInForce | null> {
    const admin = await this.gates.get(name);
    if (admin) return { gate: admin, source: 'admin' };
    if (candidateVersion === undefined) return null;
    const { declared } = await this.models.declarations(name);
    const manifest = declared.find((m) => m.version === candidateVersion && !m.variant)?.evaluation?.gate;
    return manifest ? { gate: manifest, source: 'manifest' } : null;
  }

  /** The model's canary version now, if it has one. */
  async canaryOf(name: string): Promise<string | undefined> {
    return (await this.rollouts.get(name))?.aliases.canary;
  }

  /** Sets (or replaces) the model's gate; the dataset and the metric must fit the model's task. */
  async set(name: string, body: unknown, actor: string): Promise<PromotionGate> {
    const gate = promotionGateSchema.parse(body ?? {});
    const { declared } = await this.models.declarations(name);
    const task = declared[0]!.task;
    if (!metricOf(task, gate.metric)) {
      throw new FathomError(ErrorCode.InvalidRequest, `${gate.metric} is not a ${task} metric: use one of the task's metrics.`, {
        field: 'metric',
      });
    }
    const dataset = await this.datasets.ensure(gate.dataset);
    if (dataset.task !== task) {
      throw new FathomError(ErrorCode.InvalidRequest, `${gate.dataset} is a ${dataset.task} dataset; ${name} is a ${task} model.`, {
        field: 'dataset',
      });
    }
    await this.gates.set(name, gate, { actor, traceId: activeTraceId() ?? null });
    return gate;
  }

  async remove(name: string, actor: string): Promise<void> {
    await this.gates.delete(name, { actor, traceId: activeTraceId() ?? null });
  }

  /**
   * Compares `canary` with `stable` under the model's gate, waiting up to API_GATE_WAIT_MS for the
   * runs. null when no gate is in force; the figures when it passes; throws promotion_refused when
   * the canary is worse beyond the margin or the runs are still going.
   */
  async check(name: string, stable: string, canary: string, keyId: string): Promise<GatePassed | null> {
    const inForce = await this.inForce(name, canary);
    if (!inForce) return null;
    const { gate } = inForce;
    const body = { dataset: gate.dataset, a: `${name}@${stable}`, b: `${name}@${canary}`, resamples: 2_000 };
    const deadline = Date.now() + this.config.API_GATE_WAIT_MS;
    for (;;) {
      // Promotion is an admin's (models:admin): its comparison may reuse any key's runs.
      const outcome = await this.evaluations.compare(body, { keyId, scopes: ['models:admin'] });
      if (outcome.ready) return this.judge(name, inForce, outcome.comparison);
      if (Date.now() >= deadline) {
        throw new FathomError(
          ErrorCode.PromotionPending,
          `The promotion gate of ${name} is still evaluating ${stable} and ${canary} on ${gate.dataset}: promote again when the evaluations complete.`,
          {
            state: 'evaluating',
            gate,
            evaluations: outcome.evaluations.map((e) => ({ id: e.id, model: e.model.reference, state: e.state, progress: e.progress })),
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  private judge(name: string, inForce: GateInForce, comparison: ComparisonView): GatePassed {
    const { gate } = inForce;
    const metric = comparison.metrics.find((m) => m.metric === gate.metric);
    if (!metric) throw new FathomError(ErrorCode.Internal, `The comparison has no ${gate.metric}.`);
    const decision = gateDecision(metric, gate.margin);
    const figures = {
      gate,
      source: inForce.source,
      comparison: { ...metric, pairs: comparison.pairs, evaluations: { a: comparison.a, b: comparison.b } },
    };
    if (comparison.b.failed > comparison.a.failed) {
      // Judged on the samples both scored, a canary that fails more of them would look no worse.
      throw new FathomError(
        ErrorCode.PromotionRefused,
        `${comparison.b.model} failed ${comparison.b.failed} samples of ${comparison.dataset.name}@${comparison.dataset.version} that stable ${comparison.a.model} ` +
          `failed ${comparison.a.failed} of: see /v1/evaluations/${comparison.b.evaluation}/samples for why. Fix the canary, or promote with ?force=true and {"reason": "…"}.`,
        figures,
      );
    }
    if (!decision.passed) {
      this.logger.warn({ msg: 'promotion refused by its gate', model: name, ...figures });
      throw new FathomError(
        ErrorCode.PromotionRefused,
        `${comparison.b.model} is worse than stable ${comparison.a.model} on ${gate.metric} over ${comparison.dataset.name}@${comparison.dataset.version}: ` +
          `${fmt(metric.a)} → ${fmt(metric.b)} (${metric.better} is better; Δ ${fmt(metric.delta)}, 95 % CI [${fmt(metric.ci95[0])}, ${fmt(metric.ci95[1])}], ${comparison.pairs} samples), ` +
          `beyond the margin ${fmt(gate.margin)}. Improve the canary, change the gate (PUT /v1/admin/models/${name}/gate), or promote with ?force=true and {"reason": "…"}.`,
        figures,
      );
    }
    return { gate: inForce, comparison, metric };
  }
}

function fmt(value: number): string {
  return Number.isFinite(value) ? Number(value.toPrecision(4)).toString() : String(value);
}
