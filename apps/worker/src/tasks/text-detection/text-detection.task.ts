import type { TaskPipeline } from '../task-pipeline';
import { jsonArtifact, pngArtifact } from '../task-pipeline';
import { encodeDenseMap, normalizeDenseMap } from '../dense-map/dense-map.postprocess';
import { denseMapValues } from '../dense-map/dense-map.values';
import { detectTextBoxes, type TextBox } from './db-boxes';
import { textDetectionOutputFeatures } from '../../features/output-features';
import type { Size } from '../../imaging/resize-plan';

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * A DB text detector's probability map → text boxes (JSON) and a heat map (PNG), at the input's
 * size; the heat map is enlarged from the model's size as it is encoded.
 */
export const textDetectionTask: TaskPipeline<'text-detection', { boxes: TextBox[]; heat: Uint16Array; size: Size }> = {
  drawsOnInput: false,

  async postprocess({ image, output, options }) {
    const { values, size } = denseMapValues(output);
    const scaleX = image.width / size.width;
    const scaleY = image.height / size.height;
    const boxes = detectTextBoxes(values, size.width, size.height, {
      threshold: options.threshold,
      boxThreshold: options.boxThreshold,
      minSize: 3,
      unclipRatio: 1.5,
    }).map((box) => ({ ...box, points: box.points.map(([x, y]) => [round1(x * scaleX), round1(y * scaleY)] as [number, number]) }));
    const { normalized } = normalizeDenseMap(values, { kind: 'fixed', min: 0, max: 1 });
    return { boxes, heat: normalized, size };
  },

  async encode({ boxes, heat, size }, { image, options, modelInput, png: encoding }) {
    const { png } = await encodeDenseMap(heat, size, image, { output: 'colormap', colormap: options.colormap }, encoding);
    return {
      primary: options.output,
      artifacts: [
        jsonArtifact('boxes', {
          width: image.width,
          height: image.height,
          boxes: boxes.map((b) => ({ points: b.points, score: round1(b.score * 1000) / 1000 })),
        }),
        pngArtifact('heatmap', png, image),
      ],
      summary: { task: 'text-detection', boxes: boxes.length, modelInput },
      // Boxes in the input's pixels (scaled in postprocess), scores unrounded.
      features: () => textDetectionOutputFeatures(boxes, image),
    };
  },
};
