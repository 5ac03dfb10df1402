import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { EvaluationView, JobAccepted } from '@fathom/contracts';
import { buildSlowDepthModel } from '@fathom/testing';
import type { VersionDrift } from '../../apps/api/src/drift/drift.service';
import { cameraModelsDir, runCameraFrames, seeded } from '../support/camera-frames';
import { uploadDataset, writeFlatDepthDataset } from '../support/datasets';
import {
  depthModelsDir,
  FathomStack,
  LOAD_TEST_LIMITS_ENV,
  pollStatus,
  submit,
  subscribe,
  type ApiInstance,
  type JobsSocket,
} from '../support/fathom-stack';
import { pollUntil, startPrometheus, type PrometheusServer, type PromQueryResponse } from '../support/prometheus-server';
import { isDict, type Dict } from './deploy-files';
import {
  BUILTIN_VARIABLES,
  dashboardFiles,
  documentedMetrics,
  interpolateVariables,
  panelQueries,
  panelsOf,
  selectorsIn,
  targetsOf,
  variablesIn,
  type PanelQuery,
} from './grafana-dashboards';

/**
 * The Grafana dashboards the compose stack provisions (deploy/grafana/dashboards): their structure,
 * and every PromQL expression of every panel run through a real Prometheus (Debian package
 * `prometheus`; .ci/run installs it) that scrapes a running API and worker under a short load.
 */
const files = dashboardFiles();
const dashboards = files.flatMap((f) => (f.json ? [{ file: f.file, json: f.json }] : []));
const queries = panelQueries(files);
const DATASOURCE = { type: 'prometheus', uid: 'prometheus' };

/** What Grafana would put in place of the variables. 1m covers the whole load (1 s scrapes). */
const VARIABLE_VALUES: Record<string, string> = {
  model: '.*',
  version: '.*',
  feature: '.*',
  __rate_interval: '1m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

const queryName = (q: PanelQuery) => `${q.dashboard} › ${q.panel} › ${q.refId}: ${q.expr.replace(/\s+/g, ' ')}`;

describe('deploy/grafana/dashboards: structure', () => {
  it('holds the four dashboards, and every file is valid JSON', () => {
    expect(files.map((f) => ({ file: f.file, error: f.error }))).toEqual(
      ['drift.json', 'models.json', 'queue-and-workers.json', 'service-overview.json'].map((file) => ({ file, error: undefined })),
    );
  });

  it('each has a stable uid of its own, a title, the fathom tag, no database id, and the Grafana 11 schema', () => {
    expect(dashboards.map((d) => [d.file, d.json['uid']])).toEqual([
      ['drift.json', 'fathom-drift'],
      ['models.json', 'fathom-models'],
      ['queue-and-workers.json', 'fathom-queue-workers'],
      ['service-overview.json', 'fathom-service-overview'],
    ]);
    for (const { file, json } of dashboards) {
      expect({ file, title: json['title'], tags: json['tags'], id: json['id'] ?? null, schemaVersion: json['schemaVersion'] }).toEqual({
        file,
        title: expect.stringMatching(/^Fathom \/ \S/),
        tags: expect.arrayContaining(['fathom']),
        id: null,
        schemaVersion: 40,
      });
    }
    expect(new Set(dashboards.map((d) => d.json['title'])).size).toBe(dashboards.length);
  });

  it('panel ids are unique within each dashboard', () => {
    for (const { file, json } of dashboards) {
      const ids = panelsOf(json).map((p) => p['id']);
      const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
      expect({ file, allNumbers: ids.every((id) => Number.isInteger(id)), repeated }).toEqual({ file, allNumbers: true, repeated: [] });
    }
  });

  it('every panel but a row queries the prometheus datasource by uid, says what it shows, and has queries', () => {
    for (const { file, json } of dashboards) {
      for (const panel of panelsOf(json)) {
        const title = panel['title'];
        if (panel['type'] === 'row') {
          expect({ file, row: title, targets: targetsOf(panel) }).toEqual({ file, row: title, targets: [] });
          continue;
        }
        expect({ file, panel: title, datasource: panel['datasource'] }).toEqual({ file, panel: title, datasource: DATASOURCE });
        expect({ file, panel: title, description: panel['description'] }).toEqual({
          file,
          panel: title,
          description: expect.stringMatching(/\S.{20,}/),
        });
        const targets = targetsOf(panel);
        expect({ file, panel: title, queries: targets.length > 0 }).toEqual({ file, panel: title, queries: true });
        for (const target of targets) {
          expect({
            file,
            panel: title,
            refId: target['refId'],
            datasource: target['datasource'] ?? DATASOURCE,
            expr: typeof target['expr'],
          }).toEqual({
            file,
            panel: title,
            refId: expect.stringMatching(/^[A-Z]$/),
            datasource: DATASOURCE,
            expr: 'string',
          });
        }
        const refIds = targets.map((t) => t['refId']);
        expect({ file, panel: title, refIdsUnique: new Set(refIds).size === refIds.length }).toEqual({
          file,
          panel: title,
          refIdsUnique: true,
        });
      }
    }
  });

  it('panels fit the 24-column grid and do not overlap', () => {
    for (const { file, json } of dashboards) {
      const boxes = panelsOf(json).map((p) => ({
        title: String(p['title']),
        ...(p['gridPos'] as { x: number; y: number; w: number; h: number }),
      }));
      for (const b of boxes)
        expect({ file, panel: b.title, fits: b.x >= 0 && b.w > 0 && b.h > 0 && b.x + b.w <= 24 }).toEqual({
          file,
          panel: b.title,
          fits: true,
        });
      const overlaps = boxes.flatMap((a, i) =>
        boxes
          .slice(i + 1)
          .filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
          .map((b) => `${a.title} × ${b.title}`),
      );
      expect({ file, overlaps }).toEqual({ file, overlaps: [] });
    }
  });

  it('the $model variable lists models from fathom_jobs_submitted_total, with All; every variable a query uses is declared or built in', () => {
    for (const { file, json } of dashboards) {
      const variables = (
        isDict(json['templating']) && Array.isArray(json['templating']['list']) ? json['templating']['list'] : []
      ) as Dict[];
      const model = variables.find((v) => v['name'] === 'model');
      expect({ file, model }).toEqual({
        file,
        model: expect.objectContaining({
          type: 'query',
          datasource: DATASOURCE,
          definition: 'label_values(fathom_jobs_submitted_total, model)',
          query: expect.objectContaining({ query: 'label_values(fathom_jobs_submitted_total, model)' }),
          includeAll: true,
          allValue: '.*',
        }),
      });
      const declared = variables.map((v) => v['name']);
      const used = queries.filter((q) => q.file === file).flatMap((q) => variablesIn(q.expr).map((name) => ({ panel: q.panel, name })));
      for (const { panel, name } of used) {
        expect({ file, panel, variable: name, known: declared.includes(name) || BUILTIN_VARIABLES.includes(name) }).toEqual({
          file,
          panel,
          variable: name,
          known: true,
        });
      }
    }
  });

  it('the drift dashboard picks a model, a version with a reference and a feature, and draws the 0.2 drift line on each score', () => {
    const drift = dashboards.find((d) => d.file === 'drift.json')!.json;
    const variables = (isDict(drift['templating']) ? drift['templating']['list'] : []) as Dict[];
    expect(variables.map((v) => [v['name'], v['definition']])).toEqual([
      ['model', 'label_values(fathom_jobs_submitted_total, model)'],
      ['version', 'label_values(fathom_drift_window_predictions{model=~"$model"}, version)'],
      ['feature', 'label_values(fathom_drift_bin_share{model=~"$model", version=~"$version"}, feature)'],
    ]);
    const panel = (title: string) => panelsOf(drift).find((p) => p['title'] === title)!;
    for (const title of ['Input drift score', 'Output drift score', 'PSI per feature']) {
      const defaults = (panel(title)['fieldConfig'] as { defaults: { thresholds: { steps: { value: number | null }[] }; custom: Dict } })
        .defaults;
      expect({ title, line: defaults.custom['thresholdsStyle'], at: defaults.thresholds.steps.map((s) => s.value) }).toEqual({
        title,
        line: { mode: 'dashed' },
        at: [null, 0.2],
      });
    }
    const histogram = panel('Reference versus production: $model $version $feature');
    expect(histogram['type']).toBe('barchart');
    expect(targetsOf(histogram)[0]!['expr']).toMatch(/by \(bin, distribution\) \(fathom_drift_bin_share\{.*feature=~"\$feature"\}\)/);
  });

  it('use only metrics that docs/metrics.md defines (histogram series of its histograms), prom-client’s defaults, or up', async () => {
    const documented = documentedMetrics();
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const defaultNames = (await defaults.getMetricsAsJSON()).flatMap((m) =>
      String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name],
    );
    defaults.clear();
    expect(documented.map((m) => m.name)).toEqual(
      expect.arrayContaining(['fathom_jobs_submitted_total', 'fathom_input_width_pixels', 'fathom_input_height_pixels']),
    );
    const known = (metric: string) => {
      if (metric === 'up' || defaultNames.includes(metric)) return true;
      if (documented.some((m) => m.name === metric && m.type !== 'histogram')) return true;
      const histogram = /^(.+)_(bucket|sum|count)$/.exec(metric);
      return !!histogram && documented.some((m) => m.name === histogram[1] && m.type === 'histogram');
    };
    for (const q of queries) {
      const metrics = selectorsIn(q.expr).map((s) => s.metric);
      expect({ query: queryName(q), selectsAMetric: metrics.length > 0 }).toEqual({ query: queryName(q), selectsAMetric: true });
      for (const metric of metrics)
        expect({ query: queryName(q), metric, known: known(metric) }).toEqual({ query: queryName(q), metric, known: true });
    }
  });

  it('select each fathom_ metric from a scrape job that serves it: job="fathom-api" or job="fathom-worker"', () => {
    // The launcher's job is the one docs/metrics.md suggests; the compose stack has no launcher.
    const jobOf: Record<string, string> = { API: 'fathom-api', Worker: 'fathom-worker', Launcher: 'fathom-launcher' };
    const documented = documentedMetrics();
    expect(new Set(documented.map((m) => m.servedBy))).toEqual(new Set(Object.keys(jobOf)));
    for (const q of queries) {
      for (const s of selectorsIn(q.expr).filter((sel) => sel.metric.startsWith('fathom_'))) {
        // fathom_predictions_dropped_total is served by both, with a stage each: either job is right.
        const servers = documented
          .filter((m) => m.name === s.metric || (m.type === 'histogram' && s.metric.startsWith(`${m.name}_`)))
          .map((m) => jobOf[m.servedBy]);
        const job = /\bjob="([^"]+)"/.exec(s.matchers)?.[1];
        expect({ query: queryName(q), selector: s.text, job }).toEqual({
          query: queryName(q),
          selector: s.text,
          job: job !== undefined && servers.includes(job) ? job : (servers[0] ?? 'a documented metric'),
        });
      }
    }
  });

  it('aggregate the API’s shared queue and worker gauges with max by, never summing replicas', () => {
    const shared = ['fathom_queue_jobs', 'fathom_queue_oldest_waiting_age_seconds', 'fathom_workers_online'];
    for (const q of queries) {
      for (const metric of shared) {
        const uses = q.expr.split(`${metric}{`).length - 1;
        const underMax = [...q.expr.matchAll(new RegExp(`max by \\([\\w, ]+\\) \\(\\s*${metric}\\{`, 'g'))].length;
        expect({ query: queryName(q), metric, uses, underMax }).toEqual({ query: queryName(q), metric, uses, underMax: uses });
      }
    }
  });

  it('the selector lexer finds metrics and skips functions, label lists, strings and durations', () => {
    expect(
      selectorsIn(
        'histogram_quantile(0.95, sum by (model, le) (rate(a_bucket{job="x", q=~"a{b}"}[5m] offset 1h))) / on (model) group_left b or on() vector(0) unless label_replace(c, "d", "$1", "e", "(.*)") > 1e-9',
      ).map((s) => s.text),
    ).toEqual(['a_bucket{job="x", q=~"a{b}"}', 'b', 'c']);
  });
});

/**
 * Selectors with no series under this load, on purpose: each one's panel query ends in
 * `or on() vector(0)` so an operator sees 0, not "No data". The list is exact: a selector here
 * that does get data fails the test, as does one with no data that is not here.
 */
const NO_DATA_UNDER_THIS_LOAD: { metric: string; matcher?: string; why: string }[] = [
  { metric: 'fathom_http_request_duration_seconds_count', matcher: 'status_class="5xx"', why: 'no request fails on the server side' },
  { metric: 'fathom_jobs_cancelled_total', why: 'no job is cancelled' },
  { metric: 'fathom_execution_provider_fallbacks_total', why: 'the worker asks for the CPU provider and gets it' },
  { metric: 'fathom_predictions_dropped_total', matcher: 'stage="worker"', why: 'Redis takes every record the worker hands it' },
];
const expectedNoData = (metric: string, matchers: string) =>
  NO_DATA_UNDER_THIS_LOAD.find((n) => n.metric === metric && (!n.matcher || matchers.includes(n.matcher)));

const TARGET_JOBS = ['fathom-api', 'fathom-worker'];

describe('deploy/grafana/dashboards: every query against a real Prometheus scraping a running Fathom', () => {
  let stack: FathomStack | undefined;
  let prometheus: PrometheusServer | undefined;

  const query = async (expr: string): Promise<PromQueryResponse> => prometheus!.query(interpolateVariables(expr, VARIABLE_VALUES));
  /** Unix seconds of each target job's latest scrape. */
  const lastScrapes = async (): Promise<Record<string, number>> => {
    const result = (await prometheus!.query(`max by (job) (timestamp(up{job=~"${TARGET_JOBS.join('|')}"}))`)).data?.result ?? [];
    return Object.fromEntries(result.map((s): [string, number] => [s.metric['job'] ?? '', Number(s.value[1])]));
  };
  /** Waits until every target has been scraped (and answered) after `afterS`. */
  const scrapedAfter = (afterS: number) =>
    pollUntil(
      `a scrape of ${TARGET_JOBS.join(' and ')} after ${afterS}`,
      async () => {
        const [scrapes, up] = [
          await lastScrapes(),
          (await prometheus!.query(`up{job=~"${TARGET_JOBS.join('|')}"} == 1`)).data?.result ?? [],
        ];
        return TARGET_JOBS.every((job) => (scrapes[job] ?? 0) > afterS && up.some((s) => s.metric['job'] === job));
      },
      20_000,
    );

  beforeAll(async () => {
    stack = await FathomStack.start();
    // Two attempts, short backoff: the failing jobs give failed attempts, retried and final, quickly.
    // Drift rounds every 300 ms, so the drift dashboard's load is scored as soon as it is logged.
    const api = await stack.startApi({
      API_JOB_ATTEMPTS: '2',
      API_JOB_BACKOFF_MS: '20',
      API_DRIFT_INTERVAL_MS: '300',
      ...LOAD_TEST_LIMITS_ENV,
    });
    const worker = await stack.startWorker({
      MODELS_DIR: modelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_METRICS_PORT: '0',
      WORKER_METRICS_HOST: '127.0.0.1',
    });
    const listening = await worker.waitForLine(/"msg":"metrics listening"/, 10_000);
    const workerMetrics = (JSON.parse(listening) as { url: string }).url;

    prometheus = await startPrometheus([
      { job: 'fathom-api', url: api.metricsUrl },
      { job: 'fathom-worker', url: workerMetrics },
    ]);
    await pollUntil(
      'both targets up',
      async () => {
        const up = (await prometheus!.query('up == 1')).data?.result ?? [];
        return TARGET_JOBS.every((job) => up.some((s) => s.metric['job'] === job));
      },
      20_000,
    );

    // Waves with a scrape between them: every series exists in one scrape and grows by the next,
    // so rates and quantiles have increases to work on, not only a first sample.
    const socket = await stack.connect();
    const images = await loadImages();
    for (let wave = 0; wave < 5; wave++) {
      await loadWave(api, socket, images, wave);
      await scrapedAfter(Date.now() / 1000);
    }
    // One evaluation, for the models dashboard's quality panel (fathom_eval_metric).
    await evaluateOnce(api);
    // A drift reference and a scored production window, for the drift dashboard.
    await driftLoad(stack);
    // Two more scrapes after the last wave: its metrics (the worker counts a job as it ends) are in.
    await scrapedAfter(Date.now() / 1000 + 1);
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    await stack?.stop();
  });

  it('the $model variable lists the models the load used', async () => {
    expect((await prometheus!.labelValues('model', 'fathom_jobs_submitted_total')).sort()).toEqual(['camera', 'depth-test', 'square-only']);
  });

  it('the $version and $feature variables list the camera’s version and its features', async () => {
    expect(await prometheus!.labelValues('version', 'fathom_drift_window_predictions')).toEqual(['1.0.0']);
    expect(await prometheus!.labelValues('feature', 'fathom_drift_bin_share{model="camera"}')).toEqual(
      expect.arrayContaining(['input.meanLuma', 'input.contrast', 'output.p50']),
    );
  });

  it('the drift dashboard shows the camera’s score under the 0.2 line and its histograms coinciding: its production is its reference', async () => {
    const score = await query('max by (model, version) (fathom_drift_score{job="fathom-api", side="input"})');
    expect(score.data!.result.map((s) => [s.metric['model'], s.metric['version'], Number(s.value[1]) <= 0.2])).toEqual([
      ['camera', '1.0.0', true],
    ]);
    const shares = await query('fathom_drift_bin_share{job="fathom-api", model="camera", feature="input.meanLuma"}');
    const byBin = (distribution: string): Record<string, number> =>
      Object.fromEntries(
        shares
          .data!.result.filter((s) => s.metric['distribution'] === distribution)
          .map((s) => [s.metric['bin'] ?? '', Number(s.value[1])]),
      );
    expect(Object.values(byBin('reference')).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(byBin('production')).toEqual(byBin('reference'));
  });

  it.each(queries.map((q) => [queryName(q), q] as const))('%s', async (_name, q) => {
    const response = await query(q.expr);
    expect({ status: response.status, error: response.error }).toEqual({ status: 'success', error: undefined });
    const series = response.data!.result;
    expect(series.length).toBeGreaterThan(0);
    // A series whose every value is NaN (0/0, a quantile of no observations) is an empty panel.
    expect(series.map((s) => `${JSON.stringify(s.metric)} ${s.value[1]}`)).toContainEqual(expect.not.stringMatching(/ NaN$/));
  });

  const selectors = [
    ...new Map(queries.flatMap((q) => selectorsIn(q.expr).map((s) => [s.text, { ...s, usedBy: queryName(q) }] as const))).values(),
  ];
  it.each(selectors.map((s) => [s.text, s] as const))(
    'selector %s matches series (or is listed as having none under this load)',
    async (_text, s) => {
      const response = await query(`count(${s.text})`);
      expect({ status: response.status, error: response.error }).toEqual({ status: 'success', error: undefined });
      const count = Number(response.data!.result[0]?.value[1] ?? 0);
      const listed = expectedNoData(s.metric, s.matchers);
      expect({ selector: s.text, usedBy: s.usedBy, hasSeries: count > 0 }).toEqual({
        selector: s.text,
        usedBy: s.usedBy,
        hasSeries: !listed,
      });
    },
  );

  it('every selector listed as having no data under this load is used by a dashboard', () => {
    for (const entry of NO_DATA_UNDER_THIS_LOAD) {
      expect({ entry, used: selectors.some((s) => expectedNoData(s.metric, s.matchers) === entry) }).toEqual({ entry, used: true });
    }
  });
});

/**
 * The depth stand-in (any size), a model that only runs on 518×518 inputs (other sizes fail in
 * inference), and `camera`, a fixed 64×64 one for the drift load.
 */
function modelsDir(): string {
  const dir = depthModelsDir();
  const squareOnly = depthModelsDir(buildSlowDepthModel({ side: 518, matmulLayers: 1 }), 'square-only');
  const camera = cameraModelsDir();
  for (const other of [squareOnly, camera]) for (const file of readdirSync(other)) copyFileSync(join(other, file), join(dir, file));
  return dir;
}

/** Smallest reference and window drift scores (API_DRIFT_WINDOW's least). */
const DRIFT_MINIMUM = 200;

/**
 * The drift dashboard's load, as small as drift allows: 200 camera frames in production, made the
 * version's reference with PUT …/drift-reference from its first day of production, so the same 200
 * are the reference and the scored window. Returns when the API's /metrics carries the score.
 */
async function driftLoad(stack: FathomStack): Promise<void> {
  await runCameraFrames(stack, seeded(15), DRIFT_MINIMUM, { concurrency: 20 });
  await pollUntil('the frames in the prediction log', async () => (await drift(stack.api)).window.rows >= DRIFT_MINIMUM, 30_000);
  const put = await fetch(`${stack.api.url}/v1/admin/models/camera/versions/1.0.0/drift-reference`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: { firstDays: 1 } }),
  });
  expect(put.status).toBe(200);
  await pollUntil('the window scored', async () => (await drift(stack.api)).report?.scores.input != null, 30_000);
  await pollUntil(
    'the input drift score on /metrics',
    async () =>
      /^fathom_drift_score\{model="camera",version="1.0.0",side="input"\} /m.test(await (await fetch(stack.api.metricsUrl)).text()),
    10_000,
  );
}

/** The camera's drift as GET /v1/models/camera/drift shows it (a window of 0 rows before it has a reference). */
async function drift(api: ApiInstance): Promise<Pick<VersionDrift, 'report'> & { window: { rows: number } }> {
  const view = (await (await fetch(`${api.url}/v1/models/camera/drift`)).json()) as { versions: VersionDrift[] };
  return view.versions[0] ?? { window: { rows: 0 }, report: null };
}

interface LoadImages {
  png: Buffer[];
  jpeg: Buffer[];
  square: Buffer;
  wide: Buffer;
}

async function loadImages(): Promise<LoadImages> {
  const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#6688aa' } });
  return {
    png: await Promise.all([solid(64, 48).png().toBuffer(), solid(320, 240).png().toBuffer()]),
    jpeg: await Promise.all([solid(120, 90).jpeg().toBuffer(), solid(800, 600).jpeg().toBuffer()]),
    square: await solid(518, 518).png().toBuffer(),
    wide: await solid(600, 400).png().toBuffer(),
  };
}

/** Registers a three-sample depth dataset and evaluates depth-test on it, to the end. */
async function evaluateOnce(api: ApiInstance): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-dashboards-eval-'));
  await writeFlatDepthDataset(dir, { name: 'flat-dashboards', samples: 3 });
  await uploadDataset(api, dir);
  const started = await fetch(`${api.url}/v1/evaluations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dataset: 'flat-dashboards', model: 'depth-test' }),
  });
  expect(started.status).toBe(202);
  const { id } = (await started.json()) as EvaluationView;
  await pollUntil(
    'the evaluation completed',
    async () => ((await (await fetch(`${api.url}/v1/evaluations/${id}`)).json()) as EvaluationView).state === 'completed',
    60_000,
  );
}

/**
 * One wave: four depth-test jobs (PNG and JPEG of several sizes, two followed over socket.io), a
 * square-only job that completes and one that fails on both attempts, and one bad upload (not an
 * image on even waves, an unknown model on odd ones). Returns when every accepted job has ended
 * and three of them are rated.
 */
async function loadWave(api: ApiInstance, socket: JobsSocket, images: LoadImages, wave: number): Promise<void> {
  const accept = async (form: Parameters<typeof submit>[1], follow = false) => {
    const response = await submit(api, form);
    expect(response.status).toBe(202);
    const job = (await response.json()) as JobAccepted;
    if (follow) expect((await subscribe(socket, job.id)).ok).toBe(true);
    return job.id;
  };
  const jobs = await Promise.all([
    accept({ image: images.png[wave % 2]!, model: 'depth-test' }, true),
    accept({ image: images.png[(wave + 1) % 2]!, model: 'depth-test' }),
    accept({ image: images.jpeg[wave % 2]!, filename: 'photo.jpg', model: 'depth-test' }, true),
    accept({ image: images.jpeg[(wave + 1) % 2]!, filename: 'photo.jpg', model: 'depth-test' }),
    accept({ image: images.square, model: 'square-only' }),
    accept({ image: images.wide, model: 'square-only' }),
  ]);
  const bad =
    wave % 2 === 0
      ? await submit(api, { image: Buffer.from('not an image at all, just some text'), filename: 'notes.png', model: 'depth-test' })
      : await submit(api, { image: images.png[0]!, model: 'no-such-model' });
  expect(bad.status).toBeGreaterThanOrEqual(400);
  expect(bad.status).toBeLessThan(500);
  const ended = await Promise.all(jobs.map((id) => pollStatus(api, id, ['completed', 'failed'], 30_000)));
  expect(ended.map((s) => s.state)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed', 'failed']);
  // Feedback on three of the five results, for the Feedback row (fathom_feedback_total): both ratings on each model.
  const rate = (id: string, rating: 'up' | 'down') =>
    fetch(`${api.url}/v1/jobs/${id}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rating }),
    });
  const rated = await Promise.all([rate(jobs[0], 'up'), rate(jobs[2], 'down'), rate(jobs[4], wave % 2 === 0 ? 'up' : 'down')]);
  expect(rated.map((r) => r.status)).toEqual([200, 200, 200]);
}
