/**
 * A discrete-time model of KEDA + the Kubernetes HPA scaling Fathom's workers on queue length, fed
 * a load curve and the per-worker throughput and start-up time the benchmarks measured. Pure
 * functions only: the `scaling` scenario (bench/scaling.scenario.ts) measures the inputs and draws
 * the result.
 *
 * Sources for the rules modelled (read 2026-12-07):
 * - KEDA ScaledObject spec, https://keda.sh/docs/2.15/reference/scaledobject-spec/ : pollingInterval
 *   (default 30 s), cooldownPeriod (default 300 s, only for scaling to zero), minReplicaCount
 *   (default 0), maxReplicaCount (default 100); activation below the activation threshold.
 * - KEDA scaling deployments, https://keda.sh/docs/concepts/scaling-deployments/ : KEDA itself
 *   scales 0 ↔ 1 (activation); from 1 up the HPA it creates scales on the metric KEDA serves.
 * - KEDA Prometheus scaler, https://keda.sh/docs/2.10/scalers/prometheus : `threshold` is the
 *   target value per replica (metricType AverageValue by default), `activationThreshold` the value
 *   above which the scaler is active (default 0).
 * - Kubernetes HPA, https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/ :
 *   desiredReplicas = ceil(currentReplicas × currentMetricValue ÷ desiredMetricValue), which for an
 *   AverageValue target is ceil(metric total ÷ target per replica); no change while the ratio is
 *   within the tolerance (0.1); sync every 15 s (--horizontal-pod-autoscaler-sync-period); default
 *   behaviour: scale up with no stabilization, by the larger of 100 % or 4 pods per 15 s; scale down
 *   to the highest recommendation of the last 300 s, by up to 100 % per 15 s.
 * - autoscaling/v2 HPAScalingRules (the API reference, as embedded in KEDA's ScaledObject CRD):
 *   "For scale up: allow doubling the number of pods, or an absolute change of 4 pods in a 15s
 *   window. For scale down: allow all pods to be removed in a 15s window", selectPolicy Max,
 *   tolerance 10 % cluster-wide. (HorizontalPodAutoscalerBehavior's own description still says
 *   "per 60 seconds": older text; the policies' defaults are 15 s.)
 */

export interface ScalingPolicy {
  type: 'Percent' | 'Pods';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  /** The HPA's default `selectPolicy: Max`: the policy allowing the largest change wins. */
  policies: ScalingPolicy[];
}

export interface AutoscalerConfig {
  /** KEDA: how often the operator checks activation (0 ↔ 1). */
  pollingIntervalSeconds: number;
  /** KEDA: how long the trigger must stay inactive before scaling to zero. */
  cooldownPeriodSeconds: number;
  minReplicaCount: number;
  maxReplicaCount: number;
  /** The trigger's `threshold`: metric per replica (AverageValue). */
  targetValue: number;
  /** The trigger's `activationThreshold`: active when the metric is above it. */
  activationTargetValue: number;
  hpaSyncPeriodSeconds: number;
  hpaTolerance: number;
  /** Prometheus's scrape interval: KEDA and the HPA see the queue as it was at the last scrape. */
  scrapeIntervalSeconds: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** KEDA's and the HPA's defaults, with the trigger's target left to the caller. */
export function defaultAutoscaler(targetValue: number): AutoscalerConfig {
  return {
    pollingIntervalSeconds: 30,
    cooldownPeriodSeconds: 300,
    minReplicaCount: 0,
    maxReplicaCount: 100,
    targetValue,
    activationTargetValue: 0,
    hpaSyncPeriodSeconds: 15,
    hpaTolerance: 0.1,
    scrapeIntervalSeconds: 15,
    scaleUp: {
      stabilizationWindowSeconds: 0,
      policies: [
        { type: 'Percent', value: 100, periodSeconds: 15 },
        { type: 'Pods', value: 4, periodSeconds: 15 },
      ],
    },
    scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  };
}

/**
 * The HPA's replica count for an AverageValue target: ceil(total ÷ target per replica), or the
 * current count while current × target is within the tolerance of the total.
 */
export function hpaDesiredReplicas(currentReplicas: number, metricTotal: number, targetValue: number, tolerance: number): number {
  if (currentReplicas > 0 && Math.abs(metricTotal / (targetValue * currentReplicas) - 1) <= tolerance) return currentReplicas;
  return Math.ceil(metricTotal / targetValue);
}

export interface Recommendation {
  at: number;
  replicas: number;
}

/**
 * The HPA's stabilization: up to the lowest recommendation of the scale-up window, down to the
 * highest of the scale-down window (so a short dip does not remove pods), otherwise unchanged.
 */
export function stabilize(history: Recommendation[], now: number, proposed: number, current: number, config: AutoscalerConfig): number {
  let up = proposed;
  let down = proposed;
  for (const rec of history) {
    if (rec.at > now - config.scaleUp.stabilizationWindowSeconds) up = Math.min(up, rec.replicas);
    if (rec.at > now - config.scaleDown.stabilizationWindowSeconds) down = Math.max(down, rec.replicas);
  }
  if (current < up) return up;
  if (current > down) return down;
  return current;
}

export interface ScaleEvent {
  at: number;
  delta: number;
}

/**
 * The HPA's rate limit: the most (scaling up) or fewest (down) replicas the policies allow now,
 * counted from the replicas at the start of each policy's period (changes inside it subtracted).
 */
export function scaleLimit(direction: 'up' | 'down', current: number, events: ScaleEvent[], now: number, rules: ScalingRules): number {
  const limits = rules.policies.map((policy) => {
    // As the HPA does: an event counts while at + period is after now.
    const changed = events.filter((e) => e.at + policy.periodSeconds > now && (direction === 'up' ? e.delta > 0 : e.delta < 0));
    const periodStart = current - changed.reduce((sum, e) => sum + e.delta, 0);
    if (direction === 'up') return policy.type === 'Pods' ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
    return policy.type === 'Pods' ? periodStart - policy.value : Math.trunc(periodStart * (1 - policy.value / 100));
  });
  return direction === 'up' ? Math.max(...limits) : Math.min(...limits);
}

export interface WorkerModel {
  /** One replica's throughput (jobs/s); each replica serves one job at a time for 1 ÷ this. */
  jobsPerSecond: number;
  /** From the pod being asked for until it takes jobs. */
  startupSeconds: number;
}

export interface LoadPhase {
  name: string;
  seconds: number;
  /** Offered load, arrivals evenly spaced. */
  jobsPerSecond: number;
}

export interface SecondSample {
  second: number;
  offeredPerSecond: number;
  /** Jobs waiting at the end of the second. */
  waiting: number;
  /** Pods asked for (starting + ready): what is paid for. */
  replicas: number;
  ready: number;
}

export interface PhaseWaits {
  name: string;
  jobs: number;
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
}

export interface SimulationResult {
  timeline: SecondSample[];
  phases: PhaseWaits[];
  /** Pods × seconds over the whole curve (starting pods included): the autoscaled fleet's cost. */
  replicaSeconds: number;
  /** Pod-seconds paid during the phases with no load. */
  idleReplicaSeconds: number;
  peakReplicas: number;
  /** The first job's queue wait: from the idle fleet, KEDA's activation plus a pod's start-up. */
  coldStartSeconds: number;
  /** From the end of the (last) busiest phase until no pod is left (NaN when the fleet never reaches zero). */
  secondsToZeroAfterPeak: number;
}

interface Pod {
  readyAt: number;
  freeAt: number;
}

/**
 * Runs the load curve through the autoscaler in steps of `stepSeconds`. Each step: arrivals join a
 * FIFO queue; ready pods take jobs as they come free (queue wait = start − arrival); at their
 * periods Prometheus scrapes the backlog (waiting + in service), KEDA checks activation and the
 * HPA resizes the fleet. New pods become ready after the start-up time; removed pods go starting
 * ones first, as the ReplicaSet controller prefers not-ready pods.
 */
export function simulateScaling(phases: LoadPhase[], worker: WorkerModel, config: AutoscalerConfig, stepSeconds = 0.05): SimulationResult {
  const serviceSeconds = 1 / worker.jobsPerSecond;
  const phaseEnds = phases.reduce<number[]>((ends, p) => [...ends, (ends.at(-1) ?? 0) + p.seconds], []);
  const duration = phaseEnds.at(-1) ?? 0;
  const phaseAt = (t: number) =>
    Math.max(
      0,
      phaseEnds.findIndex((end) => t < end),
    );

  // Arrival times, evenly spaced within each phase.
  const arrivals: number[] = [];
  const arrivalPhase: number[] = [];
  phases.forEach((phase, i) => {
    const start = (phaseEnds[i] ?? 0) - phase.seconds;
    const count = Math.round(phase.seconds * phase.jobsPerSecond);
    for (let k = 0; k < count; k++) {
      arrivals.push(start + k / phase.jobsPerSecond);
      arrivalPhase.push(i);
    }
  });
  const waits: number[][] = phases.map(() => []);

  let pods: Pod[] = Array.from({ length: config.minReplicaCount }, () => ({ readyAt: 0, freeAt: 0 }));
  let next = 0; // next job to start
  let arrived = 0;
  let scrapedBacklog = 0;
  let lastActive = -Infinity;
  const history: Recommendation[] = [];
  const events: ScaleEvent[] = [];
  const timeline: SecondSample[] = [];
  let replicaSeconds = 0;
  let idleReplicaSeconds = 0;
  let peakReplicas = pods.length;
  let zeroAt = NaN;

  const resize = (now: number, target: number, by: 'keda' | 'hpa') => {
    const delta = target - pods.length;
    if (delta === 0) return;
    // The HPA's rate limits count its own changes; KEDA's 0 ↔ 1 is not among them.
    if (by === 'hpa') events.push({ at: now, delta });
    if (delta > 0) for (let k = 0; k < delta; k++) pods.push({ readyAt: now + worker.startupSeconds, freeAt: 0 });
    // Newest (still starting) pods go first.
    else pods = [...pods].sort((a, b) => a.readyAt - b.readyAt).slice(0, target);
    if (target === 0) zeroAt = now;
    else zeroAt = NaN;
  };

  const steps = Math.round(duration / stepSeconds);
  for (let s = 0; s < steps; s++) {
    const now = s * stepSeconds;
    const end = now + stepSeconds;
    while (arrived < arrivals.length && arrivals[arrived]! < end) arrived++;
    // Ready pods take jobs in arrival order, each as soon as it is free and the job is there.
    while (next < arrived) {
      let best: Pod | undefined;
      for (const pod of pods)
        if (pod.readyAt < end && (!best || Math.max(pod.freeAt, pod.readyAt) < Math.max(best.freeAt, best.readyAt))) best = pod;
      if (!best) break;
      const start = Math.max(best.freeAt, best.readyAt, arrivals[next]!);
      if (start >= end) break;
      best.freeAt = start + serviceSeconds;
      waits[arrivalPhase[next]!]!.push(start - arrivals[next]!);
      next++;
    }
    const inService = pods.filter((p) => p.freeAt > end).length;

    if (isTick(now, config.scrapeIntervalSeconds, stepSeconds)) scrapedBacklog = arrived - next + inService;
    // KEDA's loop: activation and scaling to zero.
    if (isTick(now, config.pollingIntervalSeconds, stepSeconds)) {
      const active = scrapedBacklog > config.activationTargetValue;
      if (active) lastActive = now;
      if (active && pods.length === 0) resize(now, Math.max(1, config.minReplicaCount), 'keda');
      else if (!active && pods.length > 0 && config.minReplicaCount === 0 && now - lastActive >= config.cooldownPeriodSeconds) {
        resize(now, 0, 'keda');
        history.length = 0;
        events.length = 0;
      }
    }
    // The HPA's loop, only while KEDA keeps the target above zero.
    if (pods.length > 0 && isTick(now, config.hpaSyncPeriodSeconds, stepSeconds)) {
      const current = pods.length;
      const minReplicas = Math.max(1, config.minReplicaCount);
      const proposed = Math.min(
        config.maxReplicaCount,
        Math.max(minReplicas, hpaDesiredReplicas(current, scrapedBacklog, config.targetValue, config.hpaTolerance)),
      );
      history.push({ at: now, replicas: proposed });
      let target = stabilize(history, now, proposed, current, config);
      if (target > current) target = Math.min(target, scaleLimit('up', current, events, now, config.scaleUp));
      if (target < current) target = Math.max(target, scaleLimit('down', current, events, now, config.scaleDown));
      resize(now, Math.min(config.maxReplicaCount, Math.max(minReplicas, target)), 'hpa');
    }

    replicaSeconds += pods.length * stepSeconds;
    if (phases[phaseAt(now)]!.jobsPerSecond === 0) idleReplicaSeconds += pods.length * stepSeconds;
    peakReplicas = Math.max(peakReplicas, pods.length);
    if (isTick(end, 1, stepSeconds)) {
      timeline.push({
        second: Math.round(end),
        offeredPerSecond: phases[phaseAt(now)]!.jobsPerSecond,
        waiting: arrived - next,
        replicas: pods.length,
        ready: pods.filter((p) => p.readyAt <= end).length,
      });
    }
  }

  // The last of the busiest phases: a burst may be split into several for its waits.
  const busiest = phases.reduce((best, p, i) => (p.jobsPerSecond >= phases[best]!.jobsPerSecond ? i : best), 0);
  return {
    timeline,
    phases: phases.map((phase, i) => summarize(phase.name, waits[i]!)),
    replicaSeconds: Math.round(replicaSeconds),
    idleReplicaSeconds: Math.round(idleReplicaSeconds),
    peakReplicas,
    coldStartSeconds: waits.find((w) => w.length > 0)?.[0] === undefined ? NaN : round(waits.find((w) => w.length > 0)![0]!),
    secondsToZeroAfterPeak: round(zeroAt - phaseEnds[busiest]!),
  };
}

/** Whether `t` falls on a multiple of `period` (within half a step). */
const isTick = (t: number, period: number, step: number): boolean => {
  const r = t % period;
  return r < step / 2 || period - r < step / 2;
};

const round = (value: number): number => Math.round(value * 10) / 10;

function summarize(name: string, waits: number[]): PhaseWaits {
  const sorted = [...waits].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted.length === 0 ? NaN : round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!);
  return { name, jobs: waits.length, p50Seconds: rank(0.5), p95Seconds: rank(0.95), maxSeconds: rank(1) };
}

/** What an always-on fleet sized for the peak costs over the same curve: ceil(peak ÷ per-replica throughput) pods throughout. */
export function alwaysOnReplicaSeconds(phases: LoadPhase[], worker: WorkerModel): { replicas: number; replicaSeconds: number } {
  const replicas = Math.ceil(Math.max(...phases.map((p) => p.jobsPerSecond)) / worker.jobsPerSecond - 1e-9);
  return { replicas, replicaSeconds: replicas * phases.reduce((sum, p) => sum + p.seconds, 0) };
}
