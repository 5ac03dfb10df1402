import sharp from 'sharp';
import type { RgbImage } from '../../imaging/image-decoder';
import { sameSize } from '../../imaging/resize-plan';
import { normalizeDenseMap, resizeDenseMap } from '../dense-map/dense-map.postprocess';
import { pngOptions } from '../../imaging/png-encoding';
import { segmentationOutputFeatures } from '../../features/output-features';
import { inputPixels, jsonArtifact, pngArtifact, type TaskPipeline } from '../task-pipeline';
import { argmaxClasses, backgroundIndex, classCounts, classScores, sigmoid, vocPalette } from './class-maps';

interface Segmented {
  /** Class index per pixel, at the input's size. */
  classes: Uint8Array;
  /** Foreground opacity per pixel (0..255), at the input's size. */
  alpha: Uint8Array;
  labels: string[];
  counts: number[];
  /** One sigmoid channel: the mask is foreground 255 / background 0, not class indices. */
  binary: boolean;
}

/**
 * Per-pixel class scores → a class-index mask, a colour overlay on the input, per-class pixel
 * shares and a cut-out. A model with one channel is a binary foreground model: its sigmoid is the
 * cut-out's alpha and the mask is foreground (255) / background (0).
 */
export const segmentationTask: TaskPipeline<'segmentation', Segmented> = {
  drawsOnInput: true,

  async postprocess(input) {
    const { spec, output } = input;
    const rgb = inputPixels(input);
    const scores = classScores(output, spec.output.layout);
    const modelSize = { width: scores.width, height: scores.height };
    if (scores.channels === 1) {
      const prob = new Float32Array(scores.width * scores.height);
      for (let i = 0; i < prob.length; i++) prob[i] = spec.output.kind === 'logits' ? sigmoid(scores.at(0, i)) : scores.at(0, i);
      const soft = await resizeDenseMap(normalizeDenseMap(prob, { kind: 'fixed', min: 0, max: 1 }).normalized, modelSize, rgb);
      const alpha = new Uint8Array(soft.length);
      const classes = new Uint8Array(soft.length);
      for (let i = 0; i < soft.length; i++) {
        alpha[i] = (soft[i]! + 128) / 257;
        classes[i] = soft[i]! >= 32768 ? 1 : 0;
      }
      const labels = spec.labels?.length === 2 ? spec.labels : ['background', 'foreground'];
      return { classes, alpha, labels, counts: classCounts(classes, 2), binary: true };
    }
    const modelClasses = argmaxClasses(scores);
    const classes = sameSize(modelSize, rgb)
      ? modelClasses
      : new Uint8Array(
          await sharp(modelClasses, { raw: { ...modelSize, channels: 1 } })
            .resize(rgb.width, rgb.height, { fit: 'fill', kernel: 'nearest' })
            .toColourspace('b-w')
            .raw()
            .toBuffer(),
        );
    const labels = Array.from({ length: scores.channels }, (_, i) => spec.labels?.[i] ?? `class_${i}`);
    const background = backgroundIndex(labels);
    const alpha = new Uint8Array(classes.length);
    for (let i = 0; i < classes.length; i++) alpha[i] = classes[i] === background ? 0 : 255;
    return { classes, alpha, labels, counts: classCounts(classes, scores.channels), binary: false };
  },

  async encode({ classes, alpha, labels, counts, binary }, input) {
    const { options, modelInput, png: encoding } = input;
    const rgb = inputPixels(input);
    const png = pngOptions(encoding);
    const total = classes.length;
    const shares = counts
      .map((pixels, index) => ({
        index,
        label: labels[index] ?? `class_${index}`,
        pixels,
        share: Math.round((pixels / total) * 1e6) / 1e6,
      }))
      .filter((c) => c.pixels > 0)
      .sort((a, b) => b.pixels - a.pixels);
    const maskPixels = binary ? classes.map((c) => c * 255) : classes;
    const [mask, overlay, cutout] = await Promise.all([
      sharp(maskPixels, { raw: { width: rgb.width, height: rgb.height, channels: 1 } })
        .toColourspace('b-w')
        .png(png)
        .toBuffer(),
      sharp(drawOverlay(rgb, classes, labels, options.opacity), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
        .png(png)
        .toBuffer(),
      sharp(withAlpha(rgb, alpha), { raw: { width: rgb.width, height: rgb.height, channels: 4 } })
        .png(png)
        .toBuffer(),
    ]);
    return {
      primary: options.output,
      artifacts: [
        pngArtifact('overlay', overlay, rgb),
        pngArtifact('mask', mask, rgb),
        jsonArtifact('shares', { width: rgb.width, height: rgb.height, classes: shares }),
        pngArtifact('cutout', cutout, rgb),
      ],
      summary: {
        task: 'segmentation',
        classes: shares.slice(0, 5).map(({ index, label, share }) => ({ index, label, share })),
        modelInput,
      },
      features: () => segmentationOutputFeatures(counts, labels),
    };
  },
};

/** Class colours blended over the input; the background is left as it is. */
export function drawOverlay(rgb: RgbImage, classes: Uint8Array, labels: readonly string[], opacity: number): Buffer {
  const palette = vocPalette(Math.max(labels.length, 2));
  const background = backgroundIndex(labels);
  const out = Buffer.from(rgb.data);
  for (let i = 0, p = 0; i < classes.length; i++, p += 3) {
    const c = classes[i]!;
    if (c === background) continue;
    for (let k = 0; k < 3; k++) out[p + k] = Math.round((1 - opacity) * rgb.data[p + k]! + opacity * palette[c * 3 + k]!);
  }
  return out;
}

function withAlpha(rgb: RgbImage, alpha: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(alpha.length * 4);
  for (let i = 0; i < alpha.length; i++) {
    out[i * 4] = rgb.data[i * 3]!;
    out[i * 4 + 1] = rgb.data[i * 3 + 1]!;
    out[i * 4 + 2] = rgb.data[i * 3 + 2]!;
    out[i * 4 + 3] = alpha[i]!;
  }
  return out;
}
