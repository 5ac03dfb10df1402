import {
  alwaysOnReplicaSeconds,
  defaultAutoscaler,
  hpaDesiredReplicas,
  scaleLimit,
  simulateScaling,
  stabilize,
  type AutoscalerConfig,
} from './scaling-sim';

describe('the HPA on an AverageValue target, as KEDA sets it up', () => {
  it('asks for ceil(queue length ÷ target per replica)', () => {
    expect(hpaDesiredReplicas(1, 100, 10, 0.1)).toBe(10);
    expect(hpaDesiredReplicas(10, 121, 10, 0.1)).toBe(13);
    expect(hpaDesiredReplicas(3, 0, 10, 0.1)).toBe(0);
  });

  it('leaves the count alone while the metric is within the 10 % tolerance', () => {
    expect(hpaDesiredReplicas(10, 105, 10, 0.1)).toBe(10);
    expect(hpaDesiredReplicas(10, 91, 10, 0.1)).toBe(10);
  });

  it('scales up by the larger of doubling and 4 pods per 15 s, counting what the period already added', () => {
    const rules = defaultAutoscaler(10).scaleUp;
    expect(scaleLimit('up', 1, [], 100, rules)).toBe(5);
    expect(scaleLimit('up', 10, [], 100, rules)).toBe(20);
    // 1 → 5 ten seconds ago: the period started at 1, so 5 is already the limit.
    expect(scaleLimit('up', 5, [{ at: 90, delta: 4 }], 100, rules)).toBe(5);
    // Fifteen seconds on, that change has left the period.
    expect(scaleLimit('up', 5, [{ at: 85, delta: 4 }], 100, rules)).toBe(10);
  });

  it('keeps the highest recommendation of the last 300 s before scaling down', () => {
    const config = defaultAutoscaler(10);
    const history = [
      { at: 0, replicas: 10 },
      { at: 100, replicas: 3 },
    ];
    expect(stabilize(history, 200, 2, 10, config)).toBe(10);
    expect(stabilize(history, 350, 2, 10, config)).toBe(3);
    // Scaling up has no window by default: the new recommendation wins at once.
    expect(stabilize(history, 200, 12, 10, config)).toBe(12);
  });
});

describe('the fleet over a load curve', () => {
  /** Every loop each second, no windows: the answers can be worked out by hand. */
  const fastConfig = (overrides: Partial<AutoscalerConfig> = {}): AutoscalerConfig => ({
    ...defaultAutoscaler(1),
    pollingIntervalSeconds: 1,
    scrapeIntervalSeconds: 1,
    hpaSyncPeriodSeconds: 1,
    cooldownPeriodSeconds: 5,
    hpaTolerance: 0,
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] },
    ...overrides,
  });

  it('wakes from zero at the first KEDA poll after the scrape that saw a job, then waits out the start-up', () => {
    // The first job arrives at 45 s; the scrape at 45 s sees it, KEDA's poll at 60 s activates, and the HPA's
    // sync at the same instant sees 16 jobs (45 s … 60 s) and asks for ceil(16 ÷ 10) = 2; both are ready at 65 s.
    const result = simulateScaling(
      [
        { name: 'idle', seconds: 45, jobsPerSecond: 0 },
        { name: 'burst', seconds: 30, jobsPerSecond: 1 },
      ],
      { jobsPerSecond: 10, startupSeconds: 5 },
      defaultAutoscaler(10),
    );
    expect(result.coldStartSeconds).toBe(20);
    expect(result.phases[1]!.maxSeconds).toBeCloseTo(20, 1);
    expect(result.timeline.find((s) => s.second === 61)).toMatchObject({ replicas: 2, ready: 0 });
    expect(result.timeline.find((s) => s.second === 66)).toMatchObject({ replicas: 2, ready: 2 });
  });

  it('goes back to zero one cooldown after the last poll that saw work, and bills the pod until then', () => {
    // One job a second for 10 s, one pod that serves one a second: active until 9 s, zero at 9 + 5 = 14 s.
    const result = simulateScaling(
      [
        { name: 'busy', seconds: 10, jobsPerSecond: 1 },
        { name: 'idle', seconds: 20, jobsPerSecond: 0 },
      ],
      { jobsPerSecond: 1, startupSeconds: 0 },
      fastConfig(),
      0.25,
    );
    expect(result.secondsToZeroAfterPeak).toBe(4);
    expect(result.replicaSeconds).toBe(14);
    expect(result.idleReplicaSeconds).toBe(4);
    expect(result.phases[0]).toMatchObject({ jobs: 10 });
    expect(result.phases[0]!.p95Seconds).toBeLessThanOrEqual(0.25);
  });

  it('grows 5 → 10 → 20 → 40 → 80 → 100 under the default scale-up policies (KEDA wakes 1, the HPA adds 4), capped by maxReplicaCount', () => {
    const result = simulateScaling(
      [{ name: 'flood', seconds: 120, jobsPerSecond: 200 }],
      { jobsPerSecond: 1, startupSeconds: 0 },
      defaultAutoscaler(1),
      0.25,
    );
    const counts = result.timeline.map((s) => s.replicas).filter((n, i, all) => n !== all[i - 1]);
    expect(counts).toEqual([5, 10, 20, 40, 80, 100]);
    expect(result.peakReplicas).toBe(100);
  });

  it('lets the fleet collapse under steady load when the threshold is above the jobs a pod holds', () => {
    // 10 pods' worth of load. With 5 jobs per pod as the target, a drained queue shows only the 10 in
    // service, the HPA asks for ceil(10 ÷ 5) = 2, and once the down window has passed the fleet falls below the need.
    const phases = [{ name: 'steady', seconds: 300, jobsPerSecond: 10 }];
    const worker = { jobsPerSecond: 1, startupSeconds: 5 };
    const slack = simulateScaling(
      phases,
      worker,
      fastConfig({
        targetValue: 5,
        scaleDown: { stabilizationWindowSeconds: 30, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] },
      }),
      0.25,
    );
    const exact = simulateScaling(
      phases,
      worker,
      fastConfig({
        targetValue: 1,
        scaleDown: { stabilizationWindowSeconds: 30, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] },
      }),
      0.25,
    );
    const afterWarmUp = (result: ReturnType<typeof simulateScaling>) =>
      result.timeline.filter((s) => s.second > 120).map((s) => s.replicas);
    expect(Math.min(...afterWarmUp(slack))).toBeLessThan(10);
    expect(Math.min(...afterWarmUp(exact))).toBeGreaterThanOrEqual(10);
    expect(slack.phases[0]!.p95Seconds).toBeGreaterThan(exact.phases[0]!.p95Seconds);
  });

  it('costs an always-on fleet ceil(peak ÷ per-replica throughput) pods for the whole curve', () => {
    const phases = [
      { name: 'idle', seconds: 60, jobsPerSecond: 0 },
      { name: 'burst', seconds: 60, jobsPerSecond: 100 },
    ];
    expect(alwaysOnReplicaSeconds(phases, { jobsPerSecond: 10, startupSeconds: 3 })).toEqual({ replicas: 10, replicaSeconds: 1200 });
    expect(alwaysOnReplicaSeconds(phases, { jobsPerSecond: 9, startupSeconds: 3 })).toEqual({ replicas: 12, replicaSeconds: 1440 });
  });
});
