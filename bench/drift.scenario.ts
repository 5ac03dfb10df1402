import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DRIFT_PSI_THRESHOLD, MIN_DRIFT_WINDOW, type DriftReport, type JobAccepted, type ReferenceProfile } from '@fathom/contracts';
import { createDatabase, PredictionStore, type PredictionFeaturesRow } from '@fathom/database';
import { buildReferenceProfile, compareWithReference } from '@fathom/drift';
import { buildSlowDepthModel, sharedPath } from '@fathom/testing';
import { seeded } from '../test/support/camera-frames';
import { depthModelsDir, FathomStack, LOAD_TEST_LIMITS_ENV, type ApiInstance } from '../test/support/fathom-stack';
import { median, percentile } from './bench-stats';
import type { BenchContext, ScenarioResult } from './scenario';

const MODEL = 'scene';
const VERSION = '1.0.0';
/** The model's fixed input: a cheap stand-in, since drift reads the features, not the prediction. */
const MODEL_SIDE = 128;
const SPLITS = 20;
/** The production window the monitor compares (API_DRIFT_WINDOW's default). */
const WINDOW = MIN_DRIFT_WINDOW;
/** Shifted predictions fed per shift: the bar is a flag within 200. */
const SHIFTED = 200;
const IN_FLIGHT = 4;
const TARGET_FALSE_ALARMS = 1;
const TARGET_PREDICTIONS = 200;
/** Sources larger than this (longer side) are scaled down once, so each crop is cheap to cut. */
const SOURCE_MAX_SIDE = 1024;

interface Source {
  name: string;
  pixels: Buffer;
  width: number;
  height: number;
}

type Shift = 'darkened' | 'blurred' | 'downscaled' | 'indoor';

const SHIFTS: Record<Shift, string> = {
  darkened: 'the same kind of crops, every pixel × 0.6',
  blurred: 'the same kind of crops, Gaussian blur σ 3 px',
  downscaled: 'the same kind of crops at 0.4× their size (longer side 90–128 px)',
  indoor: 'crops of the indoor photos (file names with indoor/interior) against the outdoor reference',
};

/**
 * Drift's two errors, measured through the real stack (API, worker, PostgreSQL, redis-server) with
 * real photos: random crops and rescales of ../shared/fixtures/images' outdoor photos are profiled
 * (purpose=reference) and their features read back from the prediction log. (a) False alarms: 20
 * random splits of that pool, half as a reference and 200 of the other half as the window, compared
 * with libs/drift's functions, the monitor's own; (b) detection: the version's reference is set
 * through the API, then each shift is fed as production after 200 same-distribution predictions, and
 * the score is computed on every prefix of the shifted stream (the window being the latest 200
 * predictions): the first count whose score exceeds 0.2. GET /v1/models/:name/drift's score at the
 * end of each stream is reported beside the offline figure as a check that they agree.
 */
export async function driftScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const base = { scenario: 'drift' as const, model: `${MODEL}@${VERSION}`, command: ctx.command };
  const standIn = `the generated depth stand-in (one MatMul) at a fixed ${MODEL_SIDE}×${MODEL_SIDE} input: inference is cheap, the features are what is measured`;
  const dir = sharedPath('fixtures', 'images');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)) : [];
  const outdoorFiles = files.filter((f) => /outdoor/i.test(f)).sort();
  const indoorFiles = files.filter((f) => /indoor|interior/i.test(f)).sort();
  if (outdoorFiles.length === 0 || indoorFiles.length === 0) {
    const reason = `${dir} is absent or lacks photos named outdoor and indoor/interior: the drift benchmark needs real photos`;
    console.error(`bench: drift skipped: ${reason}`);
    return { ...base, standIn, setup: {}, figures: { skipped: reason } };
  }
  const outdoor = await Promise.all(outdoorFiles.map((f) => loadSource(join(dir, f))));
  const indoor = await Promise.all(indoorFiles.map((f) => loadSource(join(dir, f))));
  const pool = ctx.quick ? 2 * 220 : 2 * 300;
  const random = seeded(2015);

  const stack = await FathomStack.start();
  const db = createDatabase({
    url: stack.database.url,
    poolSize: 2,
    statementTimeoutMs: 30_000,
    connectTimeoutMs: 5_000,
    applicationName: 'fathom-bench',
  });
  const predictions = new PredictionStore(db);
  try {
    await stack.startApi({ ...LOAD_TEST_LIMITS_ENV, API_DRIFT_WINDOW: String(WINDOW) });
    const manifest = { input: { resize: { mode: 'fixed', width: MODEL_SIDE, height: MODEL_SIDE } } };
    await stack.startWorker({
      MODELS_DIR: depthModelsDir(buildSlowDepthModel({ side: MODEL_SIDE, matmulLayers: 1 }), MODEL, manifest),
      WORKER_BUILTIN_MODELS: 'false',
    });
    const feed = async (count: number, make: () => Promise<Buffer>, purpose?: 'reference') => {
      const ids = await submitAll(stack, count, make, purpose);
      return loggedRows(predictions, ids);
    };
    const crop = (sources: Source[], shift?: Exclude<Shift, 'indoor'>) => () => randomCrop(sources, random, shift);

    // (a) The pool, profiled; its splits scored as the monitor scores a window.
    const started = Date.now();
    const poolRows = await feed(pool, crop(outdoor), 'reference');
    const splitScores: number[] = [];
    let falseAlarms = 0;
    for (let s = 0; s < SPLITS; s++) {
      const shuffled = shuffle(poolRows, random);
      const half = shuffled.length / 2;
      const report = compareWithReference(buildReferenceProfile('depth', shuffled.slice(0, half)), shuffled.slice(half, half + WINDOW));
      splitScores.push(score(report)!);
      if (report.flagged.input || report.flagged.output) falseAlarms++;
    }

    // (b) The version's reference, set through the API from half the pool's jobs.
    const referenceRows = poolRows.slice(0, pool / 2);
    const put = await fetch(`${stack.api.url}/v1/admin/models/${MODEL}/versions/${VERSION}/drift-reference`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: { jobs: referenceRows.map((r) => r.jobId) } }),
    });
    if (put.status !== 200) throw new Error(`setting the reference answered ${put.status}: ${await put.text()}`);
    const profile = (
      (await (await fetch(`${stack.api.url}/v1/admin/models/${MODEL}/versions/${VERSION}/drift-reference`)).json()) as {
        profile: ReferenceProfile;
      }
    ).profile;

    const detection: Record<
      Shift,
      {
        flaggedAfter: number | null;
        side: string | null;
        feature: string | null;
        offlineScore: number;
        apiScore: number | null;
        prefixScore: number;
      }
    > = {} as never;
    for (const shift of Object.keys(SHIFTS) as Shift[]) {
      const prefix = await feed(WINDOW, crop(outdoor));
      const shifted = await feed(SHIFTED, shift === 'indoor' ? crop(indoor) : crop(outdoor, shift));
      let flaggedAfter: number | null = null;
      let side: string | null = null;
      let feature: string | null = null;
      for (let k = 1; k <= shifted.length && flaggedAfter === null; k++) {
        const report = compareWithReference(profile, [...shifted.slice(0, k), ...prefix.slice(k)]);
        if (report.flagged.input || report.flagged.output) {
          flaggedAfter = k;
          side = report.flagged.input && report.flagged.output ? 'both' : report.flagged.input ? 'input' : 'output';
          feature = report.features.reduce((a, b) => ((b.drift ?? 0) > (a.drift ?? 0) ? b : a)).name;
        }
      }
      detection[shift] = {
        flaggedAfter,
        side,
        feature,
        prefixScore: round3(score(compareWithReference(profile, prefix))!),
        offlineScore: round3(score(compareWithReference(profile, shifted.slice(-WINDOW)))!),
        apiScore: await apiScore(stack.api, shifted.at(-1)!.finishedAt),
      };
    }
    const seconds = (Date.now() - started) / 1000;
    const jobs = pool + 4 * (WINDOW + SHIFTED);

    const flaggedAfter = (shift: Shift) => detection[shift].flaggedAfter;
    const detectionTarget = (shift: Shift) => ({
      figure: `${shift}FlaggedAfter`,
      target: `≤ ${TARGET_PREDICTIONS} predictions`,
      value: flaggedAfter(shift) ?? Number.POSITIVE_INFINITY,
      met: flaggedAfter(shift) !== null && flaggedAfter(shift)! <= TARGET_PREDICTIONS,
    });
    return {
      ...base,
      standIn,
      setup: {
        photos: `reference and same-distribution crops from ${outdoorFiles.join(', ')}; indoor from ${indoorFiles.join(', ')} (../shared/fixtures/images)`,
        crops:
          'a random crop (40–90 % of the shorter side, aspect 3:4 to 4:3, anywhere in the photo), resized so its longer side is 224–320 px, JPEG q 70–92',
        pool: `${pool} crops profiled through the stack (POST /v1/jobs purpose=reference); features read back from the prediction log`,
        falseAlarms: `${SPLITS} random splits of the pool: a reference from one half (${pool / 2}), a window of ${WINDOW} from the other, compareWithReference (libs/drift, as the monitor); flagged: either side's score > ${DRIFT_PSI_THRESHOLD}`,
        detection: `reference: PUT {jobs} of ${pool / 2} pool crops; per shift, ${WINDOW} fresh same-distribution crops then ${SHIFTED} shifted ones as production; the window after k shifted predictions is those k and the latest ${WINDOW} − k of the prefix, scored for every k`,
        shifts: SHIFTS,
        processes: 'one API (API_DRIFT_WINDOW 200), one worker, redis-server, PostgreSQL (the machine’s), this driver, on the same machine',
        jobs,
        seconds: Math.round(seconds),
      },
      figures: {
        falseAlarms: `${falseAlarms} of ${SPLITS}`,
        sameDistributionScore: {
          median: round3(median(splitScores)),
          p95: round3(percentile(splitScores, 95)),
          max: round3(Math.max(...splitScores)),
        },
        darkenedFlaggedAfter: flaggedAfter('darkened') ?? `not within ${SHIFTED}`,
        blurredFlaggedAfter: flaggedAfter('blurred') ?? `not within ${SHIFTED}`,
        downscaledFlaggedAfter: flaggedAfter('downscaled') ?? `not within ${SHIFTED}`,
        indoorFlaggedAfter: flaggedAfter('indoor') ?? `not within ${SHIFTED}`,
        detection,
      },
      targets: [
        {
          figure: 'falseAlarms',
          target: `≤ ${TARGET_FALSE_ALARMS} of ${SPLITS}`,
          value: falseAlarms,
          met: falseAlarms <= TARGET_FALSE_ALARMS,
        },
        ...(Object.keys(SHIFTS) as Shift[]).map(detectionTarget),
      ],
    };
  } finally {
    await db.destroy().catch(() => undefined);
    await stack.stop();
  }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** The version's score: the larger side's (a side without a score counts 0). */
function score(report: DriftReport): number | null {
  const { input, output } = report.scores;
  return input === null && output === null ? null : Math.max(input ?? 0, output ?? 0);
}

async function loadSource(file: string): Promise<Source> {
  const { data, info } = await sharp(file)
    .rotate()
    .resize({ width: SOURCE_MAX_SIDE, height: SOURCE_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { name: file, pixels: data, width: info.width, height: info.height };
}

/** A random crop of a random source, rescaled and JPEG-encoded; a shift changes it as the shifted stream's camera would. */
async function randomCrop(sources: Source[], random: () => number, shift?: Exclude<Shift, 'indoor'>): Promise<Buffer> {
  const source = sources[Math.floor(random() * sources.length)]!;
  const shorter = Math.min(source.width, source.height);
  const side = shorter * (0.4 + 0.5 * random());
  const aspect = 0.75 + (4 / 3 - 0.75) * random();
  const width = Math.min(source.width, Math.round(side * Math.sqrt(aspect)));
  const height = Math.min(source.height, Math.round(side / Math.sqrt(aspect)));
  const left = Math.floor(random() * (source.width - width + 1));
  const top = Math.floor(random() * (source.height - height + 1));
  let longer = 224 + Math.round(96 * random());
  if (shift === 'downscaled') longer = Math.round(longer * 0.4);
  const quality = 70 + Math.round(22 * random());
  let image = sharp(source.pixels, { raw: { width: source.width, height: source.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize({ width: longer, height: longer, fit: 'inside' });
  if (shift === 'darkened') image = image.linear(0.6, 0);
  if (shift === 'blurred') image = image.blur(3);
  return image.jpeg({ quality }).toBuffer();
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Submits `count` images, IN_FLIGHT at a time, each waited for to complete; returns the job ids in submission order. */
async function submitAll(stack: FathomStack, count: number, make: () => Promise<Buffer>, purpose?: 'reference'): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const slot = async () => {
    while (next < count) {
      const i = next++;
      const form = new FormData();
      form.append('model', `${MODEL}@${VERSION}`);
      if (purpose) form.append('purpose', purpose);
      form.append('image', new Blob([new Uint8Array(await make())], { type: 'image/jpeg' }), `crop-${i}.jpg`);
      const response = await fetch(`${stack.api.url}/v1/jobs`, { method: 'POST', body: form });
      if (response.status !== 202) throw new Error(`POST /v1/jobs answered ${response.status}: ${await response.text()}`);
      const { id } = (await response.json()) as JobAccepted;
      const end = await stack.jobEnd(id);
      if (end.state !== 'completed') throw new Error(`job ${id} ${end.state}: ${JSON.stringify(end.error)}`);
      ids[i] = id;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, slot));
  return ids;
}

/** The jobs' rows from the prediction log, oldest first, once all are there (they are written just after each job ends). */
async function loggedRows(store: PredictionStore, ids: string[]): Promise<Array<PredictionFeaturesRow & { jobId: string }>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await store.page({ jobIds: ids, status: 'completed', limit: ids.length });
    if (rows.length === ids.length) {
      return rows.map((row) => ({ jobId: row.jobId, input: row.inputFeatures, output: row.outputFeatures, finishedAt: row.finishedAt }));
    }
    if (Date.now() > deadline) throw new Error(`only ${rows.length} of ${ids.length} jobs reached the prediction log within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The score GET /v1/models/:name/drift gives once its window has reached the prediction that ended at `last`. */
async function apiScore(api: ApiInstance, last: string): Promise<number | null> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const body = (await (await fetch(`${api.url}/v1/models/${MODEL}/drift`)).json()) as {
      versions: Array<{ version: string; window: { to: string | null }; report: DriftReport | null }>;
    };
    const version = body.versions.find((v) => v.version === VERSION);
    const to = version?.window.to;
    if ((to && new Date(to) >= new Date(last)) || Date.now() > deadline) {
      const value = version?.report ? score(version.report) : null;
      return value === null ? null : round3(value);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
