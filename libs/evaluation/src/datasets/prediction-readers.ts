import { z } from 'zod';
import type { TaskName } from '@fathom/contracts';
import { decodeGreyValues, decodeImagePixels } from './images';
import { decodeNpy, npyImageSize } from './npy';
import type { PredictionOf } from '../types';

/** A job's artifacts by name (`raw`, `mask`, `labels`, `boxes`, `image`), as the store returns them. */
export type JobArtifacts = Readonly<Record<string, { bytes: Buffer; contentType: string }>>;

/** An artifact that is missing or not what its task writes: the worker's fault, not the dataset's. */
export class PredictionError extends Error {
  constructor(
    readonly artifact: string,
    message: string,
  ) {
    super(`artifact ${artifact}: ${message}`);
    this.name = 'PredictionError';
  }
}

/** The artifact each task's prediction is read from. */
export const PREDICTION_ARTIFACT = {
  depth: 'raw',
  segmentation: 'mask',
  classification: 'labels',
  'text-detection': 'boxes',
  'image-to-image': 'image',
} as const satisfies Record<TaskName, string>;

const labelsArtifactSchema = z.object({
  top: z.array(z.object({ index: z.number().int(), label: z.string(), probability: z.number() })),
});
const boxesArtifactSchema = z.object({
  boxes: z.array(z.object({ points: z.array(z.tuple([z.number(), z.number()])), score: z.number().optional() })),
});

/** A job's prediction, read from the artifact its task writes. */
export async function readPrediction<T extends TaskName>(task: T, artifacts: JobArtifacts): Promise<PredictionOf<T>> {
  const name = PREDICTION_ARTIFACT[task];
  const artifact = artifacts[name];
  if (!artifact) throw new PredictionError(name, `missing (the job wrote ${Object.keys(artifacts).join(', ') || 'nothing'})`);
  try {
    return (await decode(task, artifact.bytes)) as PredictionOf<T>;
  } catch (error) {
    if (error instanceof PredictionError) throw error;
    throw new PredictionError(name, (error as Error).message);
  }
}

async function decode(task: TaskName, bytes: Buffer): Promise<PredictionOf<TaskName>> {
  switch (task) {
    case 'depth': {
      const array = decodeNpy(bytes);
      const size = npyImageSize(array.shape);
      if (array.dtype !== 'float32' || !size)
        throw new Error(`a ${array.dtype} array of shape (${array.shape.join(', ')}); the raw depth is float32 (height, width)`);
      return { ...size, values: array.data as Float32Array };
    }
    case 'segmentation': {
      const { width, height, values } = await decodeGreyValues(bytes);
      if (!(values instanceof Uint8Array)) throw new Error('a 16-bit PNG; the mask is 8-bit class indices');
      return { width, height, classes: values };
    }
    case 'classification':
      return { top: labelsArtifactSchema.parse(JSON.parse(bytes.toString('utf8'))).top };
    case 'text-detection': {
      const { boxes } = boxesArtifactSchema.parse(JSON.parse(bytes.toString('utf8')));
      return { polygons: boxes.map((b) => b.points.map(([x, y]) => [x, y] as const)) };
    }
    case 'image-to-image':
      return decodeImagePixels(bytes);
  }
}
