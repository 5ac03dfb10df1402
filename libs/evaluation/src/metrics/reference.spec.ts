import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@fathom/testing';
import type { ClassificationPrediction, DepthTruth, ImagePixels, Polygon, ScoreOptions } from '../types';
import { classificationScorer } from './classification.metrics';
import { mulberry32 } from './comparison';
import { depthScorer } from './depth.metrics';
import { imageToImageScorer } from './image-to-image.metrics';
import { segmentationScorer } from './segmentation.metrics';
import { textDetectionScorer } from './text-detection.metrics';

/**
 * Every metric checked against an independent numpy implementation written from the papers'
 * definitions (libs/evaluation/reference/metrics_reference.py) on seeded random inputs: the two
 * must agree to 1e-6 (relative above 1).
 */
const SCRIPT = join(repoRoot(), 'libs', 'evaluation', 'reference', 'metrics_reference.py');

function pythonWithNumpy(): string | undefined {
  return ['python3', '/usr/bin/python3'].find((python) => spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);
}

/** NPY 1.0: magic, version, a little-endian header length, a Python-dict header padded to 64 bytes, then the raw little-endian data. */
function npy(data: Float32Array | Uint8Array | Uint16Array, shape: number[]): Buffer {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Uint16Array ? '<u2' : '|u1';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix.writeUInt8(1, 6);
  prefix.writeUInt8(0, 7);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** |a − b| ≤ 1e-6, relative to |b| when |b| > 1. */
function expectAgrees(actual: number, reference: number, what: string): void {
  const tolerance = 1e-6 * Math.max(1, Math.abs(reference));
  if (!(Math.abs(actual - reference) <= tolerance)) throw new Error(`${what}: Fathom ${actual}, reference ${reference}`);
}
function expectAllAgree(actual: Record<string, number>, reference: Record<string, number>, what: string): void {
  const names = Object.keys(actual).filter((name) => name in reference);
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) expectAgrees(actual[name]!, reference[name]!, `${what} ${name}`);
}

const random = mulberry32(20261207);
const uniform = (lo: number, hi: number): number => lo + (hi - lo) * random();
const integer = (n: number): number => Math.floor(random() * n);

// ---- depth: relative models (scaled, shifted, noisy inverse depth) and metric ones, with holes, masks and ranges.
interface DepthCase {
  prediction: Float32Array;
  truth: DepthTruth;
  options: ScoreOptions;
}
const W = 48;
const H = 36;
function depthTruth(withMask: boolean): DepthTruth {
  const depth = Float32Array.from({ length: W * H }, (_, i) => {
    const r = random();
    if (r < 0.03) return 0;
    if (r < 0.05) return Number.NaN;
    return 0.5 + 9 * (((i % W) + Math.floor(i / W)) / (W + H)) + uniform(0, 1.5);
  });
  return { width: W, height: H, depth, ...(withMask ? { valid: Uint8Array.from({ length: W * H }, () => (random() < 0.9 ? 1 : 0)) } : {}) };
}
const depthCases: DepthCase[] = [];
for (const [k, range] of [undefined, { min: 1, max: 8 }, undefined, { min: 0.8, max: 12 }].entries()) {
  const truth = depthTruth(k % 2 === 0);
  const scale = uniform(0.5, 40);
  const shift = uniform(-0.2, 0.5);
  const prediction = truth.depth.map((g) => {
    const r = random();
    if (r < 0.01) return Number.NaN;
    // Case 2: a few wild outputs whose aligned disparity falls below the far cap.
    if (k === 2 && r < 0.05) return -scale * uniform(1, 3);
    return (scale / g + shift) * (1 + uniform(-0.1, 0.1));
  });
  depthCases.push({ prediction, truth, options: { depthOutput: 'relative-inverse', ...(range ? { depthRange: range } : {}) } });
}
for (const [k, range] of [undefined, { min: 1, max: 9 }, undefined].entries()) {
  const truth = depthTruth(k !== 1);
  const prediction = truth.depth.map((g) => (random() < 0.02 ? uniform(-1, 0) : g * (1 + uniform(-0.3, 0.3)) + uniform(-0.2, 0.2)));
  depthCases.push({ prediction, truth, options: { depthOutput: 'metric', ...(range ? { depthRange: range } : {}) } });
}

// ---- segmentation: 5 classes present (0–4), class 5 never, predictions beyond numClasses (6, 7), 255 ignored.
const SEGMENTATION = { numClasses: 6, ignoreIndex: 255 };
const segmentationCases = [0, 1, 2].map(() => {
  const truth = Uint8Array.from({ length: W * H }, () => (random() < 0.1 ? 255 : integer(5)));
  const prediction = truth.map((t) => (random() < 0.7 && t !== 255 ? t : [0, 1, 2, 3, 4, 6, 7][integer(7)]!));
  return { prediction, truth };
});

// ---- classification: half right at top-1, the truth sometimes beyond top-5; "bird" is never the truth and "fish" never
// predicted first, so both 0/0 rules (recall of a class never true, precision of a class never predicted) are used.
const LABELS = ['0', '90', '180', '270', 'cat', 'dog', 'bird', 'fish'];
const classificationCases = Array.from({ length: 60 }, (_, i) => {
  const truth = i % 20 === 0 ? 'fish' : LABELS[integer(6)]!;
  const order = [...LABELS].sort(() => random() - 0.5);
  if (truth !== 'fish' && random() < 0.5) order.unshift(...order.splice(order.indexOf(truth), 1));
  if (order[0] === 'fish') order.push(...order.splice(0, 1));
  const prediction: ClassificationPrediction = { top: order.map((label, i) => ({ index: i, label, probability: 1 / (i + 2) })) };
  return { truth, prediction };
});

// ---- text detection: axis-aligned and rotated rectangles, jittered detections, false alarms, "don't care" words.
function rectangle(cx: number, cy: number, w: number, h: number, angle: number): Polygon {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ].map(([x, y]) => [cx + x! * c - y! * s, cy + x! * s + y! * c] as const);
}
const textCases = Array.from({ length: 12 }, (_, k) => {
  if (k === 0) return { truth: { polygons: [] as Polygon[], ignore: [] as boolean[] }, prediction: { polygons: [] as Polygon[] } };
  if (k === 1) {
    // Detection 0 fits word B exactly and word A at IoU 0.67, detection 1 only A (0.54): matching in order would miss B.
    return {
      truth: { polygons: [rectangle(5, 5, 10, 10, 0), rectangle(7, 5, 10, 10, 0)], ignore: [false, false] },
      prediction: { polygons: [rectangle(7, 5, 10, 10, 0), rectangle(2, 5, 10, 10, 0)] },
    };
  }
  const rotated = k % 2 === 0;
  const words = Array.from({ length: 1 + integer(5) }, () => ({
    cx: uniform(20, 300),
    cy: uniform(20, 200),
    w: uniform(30, 120),
    h: uniform(10, 30),
    angle: rotated ? uniform(-0.5, 0.5) : 0,
  }));
  const detections = words
    .filter(() => random() < 0.8)
    .map((word) =>
      rectangle(
        word.cx + uniform(-0.15, 0.15) * word.w,
        word.cy + uniform(-0.15, 0.15) * word.h,
        word.w * uniform(0.8, 1.2),
        word.h * uniform(0.8, 1.2),
        word.angle + (rotated ? uniform(-0.1, 0.1) : 0),
      ),
    );
  for (let i = integer(3); i > 0; i--) detections.push(rectangle(uniform(20, 300), uniform(20, 200), uniform(30, 120), uniform(10, 30), 0));
  return {
    truth: {
      polygons: words.map((word) => rectangle(word.cx, word.cy, word.w, word.h, word.angle)),
      ignore: words.map(() => random() < 0.2),
    },
    prediction: { polygons: detections },
  };
});

// ---- image to image: noisy RGB, noisy grey (odd sizes), and an exact copy.
function picture(width: number, height: number, channels: 1 | 3): ImagePixels {
  const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => {
    const x = Math.floor(i / channels) % width;
    const y = Math.floor(i / channels / width);
    return Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin(x / 4 + (i % channels)) * Math.cos(y / 5) + uniform(-20, 20))));
  });
  return { width, height, channels, pixels };
}
const noisy = (image: ImagePixels, amplitude: number): ImagePixels => ({
  ...image,
  pixels: image.pixels.map((v) => Math.max(0, Math.min(255, Math.round(v + uniform(-amplitude, amplitude))))),
});
const imageCases = [picture(40, 30, 3), picture(23, 17, 1), picture(31, 29, 3)].map((truth, k) => ({
  truth,
  prediction: k === 2 ? truth : noisy(truth, 25 + 10 * k),
}));

interface Reference {
  numpy: string;
  depth: { samples: Array<Record<string, number>>; aggregate: Record<string, number> };
  segmentation: { samples: Array<Record<string, number>>; aggregate: Record<string, number>; iou: Array<number | null> };
  classification: {
    aggregate: Record<string, number>;
    perClass: Record<string, { precision: number; recall: number }>;
    confusion: Record<string, Record<string, number>>;
  };
  textDetection: { samples: Array<Record<string, number>>; aggregate: Record<string, number> };
  imageToImage: { samples: Array<Record<string, number> & { library?: string }>; aggregate: Record<string, number> };
}

describe('the metrics against an independent numpy reference', () => {
  let reference: Reference;

  beforeAll(() => {
    const python = pythonWithNumpy();
    if (!python) {
      throw new Error(
        'No python3 with numpy (tried `python3` and `/usr/bin/python3`): install it with `sudo apt-get install python3-numpy` (.ci/run does) to cross-check the metrics',
      );
    }
    const folder = mkdtempSync(join(tmpdir(), 'fathom-metrics-reference-'));
    try {
      const write = (name: string, data: Float32Array | Uint8Array | Uint16Array, shape: number[]): string => {
        writeFileSync(join(folder, name), npy(data, shape));
        return name;
      };
      const cases = {
        depth: depthCases.map((c, k) => ({
          prediction: write(`depth-${k}-prediction.npy`, c.prediction, [H, W]),
          truth: write(`depth-${k}-truth.npy`, c.truth.depth, [H, W]),
          valid: c.truth.valid ? write(`depth-${k}-valid.npy`, c.truth.valid, [H, W]) : null,
          depthOutput: c.options.depthOutput,
          depthRange: c.options.depthRange ?? null,
        })),
        segmentation: {
          ...SEGMENTATION,
          samples: segmentationCases.map((c, k) => ({
            prediction: write(`segmentation-${k}-prediction.npy`, c.prediction, [H, W]),
            truth: write(`segmentation-${k}-truth.npy`, Uint16Array.from(c.truth), [H, W]),
          })),
        },
        classification: classificationCases.map((c) => ({ truth: c.truth, top: c.prediction.top.map((t) => t.label) })),
        textDetection: textCases.map((c) => ({ truth: c.truth.polygons, ignore: c.truth.ignore, prediction: c.prediction.polygons })),
        imageToImage: imageCases.map((c, k) => {
          const shape = c.truth.channels === 3 ? [c.truth.height, c.truth.width, 3] : [c.truth.height, c.truth.width];
          return {
            prediction: write(`image-${k}-prediction.npy`, c.prediction.pixels, shape),
            truth: write(`image-${k}-truth.npy`, c.truth.pixels, shape),
          };
        }),
      };
      writeFileSync(join(folder, 'cases.json'), JSON.stringify(cases));
      const run = spawnSync(python, [SCRIPT, folder], { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20 });
      if (run.status !== 0) throw new Error(`${python} ${SCRIPT} failed (${run.status ?? run.signal}): ${run.stderr}`);
      reference = JSON.parse(run.stdout) as Reference;
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('agree on every depth metric, per image and aggregated, for relative (aligned) and metric models', () => {
    const scores = depthCases.map((c) => depthScorer.score({ width: W, height: H, values: c.prediction }, c.truth, c.options));
    scores.forEach((score, k) => {
      expect(score.stats.pixels).toBe(reference.depth.samples[k]!.pixels);
      expectAllAgree(score.metrics, reference.depth.samples[k]!, `depth sample ${k} (${depthCases[k]!.options.depthOutput})`);
    });
    expectAllAgree(depthScorer.aggregate(scores.map((s) => s.stats)).metrics, reference.depth.aggregate, 'depth aggregate');
    // The cases are not trivially perfect: alignment leaves the noise, and the wild outputs are capped.
    expect(scores[0]!.metrics.absRel).toBeGreaterThan(0.01);
    expect(scores[2]!.metrics.delta3).toBeLessThan(0.99);
  });

  it('agree on mIoU, pixel accuracy and IoU per class', () => {
    const scores = segmentationCases.map((c) =>
      segmentationScorer.score(
        { width: W, height: H, classes: c.prediction },
        { width: W, height: H, classes: c.truth, ...SEGMENTATION },
        {},
      ),
    );
    scores.forEach((score, k) => expectAllAgree(score.metrics, reference.segmentation.samples[k]!, `segmentation sample ${k}`));
    const aggregate = segmentationScorer.aggregate(scores.map((s) => s.stats));
    expectAllAgree(aggregate.metrics, reference.segmentation.aggregate, 'segmentation aggregate');
    const iou = aggregate.details?.iou as Record<string, number | null>;
    expect(Object.values(iou).map((v) => v === null)).toEqual(reference.segmentation.iou.map((v) => v === null));
    reference.segmentation.iou.forEach((v, c) => v !== null && expectAgrees(iou[String(c)]!, v, `IoU of class ${c}`));
  });

  it('agree on top-1, top-5, macro precision and recall, per-class figures and the confusion matrix', () => {
    const aggregate = classificationScorer.aggregate(
      classificationCases.map((c) => classificationScorer.score(c.prediction, { label: c.truth, labels: LABELS }, {}).stats),
    );
    expectAllAgree(aggregate.metrics, reference.classification.aggregate, 'classification');
    const perClass = aggregate.details?.perClass as Record<string, { precision: number; recall: number }>;
    expect(Object.keys(perClass).sort()).toEqual(Object.keys(reference.classification.perClass).sort());
    for (const [label, figures] of Object.entries(reference.classification.perClass))
      expectAllAgree(perClass[label]!, figures, `class ${label}`);
    const { labels, matrix } = aggregate.details?.confusion as { labels: string[]; matrix: number[][] };
    for (const [t, row] of Object.entries(reference.classification.confusion)) {
      for (const [p, count] of Object.entries(row)) expect([t, p, matrix[labels.indexOf(t)]![labels.indexOf(p)]]).toEqual([t, p, count]);
    }
  });

  it('agree on matches, precision, recall and F1 of text detection', () => {
    const scores = textCases.map((c) => textDetectionScorer.score(c.prediction, c.truth, {}));
    scores.forEach((score, k) => {
      const { tp, fp, fn, ...figures } = reference.textDetection.samples[k]!;
      expect(score.stats).toEqual({ tp, fp, fn });
      expectAllAgree(score.metrics, figures, `text sample ${k}`);
    });
    expectAllAgree(textDetectionScorer.aggregate(scores.map((s) => s.stats)).metrics, reference.textDetection.aggregate, 'text aggregate');
    const total = scores.reduce((sum, s) => ({ tp: sum.tp + s.stats.tp, fp: sum.fp + s.stats.fp, fn: sum.fn + s.stats.fn }), {
      tp: 0,
      fp: 0,
      fn: 0,
    });
    // Hits, false alarms and misses all occur, so each rule is exercised.
    expect(Math.min(total.tp, total.fp, total.fn)).toBeGreaterThan(0);
  });

  it('agree on PSNR and SSIM, and with scikit-image’s convention when scipy or scikit-image is there', () => {
    const scores = imageCases.map((c) => imageToImageScorer.score(c.prediction, c.truth, {}));
    scores.forEach((score, k) => {
      const sample = reference.imageToImage.samples[k]!;
      expectAllAgree(score.metrics, sample, `image sample ${k}`);
      if (sample.library) expectAgrees(score.metrics.ssim!, sample.ssimLibrary!, `image sample ${k} SSIM by ${sample.library}`);
    });
    expectAllAgree(imageToImageScorer.aggregate(scores.map((s) => s.stats)).metrics, reference.imageToImage.aggregate, 'image aggregate');
    expect(scores[2]!.metrics).toEqual({ psnr: 100, ssim: expect.closeTo(1, 12) });
  });
});
