import type { TaskPipeline } from '../task-pipeline';
import { jsonArtifact, pngArtifact } from '../task-pipeline';
import { encodeDenseMap, normalizeDenseMap, resizeDenseMap } from '../dense-map/dense-map.postprocess';
import { denseMapValues } from '../dense-map/dense-map.values';
import { detectTextBoxes, type TextBox } from './db-boxes';

const round1 = (v: number) => Math.round(v * 10) / 10;

/** A DB text detector's probability map → text boxes (JSON) and a heat map (PNG), at the input's size. */
export const textDetectionTask: TaskPipeline<'text-detection', { boxes: TextBox[]; heat: Uint16Array }> = {
  async postprocess({ rgb, output, options }) {
    const { values, size } = denseMapValues(output);
    const scaleX = rgb.width / size.width;
    const scaleY = rgb.height / size.height;
    const boxes = detectTextBoxes(values, size.width, size.height, {
      threshold: options.threshold,
      boxThreshold: options.boxThreshold,
      minSize: 3,
      unclipRatio: 1.5,
    }).map((box) => ({ ...box, points: box.points.map(([x, y]) => [round1(x * scaleX), round1(y * scaleY)] as [number, number]) }));
    const { normalized } = normalizeDenseMap(values, { kind: 'fixed', min: 0, max: 1 });
    return { boxes, heat: await resizeDenseMap(normalized, size, rgb) };
  },

  async encode({ boxes, heat }, { rgb, options, modelInput }) {
    const { png } = await encodeDenseMap(heat, rgb, { output: 'colormap', colormap: options.colormap });
    return {
      primary: options.output,
      artifacts: [
        jsonArtifact('boxes', { width: rgb.width, height: rgb.height, boxes: boxes.map((b) => ({ points: b.points, score: round1(b.score * 1000) / 1000 })) }),
        pngArtifact('heatmap', png, rgb),
      ],
      summary: { task: 'text-detection', boxes: boxes.length, modelInput },
    };
  },
};
