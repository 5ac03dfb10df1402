import type { DriftRow } from '@fathom/drift';
import { buildReferenceProfile, compareWithReference } from '@fathom/drift';
import { inputFeatures, type RgbPixels } from './input-features';

/**
 * The worker's real input features, computed on pixels, fed to drift: seeded synthetic photos
 * (sky over ground, a few objects, sensor noise, a random exposure per photo) at a small
 * 32×24 (to keep 30 000 photos quick), and the same generator's photos darkened or blurred pixel by pixel. Drift's own
 * simulations model these changes on features; this checks that the pixels move them as modelled.
 */
const WIDTH = 32;
const HEIGHT = 24;
const REFERENCE = 300;
const WINDOW = 200;
const SPLITS = 20;

// Module-level copies: under jest's vm context every global look-up (Math) is slow, and the loops make millions.
const { floor, imul, max, min, round } = Math;

/** mulberry32, a small seeded 32-bit PRNG uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clampByte = (v: number): number => max(0, min(255, round(v)));

function photo(random: () => number): RgbPixels {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  const exposure = 0.6 + 0.8 * random();
  const horizon = floor(HEIGHT * (0.3 + 0.4 * random()));
  const sky = [120 + 100 * random(), 150 + 80 * random(), 200 + 55 * random()];
  const ground = [40 + 120 * random(), 60 + 100 * random(), 20 + 80 * random()];
  const objects = Array.from({ length: 1 + floor(random() * 4) }, () => ({
    x: floor(random() * WIDTH),
    y: floor(random() * HEIGHT),
    w: 2 + floor(random() * 10),
    h: 2 + floor(random() * 10),
    colour: [255 * random(), 255 * random(), 255 * random()],
  }));
  for (let y = 0; y < HEIGHT; y++) {
    const background = y < horizon ? sky.map((c) => c * (0.8 + (0.2 * y) / horizon)) : ground;
    for (let x = 0; x < WIDTH; x++) {
      const object = objects.find((o) => x >= o.x && x < o.x + o.w && y >= o.y && y < o.y + o.h);
      const base = object ? object.colour : background;
      const noise = 12 * (random() - 0.5);
      for (let c = 0; c < 3; c++) data[(y * WIDTH + x) * 3 + c] = clampByte(base[c]! * exposure + noise);
    }
  }
  return { data, width: WIDTH, height: HEIGHT };
}

/** Every pixel value ×factor: an underexposed camera. */
function darkened({ data, width, height }: RgbPixels, factor: number): RgbPixels {
  return { data: data.map((v) => clampByte(v * factor)), width, height };
}

/** A 3×3 box blur, edges clamped: an out-of-focus camera. */
function blurred({ data, width, height }: RgbPixels): RgbPixels {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = min(height - 1, max(0, y + dy));
            const xx = min(width - 1, max(0, x + dx));
            sum += data[(yy * width + xx) * 3 + c]!;
          }
        }
        out[(y * width + x) * 3 + c] = round(sum / 9);
      }
    }
  }
  return { data: out, width, height };
}

function rows(random: () => number, count: number, change: (pixels: RgbPixels) => RgbPixels = (pixels) => pixels): DriftRow[] {
  return Array.from({ length: count }, () => ({
    // The upload's own facts drawn alike on both sides: only the pixels differ.
    input: inputFeatures(change(photo(random)), {
      bytes: 200_000 + floor(random() * 300_000),
      format: 'jpeg',
      width: 4032,
      height: 3024,
    }),
    output: null,
  }));
}

/** Windows of WINDOW photos, each against its own reference of REFERENCE, that drift flags on the input side. */
function flaggedSplits(seed: number, change?: (pixels: RgbPixels) => RgbPixels): number {
  const random = mulberry32(seed);
  let flagged = 0;
  for (let split = 0; split < SPLITS; split++) {
    const profile = buildReferenceProfile('depth', rows(random, REFERENCE));
    if (compareWithReference(profile, rows(random, WINDOW, change)).flagged.input) flagged++;
  }
  return flagged;
}

describe('drift on the worker’s input features of real pixels (20 splits: references of 300 photos, windows of 200)', () => {
  it('flags at most 1 of 20 windows of the same kind of photo', () => {
    expect(flaggedSplits(1)).toBeLessThanOrEqual(1);
  });

  it('flags every window of photos darkened to 0.6 of their values', () => {
    expect(flaggedSplits(2, (pixels) => darkened(pixels, 0.6))).toBe(SPLITS);
  });

  it('flags every window of blurred photos', () => {
    expect(flaggedSplits(3, blurred)).toBe(SPLITS);
  });
});
