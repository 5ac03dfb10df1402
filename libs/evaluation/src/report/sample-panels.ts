import sharp, { type Sharp } from 'sharp';
import type { TaskName } from '@fathom/contracts';
import { colormapLut } from '@fathom/imaging';
import { alignDepth, depthValidMask } from '../metrics/depth-alignment';
import type { ImagePixels, Polygon, PredictionOf, ScoreOptions, TruthOf } from '../types';
import { matchPolygons } from './polygon-match';

/** The longest side of a panel's picture: a report of a few dozen samples stays a few MB. */
export const PANEL_MAX_SIDE = 320;
/** The depth error map's colour scale ends here: AbsRel 0.5 and above are all the top colour. */
export const DEPTH_ERROR_CAP = 0.5;

export type Legend =
  /** A colour scale, low to high, with what its ends mean. */
  { kind: 'scale'; colours: string[]; from: string; to: string } | { kind: 'swatches'; entries: Array<{ colour: string; label: string }> };

export interface ImagePanel {
  kind: 'image';
  caption: string;
  mime: 'image/png' | 'image/jpeg';
  data: Buffer;
  width: number;
  height: number;
  legend?: Legend;
}
export interface TextPanel {
  kind: 'text';
  caption: string;
  lines: Array<{ text: string; tone?: 'good' | 'bad' }>;
}
export type Panel = ImagePanel | TextPanel;

/** One sample as the report shows it: input | prediction | ground truth | error. */
export interface SamplePanels {
  input: Panel;
  prediction: Panel;
  truth: Panel;
  error?: Panel;
}

export interface PanelSources<T extends TaskName> {
  /** The sample's input image file. */
  image: Buffer;
  prediction: PredictionOf<T>;
  /** The job's primary artifact (the colourised depth map, the overlay), shown as the prediction where given. */
  predictionImage?: Buffer;
  truth: TruthOf<T>;
  options: ScoreOptions;
}

const RENDERERS: { [T in TaskName]: (sources: PanelSources<T>) => Promise<SamplePanels> } = {
  depth: depthPanels,
  segmentation: segmentationPanels,
  classification: classificationPanels,
  'text-detection': textDetectionPanels,
  'image-to-image': imageToImagePanels,
};

/** The pictures (or text) the report shows for one sample of `task`, each at most PANEL_MAX_SIDE on a side. */
export function renderPanels<T extends TaskName>(task: T, sources: PanelSources<T>): Promise<SamplePanels> {
  return (RENDERERS[task] as (sources: PanelSources<T>) => Promise<SamplePanels>)(sources);
}

// --- depth --------------------------------------------------------------------------------------

async function depthPanels({ image, prediction, predictionImage, truth, options }: PanelSources<'depth'>): Promise<SamplePanels> {
  const { width, height, depth } = truth;
  const mask = depthValidMask(truth, options);
  const aligned = alignDepth(prediction, truth, options);
  const turbo = colormapLut('turbo');

  // Truth and a prediction drawn from the raw map share one scale: disparity (near = the warm end, as the worker draws it).
  let near = 0;
  let far = Infinity;
  for (let i = 0; i < depth.length; i++) {
    if (mask[i] === 0) continue;
    const inverse = 1 / depth[i]!;
    if (inverse > near) near = inverse;
    if (inverse < far) far = inverse;
  }
  const span = near > far ? near - far : 1;
  const shade = (metres: number) => clampIndex(((1 / metres - far) / span) * 255);
  const truthRgb = new Uint8Array(width * height * 3);
  const errorRgb = new Uint8Array(width * height * 3);
  let scored = 0;
  let sum = 0;
  for (let i = 0; i < depth.length; i++) {
    if (mask[i] === 0) continue; // black: no ground truth here
    const g = depth[i]!;
    putLut(truthRgb, i, turbo, shade(g));
    const error = Math.abs(aligned[i]! - g) / g;
    putLut(
      errorRgb,
      i,
      turbo,
      clampIndex((Math.min(Number.isFinite(error) ? error : DEPTH_ERROR_CAP, DEPTH_ERROR_CAP) / DEPTH_ERROR_CAP) * 255),
    );
    scored++;
    sum += error;
  }
  const depthScale: Legend = {
    kind: 'scale',
    colours: lutStops(turbo),
    from: far > 0 && Number.isFinite(far) ? `${(1 / far).toFixed(2)} m` : 'far',
    to: near > 0 ? `${(1 / near).toFixed(2)} m` : 'near',
  };

  let predictionPanel: ImagePanel;
  if (predictionImage) {
    predictionPanel = await encodedPanel(predictionImage, 'prediction', 'png');
  } else {
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < aligned.length; i++) if (aligned[i]! > 0) putLut(rgb, i, turbo, shade(aligned[i]!));
    const caption = options.depthOutput === 'metric' ? 'prediction' : 'prediction (aligned to the ground truth)';
    predictionPanel = { ...(await rawPanel({ width, height, channels: 3, pixels: rgb }, caption, 'png')), legend: depthScale };
  }
  const meanText = scored > 0 ? `, mean ${(sum / scored).toFixed(3)}` : '';
  return {
    input: await encodedPanel(image, 'input', 'jpeg'),
    prediction: predictionPanel,
    truth: {
      ...(await rawPanel({ width, height, channels: 3, pixels: truthRgb }, 'ground truth (black: none)', 'png')),
      legend: depthScale,
    },
    error: {
      ...(await rawPanel({ width, height, channels: 3, pixels: errorRgb }, `|p − g| / g per pixel${meanText}`, 'png')),
      legend: { kind: 'scale', colours: lutStops(turbo), from: '0', to: `≥ ${DEPTH_ERROR_CAP}` },
    },
  };
}

// --- segmentation -------------------------------------------------------------------------------

/** Pascal VOC's colour for each class index (its devkit's bit-interleaving), 255 and all. */
export function vocColour(index: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let bit = 7, c = index; bit >= 0; bit--, c >>= 3) {
    r |= (c & 1) << bit;
    g |= ((c >> 1) & 1) << bit;
    b |= ((c >> 2) & 1) << bit;
  }
  return [r, g, b];
}

/** Error map colours: a wrongly classified pixel, and one the ground truth does not score. */
export const WRONG_PIXEL: readonly [number, number, number] = [255, 0, 0];
export const IGNORED_PIXEL: readonly [number, number, number] = [128, 128, 128];

async function segmentationPanels({ image, prediction, truth }: PanelSources<'segmentation'>): Promise<SamplePanels> {
  const { width, height, ignoreIndex } = truth;
  const photo = await decodeRgb(image, width, height);
  const truthRgb = new Uint8Array(width * height * 3);
  const predictedRgb = new Uint8Array(width * height * 3);
  const errorRgb = new Uint8Array(width * height * 3);
  const seen = new Set<number>();
  let wrong = 0;
  let scored = 0;
  for (let i = 0; i < width * height; i++) {
    const t = truth.classes[i]!;
    const p = prediction.classes[i]!;
    const o = i * 3;
    const ignored = ignoreIndex !== null && t === ignoreIndex;
    blend(truthRgb, photo, o, ignored ? IGNORED_PIXEL : vocColour(t));
    blend(predictedRgb, photo, o, vocColour(p));
    seen.add(p);
    if (!ignored) seen.add(t);
    let colour: readonly number[];
    if (ignored) colour = IGNORED_PIXEL;
    else if (t !== p) {
      colour = WRONG_PIXEL;
      wrong++;
    } else {
      // A right pixel is the photo, dimmed and grey, so the red ones stand out (and none is pure red).
      const grey = Math.round((photo[o]! + photo[o + 1]! + photo[o + 2]!) / 6);
      colour = [grey, grey, grey];
    }
    scored += ignored ? 0 : 1;
    errorRgb.set(colour, o);
  }
  const classes: Legend = {
    kind: 'swatches',
    entries: [...seen]
      .sort((a, b) => a - b)
      .map((index) => ({ colour: hex(vocColour(index)), label: truth.labels?.[index] ?? `class ${index}` })),
  };
  const share = scored > 0 ? ` (${((100 * wrong) / scored).toFixed(1)} %)` : '';
  return {
    input: await encodedPanel(image, 'input', 'jpeg'),
    prediction: { ...(await rawPanel({ width, height, channels: 3, pixels: predictedRgb }, 'prediction', 'png')), legend: classes },
    truth: await rawPanel({ width, height, channels: 3, pixels: truthRgb }, 'ground truth', 'png'),
    error: {
      ...(await rawPanel({ width, height, channels: 3, pixels: errorRgb }, `${wrong} wrong pixels${share}`, 'png')),
      legend: {
        kind: 'swatches',
        entries: [
          { colour: hex(WRONG_PIXEL), label: 'wrong' },
          { colour: hex(IGNORED_PIXEL), label: 'not scored' },
        ],
      },
    },
  };
}

// --- classification -----------------------------------------------------------------------------

async function classificationPanels({ image, prediction, truth }: PanelSources<'classification'>): Promise<SamplePanels> {
  const rank = prediction.top.findIndex((entry) => entry.label === truth.label);
  const verdict =
    rank === 0
      ? { text: '✓ top-1 right', tone: 'good' as const }
      : rank > 0
        ? { text: `✗ top-1 wrong; the truth is #${rank + 1}`, tone: 'bad' as const }
        : { text: `✗ the truth is not in the top ${prediction.top.length}`, tone: 'bad' as const };
  return {
    input: await encodedPanel(image, 'input', 'jpeg'),
    prediction: {
      kind: 'text',
      caption: `prediction (top ${prediction.top.length})`,
      lines: prediction.top.map((entry, i) => ({
        text: `${i + 1}. ${entry.label} — ${(entry.probability * 100).toFixed(1)} %`,
        ...(entry.label === truth.label ? { tone: 'good' as const } : {}),
      })),
    },
    truth: { kind: 'text', caption: 'ground truth', lines: [{ text: truth.label }] },
    error: { kind: 'text', caption: 'verdict', lines: [verdict] },
  };
}

// --- text detection -----------------------------------------------------------------------------

/** Outline colours: ground truth, a prediction matched to it (IoU ≥ 0.5), one matched to nothing, a "don't care" region. */
export const TEXT_COLOURS = { truth: '#16a34a', matched: '#2563eb', unmatched: '#dc2626', ignored: '#9ca3af' } as const;

async function textDetectionPanels({ image, prediction, truth }: PanelSources<'text-detection'>): Promise<SamplePanels> {
  const photo = await sharp(image, { pages: 1 })
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = photo.info;
  const match = matchPolygons(prediction.polygons, truth.polygons, truth.ignore ?? [], width, height);
  const truthOutlines = truth.polygons.map((polygon, i) => ({
    polygon,
    colour: truth.ignore?.[i] ? TEXT_COLOURS.ignored : TEXT_COLOURS.truth,
  }));
  const predictedOutlines = prediction.polygons.map((polygon, i) => ({
    polygon,
    colour: match.prediction[i] === 'unmatched' ? TEXT_COLOURS.unmatched : TEXT_COLOURS.matched,
  }));
  const draw = (outlines: Array<{ polygon: Polygon; colour: string }>, caption: string) =>
    outlinedPanel({ width, height, channels: 3, pixels: photo.data }, outlines, caption);
  const swatches = (entries: Array<[string, string]>): Legend => ({
    kind: 'swatches',
    entries: entries.map(([colour, label]) => ({ colour, label })),
  });
  const missed = truth.polygons.length - match.matched - match.ignoredTruths;
  return {
    input: await encodedPanel(image, 'input', 'jpeg'),
    prediction: {
      ...(await draw(predictedOutlines, `prediction: ${prediction.polygons.length} regions`)),
      legend: swatches([
        [TEXT_COLOURS.matched, 'matched'],
        [TEXT_COLOURS.unmatched, 'unmatched'],
      ]),
    },
    truth: await draw(truthOutlines, `ground truth: ${truth.polygons.length} regions`),
    error: {
      ...(await draw(
        [...truthOutlines, ...predictedOutlines],
        `${match.matched} matched, ${match.falsePositives} false, ${missed} missed`,
      )),
      legend: swatches([
        [TEXT_COLOURS.truth, 'truth'],
        [TEXT_COLOURS.matched, 'matched'],
        [TEXT_COLOURS.unmatched, 'unmatched'],
        [TEXT_COLOURS.ignored, "don't care"],
      ]),
    },
  };
}

/** The picture at panel size with polygon outlines drawn over it (an SVG layer composited by sharp). */
async function outlinedPanel(
  pixels: ImagePixels,
  outlines: Array<{ polygon: Polygon; colour: string }>,
  caption: string,
): Promise<ImagePanel> {
  const scale = Math.min(1, PANEL_MAX_SIDE / Math.max(pixels.width, pixels.height));
  const width = Math.max(1, Math.round(pixels.width * scale));
  const height = Math.max(1, Math.round(pixels.height * scale));
  const shapes = outlines
    .map(
      ({ polygon, colour }) =>
        `<polygon points="${polygon.map(([x, y]) => `${(x * scale).toFixed(1)},${(y * scale).toFixed(1)}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`,
    )
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes}</svg>`);
  const { data, info } = await sharp(pixels.pixels, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels } })
    .resize(width, height, { fit: 'fill' })
    .composite([{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer({ resolveWithObject: true });
  return { kind: 'image', caption, mime: 'image/png', data, width: info.width, height: info.height };
}

// --- image to image -----------------------------------------------------------------------------

/** The difference map is |prediction − target| × this, in grey: small errors stay visible. */
export const DIFF_GAIN = 4;

async function imageToImagePanels({ image, prediction, predictionImage, truth }: PanelSources<'image-to-image'>): Promise<SamplePanels> {
  const { width, height } = truth;
  const diff = new Uint8Array(width * height);
  if (prediction.width === width && prediction.height === height) {
    for (let i = 0; i < diff.length; i++) diff[i] = clampIndex(Math.abs(luma(prediction, i) - luma(truth, i)) * DIFF_GAIN);
  }
  return {
    input: await encodedPanel(image, 'input', 'jpeg'),
    prediction: predictionImage
      ? await encodedPanel(predictionImage, 'prediction', 'png')
      : await rawPanel(prediction, 'prediction', 'png'),
    truth: await rawPanel(truth, 'target', 'png'),
    error: await rawPanel({ width, height, channels: 1, pixels: diff }, `|prediction − target| × ${DIFF_GAIN}`, 'png'),
  };
}

/** A pixel's mean over its channels (grey stays grey; RGB compared with grey by its mean). */
function luma(image: ImagePixels, i: number): number {
  if (image.channels === 1) return image.pixels[i]!;
  const o = i * 3;
  return (image.pixels[o]! + image.pixels[o + 1]! + image.pixels[o + 2]!) / 3;
}

// --- pictures -----------------------------------------------------------------------------------

/** An image file at panel size (EXIF orientation applied, as the worker reads it). */
async function encodedPanel(file: Buffer, caption: string, format: 'png' | 'jpeg'): Promise<ImagePanel> {
  return finish(sharp(file, { pages: 1 }).autoOrient(), caption, format, 'lanczos3');
}

/** Pixels at panel size; maps are shrunk by nearest neighbour so their colours stay the legend's. */
function rawPanel(image: ImagePixels, caption: string, format: 'png' | 'jpeg'): Promise<ImagePanel> {
  return finish(
    sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: image.channels } }),
    caption,
    format,
    'nearest',
  );
}

async function finish(pipeline: Sharp, caption: string, format: 'png' | 'jpeg', kernel: 'nearest' | 'lanczos3'): Promise<ImagePanel> {
  const resized = pipeline.resize({ width: PANEL_MAX_SIDE, height: PANEL_MAX_SIDE, fit: 'inside', withoutEnlargement: true, kernel });
  const encoded = format === 'jpeg' ? resized.flatten({ background: '#ffffff' }).jpeg({ quality: 80 }) : resized.png();
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  return { kind: 'image', caption, mime: format === 'jpeg' ? 'image/jpeg' : 'image/png', data, width: info.width, height: info.height };
}

/** The image file as RGB at the ground truth's size (the truth is at the image's size; `fill` only guards a mismatch). */
async function decodeRgb(file: Buffer, width: number, height: number): Promise<Uint8Array> {
  const { data } = await sharp(file, { pages: 1 })
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

function blend(target: Uint8Array, photo: Uint8Array, o: number, colour: readonly number[]): void {
  for (let c = 0; c < 3; c++) target[o + c] = Math.round((photo[o + c]! + colour[c]!) / 2);
}

function putLut(target: Uint8Array, i: number, lut: Uint8Array, index: number): void {
  target.set(lut.subarray(index * 3, index * 3 + 3), i * 3);
}

function clampIndex(value: number): number {
  return Number.isFinite(value) ? Math.min(255, Math.max(0, Math.round(value))) : 0;
}

function hex(colour: readonly number[]): string {
  return `#${colour.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Nine evenly spaced colours of a colormap, for a CSS gradient. */
function lutStops(lut: Uint8Array): string[] {
  return Array.from({ length: 9 }, (_, k) => {
    const index = Math.round((k * 255) / 8) * 3;
    return hex([lut[index]!, lut[index + 1]!, lut[index + 2]!]);
  });
}
