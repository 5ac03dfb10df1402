import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import type { EvaluationView, SampleResult } from '@fathom/contracts';
import { renderPanels, renderReport, type WorstSample } from '@fathom/evaluation';
import { itWithShared, readFixture, repoRoot } from '@fathom/testing';
import { launchBrowser, watchedPage } from './support/browser';

/** What the page says about its pictures and its layout (the tests compile without the DOM's types). */
interface PageFacts {
  images: Array<{ alt: string; complete: boolean; naturalWidth: number; naturalHeight: number }>;
  scrollWidth: number;
  innerWidth: number;
}
const PAGE_FACTS = `({
  images: Array.from(document.images).map((i) => ({ alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight })),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
})`;

const HOSTILE_ID = '<script>window.owned = true</script>';
/** A phone held upright (an iPhone 12's CSS pixels). */
const PHONE = { width: 390, height: 844 };

function evaluationView(
  task: EvaluationView['dataset']['task'],
  metrics: Record<string, number>,
  details: Record<string, unknown> | null = null,
): EvaluationView {
  return {
    id: 'ev_browser',
    state: 'completed',
    dataset: { id: 'ds_1', name: `${task}-demo`, version: '1', task, samples: 4 },
    model: { reference: `${task}@canary`, name: task, version: '2.0.0' },
    executionProviders: ['cpu'],
    progress: { total: 4, done: 4, failed: 1 },
    metrics,
    details,
    latency: {
      queueWait: { p50: 3.2, p95: 11.8 },
      decode: { p50: 4.1, p95: 6 },
      inference: { p50: 120.5, p95: 180.2 },
      total: { p50: 131, p95: 205 },
    },
    throughput: 7.25,
    error: null,
    createdAt: '2026-12-07T10:00:00.000Z',
    createdBy: 'key:ops',
    startedAt: '2026-12-07T10:00:01.000Z',
    finishedAt: '2026-12-07T10:00:45.000Z',
    links: {
      self: '/v1/evaluations/ev_browser',
      report: '/v1/evaluations/ev_browser/report',
      samples: '/v1/evaluations/ev_browser/samples',
    },
  };
}

function sampleResult(index: number, sample: string, metrics: Record<string, number> | null): SampleResult {
  return {
    index,
    sample,
    jobId: `job-${index}`,
    state: metrics ? 'scored' : 'failed',
    metrics,
    error: metrics ? null : 'decode failed',
    timings: metrics ? { total: 130 } : null,
  };
}

/** A street-like scene drawn by sharp: sky, road and two boxes (as RGB pixels at the given size). */
function scene(width: number, height: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="${width}" height="${height / 2}" fill="#87b5e0"/><rect y="${height / 2}" width="${width}" height="${height / 2}" fill="#5b5b5b"/>
    <rect x="${width * 0.15}" y="${height * 0.3}" width="${width * 0.25}" height="${height * 0.45}" fill="#c0392b"/>
    <rect x="${width * 0.6}" y="${height * 0.4}" width="${width * 0.2}" height="${height * 0.25}" fill="#27ae60"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/**
 * An evaluation's HTML report in a real browser (Debian's Chromium through playwright-core), opened
 * from a file as a user opens a downloaded report: offline, on a phone-sized screen, every sample
 * picture decoded, the metrics table in view, a hostile sample name shown as text and nothing
 * loaded or run.
 */
describe('The evaluation report in a real browser', () => {
  let browser: Browser;
  let folder: string;
  const screenshots = join(repoRoot(), 'reports', 'evaluation-report');

  beforeAll(async () => {
    browser = await launchBrowser();
    folder = mkdtempSync(join(tmpdir(), 'fathom-report-'));
    mkdirSync(screenshots, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** Opens the report file on a phone-sized page; returns the page once everything is decoded. */
  async function open(
    html: string,
    name: string,
  ): Promise<{ page: Page; facts: PageFacts; complaints: { cspViolations: string[]; errors: string[] } }> {
    const file = join(folder, `${name}.html`);
    writeFileSync(file, html);
    const { page, complaints } = await watchedPage(browser);
    await page.setViewportSize(PHONE);
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const facts = await page.evaluate<PageFacts>(PAGE_FACTS);
    await page.screenshot({ path: join(screenshots, `${name}-phone.png`), fullPage: true });
    return { page, facts, complaints };
  }

  it('shows a depth run: every sample picture loads, the metrics table is in view, a <script> sample name stays text', async () => {
    const width = 480;
    const height = 320;
    const image = await scene(width, height);
    // Ground truth: the road recedes from 2 m (bottom) to 20 m (horizon), the sky has none, the boxes stand at 4 m and 7 m.
    const depth = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (y >= height / 2) depth[i] = 2 + 18 * (1 - (y - height / 2) / (height / 2));
        if (x >= width * 0.15 && x < width * 0.4 && y >= height * 0.3 && y < height * 0.75) depth[i] = 4;
        if (x >= width * 0.6 && x < width * 0.8 && y >= height * 0.4 && y < height * 0.65) depth[i] = 7;
      }
    }
    const truth = { width, height, depth };
    // Three models' raw outputs: disparity scaled and shifted (perfect after alignment), noisy, and upside down.
    const outputs = [
      Float32Array.from(depth, (d) => (d > 0 ? 3 / d + 0.5 : 0.5)),
      Float32Array.from(depth, (d, i) => (d > 0 ? 1 / d : 0) * (1 + 0.3 * Math.sin(i * 0.37))),
      Float32Array.from(depth, (_, i) => (depth[depth.length - 1 - i]! > 0 ? 1 / depth[depth.length - 1 - i]! : 0)),
    ];
    const samples = [
      sampleResult(0, 'street/perfect', { absRel: 0, delta1: 1 }),
      sampleResult(1, HOSTILE_ID, { absRel: 0.12, delta1: 0.85 }),
      sampleResult(2, 'street/upside-down', { absRel: 0.9, delta1: 0.2 }),
      sampleResult(3, 'street/unreadable', null),
    ];
    const worst: WorstSample[] = [];
    for (const index of [2, 1, 0]) {
      const panels = await renderPanels('depth', { image, prediction: { width, height, values: outputs[index]! }, truth, options: {} });
      worst.push({ sample: samples[index]!, panels });
    }
    const html = renderReport({
      evaluation: evaluationView('depth', {
        absRel: 0.34,
        sqRel: 1.2,
        rmse: 2.5,
        rmseLog: 0.4,
        log10: 0.12,
        silog: 35.5,
        delta1: 0.68,
        delta2: 0.8,
        delta3: 0.9,
      }),
      samples,
      worst,
      comparison: {
        dataset: { name: 'depth-demo', version: '1', task: 'depth' },
        a: { evaluation: 'ev_stable', model: 'depth@1.0.0', failed: 0 },
        b: { evaluation: 'ev_browser', model: 'depth@2.0.0', failed: 0 },
        pairs: 3,
        resamples: 2000,
        metrics: [{ metric: 'absRel', better: 'lower', a: 0.3, b: 0.34, delta: 0.04, ci95: [0.01, 0.07], verdict: 'worse' }],
      },
      generatedAt: new Date(),
    });

    const { page, facts, complaints } = await open(html, 'depth');
    // Three samples × input, prediction, ground truth, error map, all decoded at their panel size (≤ 320 px).
    expect(facts.images).toHaveLength(12);
    for (const image of facts.images) {
      expect(image).toMatchObject({ complete: true, naturalWidth: 320, naturalHeight: 213 });
    }
    expect(await page.locator('#metrics-table').isVisible()).toBe(true);
    expect(await page.locator('#metrics-table tr', { hasText: 'AbsRel' }).textContent()).toBe('AbsRel0.34↓ lower is better');
    // The hostile sample name is shown as it was written, and nothing of it ran.
    expect(await page.locator('.sample h3', { hasText: 'owned' }).textContent()).toBe(`#1 ${HOSTILE_ID}`);
    expect(await page.evaluate('window.owned === undefined')).toBe(true);
    // Readable on a phone: nothing wider than the screen (wide tables scroll inside their own box).
    expect(facts.scrollWidth).toBeLessThanOrEqual(facts.innerWidth);
    // Offline and self-contained: nothing was blocked because nothing was asked for.
    expect(complaints).toEqual({ cspViolations: [], errors: [] });
    await page.close();
  });

  itWithShared(
    ['fixtures', 'depth', 'middlebury2014_motorcycle'],
    'shows the Middlebury motorcycle with its ground truth and error map',
    async (dir) => {
      const image = readFixture('fixtures', 'depth', 'middlebury2014_motorcycle', 'rgb.png');
      const { data, info } = await sharp(join(dir, 'depth_mm.png'))
        .toColourspace('grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true });
      const millimetres = new Uint16Array(data.buffer, data.byteOffset, info.width * info.height);
      const depth = Float32Array.from(millimetres, (mm) => mm / 1000);
      // A relative model that sees the scene a little blurred: disparity plus a smooth error.
      const values = Float32Array.from(depth, (d, i) => (d > 0 ? 1 / d : 0.2) + 0.02 * Math.sin((i % info.width) / 40));
      const panels = await renderPanels('depth', {
        image,
        prediction: { width: info.width, height: info.height, values },
        truth: { width: info.width, height: info.height, depth },
        options: {},
      });
      const sample = sampleResult(0, 'motorcycle', { absRel: 0.031, delta1: 0.99 });
      const html = renderReport({
        evaluation: evaluationView('depth', {
          absRel: 0.031,
          sqRel: 0.01,
          rmse: 0.15,
          rmseLog: 0.04,
          log10: 0.013,
          silog: 3.9,
          delta1: 0.99,
          delta2: 1,
          delta3: 1,
        }),
        samples: [sample],
        worst: [{ sample, panels }],
        generatedAt: new Date(),
      });
      const { page, facts, complaints } = await open(html, 'middlebury');
      // 741 × 500 shrinks to 320 × 216.
      expect(facts.images.map((i) => [i.alt, i.naturalWidth, i.naturalHeight])).toEqual([
        ['input', 320, 216],
        ['prediction (aligned to the ground truth)', 320, 216],
        ['ground truth (black: none)', 320, 216],
        [expect.stringMatching(/^\|p − g\| \/ g per pixel, mean 0\.\d{3}$/), 320, 216],
      ]);
      // The ground truth's scale spans the scene's 2.11 m to 5.02 m (far to near, as the colours run).
      expect(await page.locator('figcaption', { hasText: 'ground truth (black' }).textContent()).toBe(
        'ground truth (black: none)5.02 m2.11 m',
      );
      expect(await page.locator('#metrics-table').isVisible()).toBe(true);
      expect(complaints).toEqual({ cspViolations: [], errors: [] });
      await page.close();
    },
  );

  it('shows a segmentation run with its per-class table and confusion matrix inside a phone’s width', async () => {
    const width = 240;
    const height = 160;
    const image = await scene(width, height);
    const labels = ['background', 'car', 'tree', 'road', 'sky', 'person', 'bicycle', 'bus', 'sign', 'wall', 'fence', 'pole'];
    const truthClasses = Uint8Array.from({ length: width * height }, (_, i) => ((i % width) * 12) / width);
    const predicted = Uint8Array.from(truthClasses, (c, i) => (i % 7 === 0 ? (c + 1) % 12 : c));
    const panels = await renderPanels('segmentation', {
      image,
      prediction: { width, height, classes: predicted },
      truth: { width, height, classes: truthClasses, ignoreIndex: 255, numClasses: 12, labels },
      options: {},
    });
    const matrix = labels.map((_, i) => labels.map((__, j) => (i === j ? 1000 + i : (i * j) % 17)));
    const sample = sampleResult(0, 'stripes', { mIoU: 0.75, pixelAccuracy: 0.857 });
    const html = renderReport({
      evaluation: evaluationView(
        'segmentation',
        { mIoU: 0.75, pixelAccuracy: 0.857 },
        { perClassIoU: Object.fromEntries(labels.map((l, i) => [l, 0.6 + i / 100])), confusionMatrix: { labels, matrix } },
      ),
      samples: [sample],
      worst: [{ sample, panels }],
      generatedAt: new Date(),
    });
    const { page, facts, complaints } = await open(html, 'segmentation');
    expect(facts.images).toHaveLength(4);
    for (const image of facts.images) expect(image).toMatchObject({ complete: true, naturalWidth: 240, naturalHeight: 160 });
    expect(await page.locator('#metrics-table').isVisible()).toBe(true);
    expect(await page.locator('table.matrix').isVisible()).toBe(true);
    expect(facts.scrollWidth).toBeLessThanOrEqual(facts.innerWidth);
    expect(complaints).toEqual({ cspViolations: [], errors: [] });
    await page.close();
  });
});
