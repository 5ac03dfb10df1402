import { DATABASE_ENGINES, migratedDatabasePerTest } from '@fathom/testing';
import { ErrorCode, FathomError } from '@fathom/contracts';
import type { Database } from '../database';
import { AuditLogStore } from '../keys/audit-log.store';
import { DatasetStore, type NewDataset } from './dataset.store';
import { EvaluationStore } from './evaluation.store';
import { PromotionGateStore } from './promotion-gate.store';

const admin = { actor: 'key-admin', traceId: 'trace-1', address: '10.0.0.7' };

const lines = (version: string): NewDataset => ({
  name: 'text-lines',
  version,
  task: 'text-detection',
  description: 'rendered lines',
  licence: 'CC0-1.0',
  samples: 3,
  bytes: 12_345,
  source: 'upload',
  storePrefix: `fathom/dataset/text-lines-${version}/`,
  sha256: 'a'.repeat(64),
  manifest: { samples: [{ id: 's0' }, { id: 's1' }, { id: 's2' }] },
});

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
    return { code: 'no error', message: '' };
  } catch (error) {
    return error instanceof FathomError ? { code: error.code, message: error.message } : { code: String(error), message: '' };
  }
}

const score = (absRel: number) => ({ metrics: { absRel }, stats: { n: 1, absRel }, timings: { total: 12 }, executionProvider: 'cpu' });

describe.each(DATABASE_ENGINES)('datasets, evaluation runs and promotion gates, on %s', (_engine, createDatabaseForTest) => {
  let db: Database;
  let datasets: DatasetStore;
  let evaluations: EvaluationStore;
  let gates: PromotionGateStore;

  const each = migratedDatabasePerTest(createDatabaseForTest);
  beforeEach(() => {
    db = each.db;
    datasets = new DatasetStore(db);
    evaluations = new EvaluationStore(db);
    gates = new PromotionGateStore(db);
  });

  const runOf = (datasetId: string, version = '1.0.0', variant: string | null = null) =>
    evaluations.create({
      datasetId,
      modelReference: `depth@${version}`,
      modelName: 'depth',
      modelVersion: version,
      variant,
      samples: ['s0', 's1', 's2'],
      createdBy: 'key-user',
    });

  it('registers a dataset name@version once: the same again is 409 dataset_exists, asking for a new version', async () => {
    const first = await datasets.create(lines('1.0.0'), admin);
    expect(first).toMatchObject({
      name: 'text-lines',
      version: '1.0.0',
      task: 'text-detection',
      bytes: 12_345,
      samples: 3,
      createdBy: 'key-admin',
    });
    expect(await datasets.get(first.id)).toEqual(first);

    const again = await failureOf(datasets.create(lines('1.0.0'), admin));
    expect(again.code).toBe(ErrorCode.DatasetExists);
    expect(again.message).toMatch(/text-lines@1\.0\.0 is registered already.*bump "version"/);

    const audit = await new AuditLogStore(db).list(10);
    expect(audit.map((e) => [e.action, e.targetId, e.actor])).toEqual([['dataset.registered', 'text-lines@1.0.0', 'key-admin']]);
    expect((await failureOf(datasets.get('nope'))).code).toBe(ErrorCode.DatasetNotFound);
  });

  it('finds a dataset by name@version, or its latest version by name alone', async () => {
    await datasets.create(lines('1.0.0'), admin);
    const second = await datasets.create(lines('2.0.0'), admin);
    // Created last, listed as the latest even though "1.5.0" sorts between the others.
    const third = await datasets.create(lines('1.5.0'), admin);

    expect((await datasets.find('text-lines'))?.id).toBe(third.id);
    expect((await datasets.find('text-lines', '2.0.0'))?.id).toBe(second.id);
    expect(await datasets.find('text-lines', '9.9.9')).toBeUndefined();
    expect(await datasets.find('other')).toBeUndefined();
    expect((await datasets.list()).map((d) => d.version)).toEqual(['1.5.0', '2.0.0', '1.0.0']);
  });

  it('counts a sample scored or failed once, however often the end is reported', async () => {
    const dataset = await datasets.create(lines('1.0.0'), admin);
    const run = await runOf(dataset.id);
    expect(run).toMatchObject({ state: 'queued', total: 3, done: 0, failed: 0, cancelRequested: false, startedAt: null });
    expect(await evaluations.pendingSamples(run.id)).toEqual([
      { index: 0, sample: 's0', jobId: null, state: 'pending' },
      { index: 1, sample: 's1', jobId: null, state: 'pending' },
      { index: 2, sample: 's2', jobId: null, state: 'pending' },
    ]);

    expect(await evaluations.setJob(run.id, 0, 'job-0')).toBe(true);
    expect(await evaluations.setJob(run.id, 1, 'job-1')).toBe(true);
    expect((await evaluations.scored(run.id, 0, score(0.1)))?.done).toBe(1);
    // Two instances see the same job end: one counts it.
    const twice = await Promise.all([evaluations.scored(run.id, 0, score(0.2)), evaluations.scored(run.id, 0, score(0.3))]);
    expect(twice).toEqual([undefined, undefined]);
    expect((await evaluations.failedSample(run.id, 1, 'decode failed'))?.failed).toBe(1);
    expect(await evaluations.failedSample(run.id, 1, 'again')).toBeUndefined();
    expect(await evaluations.scored(run.id, 1, score(0.5))).toBeUndefined();
    // An ended sample keeps its job id.
    expect(await evaluations.setJob(run.id, 0, 'job-0b')).toBe(false);

    expect(await evaluations.get(run.id)).toMatchObject({ done: 1, failed: 1, total: 3 });
    expect(await evaluations.pendingSamples(run.id)).toEqual([{ index: 2, sample: 's2', jobId: null, state: 'pending' }]);
    const samples = await evaluations.samples(run.id);
    expect(samples.map((s) => [s.index, s.state, s.jobId, s.metrics, s.error])).toEqual([
      [0, 'scored', 'job-0', { absRel: 0.1 }, null],
      [1, 'failed', 'job-1', null, 'decode failed'],
      [2, 'pending', null, null, null],
    ]);
    expect(samples[0]).toMatchObject({ stats: { n: 1, absRel: 0.1 }, timings: { total: 12 }, executionProvider: 'cpu' });
    expect(samples[0]?.finishedAt).not.toBeNull();
  });

  it('hands out unfinished runs to pick up, keeps a resumed run in its first trace, and ends a run once', async () => {
    const dataset = await datasets.create(lines('1.0.0'), admin);
    const a = await runOf(dataset.id);
    const b = await runOf(dataset.id, '2.0.0');
    const c = await runOf(dataset.id, '3.0.0');
    expect(await evaluations.claimable()).toEqual([a.id, b.id, c.id]);

    const running = await evaluations.markRunning(a.id, '00-trace-a-01');
    expect(running).toMatchObject({ state: 'running', traceParent: '00-trace-a-01' });
    expect(running?.startedAt).not.toBeNull();
    // After a restart the run is resumed in the trace it started in.
    expect((await evaluations.markRunning(a.id, '00-trace-later-01'))?.traceParent).toBe('00-trace-a-01');

    expect(await evaluations.requestCancel(c.id)).toMatchObject({ cancelRequested: true, state: 'queued' });
    expect(await evaluations.requestCancel('nope')).toBeUndefined();
    expect(await evaluations.finish(c.id, { state: 'cancelled' })).toMatchObject({ state: 'cancelled' });
    const done = await evaluations.finish(a.id, {
      state: 'completed',
      metrics: { absRel: 0.1 },
      details: { perClass: [] },
      latency: { total: { p50: 10, p95: 20 } },
      throughput: 4.5,
      executionProviders: ['cpu'],
      reportPrefix: 'fathom/evaluation/a/',
    });
    expect(done).toMatchObject({
      state: 'completed',
      metrics: { absRel: 0.1 },
      latency: { total: { p50: 10, p95: 20 } },
      throughput: 4.5,
      executionProviders: ['cpu'],
      reportPrefix: 'fathom/evaluation/a/',
      error: null,
    });
    expect(done?.finishedAt).not.toBeNull();
    expect(await evaluations.finish(a.id, { state: 'failed', error: 'late' })).toBeUndefined();
    expect(await evaluations.markRunning(a.id, null)).toBeUndefined();
    expect(await evaluations.claimable()).toEqual([b.id]);

    expect((await evaluations.list({ model: 'depth', limit: 2 })).map((r) => r.id)).toEqual([c.id, b.id]);
    expect((await evaluations.list({ dataset: 'text-lines' })).map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    expect(await evaluations.list({ dataset: 'other' })).toEqual([]);
    expect((await failureOf(evaluations.get('nope'))).code).toBe(ErrorCode.EvaluationNotFound);
  });

  it('finds the latest completed run of a model version, variant and dataset version to reuse', async () => {
    const v1 = await datasets.create(lines('1.0.0'), admin);
    const v2 = await datasets.create(lines('2.0.0'), admin);
    const older = await runOf(v1.id);
    const newer = await runOf(v1.id);
    const unfinished = await runOf(v1.id);
    const fp16 = await runOf(v1.id, '1.0.0', 'fp16');
    for (const run of [older, newer, fp16]) await evaluations.finish(run.id, { state: 'completed', metrics: { absRel: 0.1 } });
    const failed = await runOf(v1.id);
    await evaluations.finish(failed.id, { state: 'failed', error: 'no worker' });

    const of = { datasetId: v1.id, modelName: 'depth', modelVersion: '1.0.0' };
    expect((await evaluations.latestCompleted({ ...of, variant: null }))?.id).toBe(newer.id);
    expect((await evaluations.latestCompleted({ ...of, variant: 'fp16' }))?.id).toBe(fp16.id);
    expect(await evaluations.latestCompleted({ ...of, datasetId: v2.id })).toBeUndefined();
    expect(await evaluations.latestCompleted({ ...of, modelVersion: '2.0.0' })).toBeUndefined();
    expect(unfinished.state).toBe('queued');
  });

  it('sets, replaces and removes a model promotion gate, each change audited', async () => {
    expect(await gates.get('depth')).toBeUndefined();
    expect(await gates.set('depth', { dataset: 'middlebury', metric: 'absRel', margin: 0.01 }, admin)).toMatchObject({
      model: 'depth',
      dataset: 'middlebury',
      metric: 'absRel',
      margin: 0.01,
      updatedBy: 'key-admin',
    });
    await gates.set('depth', { dataset: 'middlebury', metric: 'delta1', margin: 0 }, { actor: 'key-other' });
    expect(await gates.get('depth')).toMatchObject({ metric: 'delta1', margin: 0, updatedBy: 'key-other' });
    expect(await gates.delete('depth', admin)).toBe(true);
    expect(await gates.delete('depth', admin)).toBe(false);
    expect(await gates.get('depth')).toBeUndefined();

    const audit = await new AuditLogStore(db).list(10);
    expect(audit.map((e) => [e.action, e.targetType, e.targetId, e.details])).toEqual([
      ['promotion-gate.deleted', 'model', 'depth', { dataset: 'middlebury', metric: 'delta1', margin: 0 }],
      ['promotion-gate.set', 'model', 'depth', { dataset: 'middlebury', metric: 'delta1', margin: 0 }],
      ['promotion-gate.set', 'model', 'depth', { dataset: 'middlebury', metric: 'absRel', margin: 0.01 }],
    ]);
  });
});
