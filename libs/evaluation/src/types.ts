import type { DepthOutputKind, TaskName } from '@fathom/contracts';

/**
 * What the metrics compare, per task: a job's prediction (read from its artifacts) and a sample's
 * ground truth (read from the dataset). Images and maps are row-major, width × height; a
 * prediction is at the ground truth's size (the worker draws results at the input's size, and a
 * dataset's ground truth is at its image's size).
 */
export interface DepthPrediction {
  width: number;
  height: number;
  /** The model's raw output (the `raw` artifact of an evaluation job), float32. */
  values: Float32Array;
}
export interface DepthTruth {
  width: number;
  height: number;
  /** Metres; NaN, 0 or below = no ground truth there. */
  depth: Float32Array;
  /** Non-zero where the ground truth is valid (the dataset's optional mask), else every finite depth > 0. */
  valid?: Uint8Array;
}

export interface SegmentationPrediction {
  width: number;
  height: number;
  /** Class index per pixel (the `mask` artifact). */
  classes: Uint8Array;
}
export interface SegmentationTruth {
  width: number;
  height: number;
  classes: Uint8Array | Uint16Array;
  /** A class index that is not scored (255 in VOC); null: every pixel is. */
  ignoreIndex: number | null;
  /** Classes counted in mIoU: the dataset's labels' count. */
  numClasses: number;
  labels?: readonly string[];
}

export interface ClassificationPrediction {
  /** Best first (the `labels` artifact). */
  top: ReadonlyArray<{ index: number; label: string; probability: number }>;
}
export interface ClassificationTruth {
  /** Compared with the predicted labels by name. */
  label: string;
  /** Every label of the dataset, for per-class figures and the confusion matrix. */
  labels: readonly string[];
}

export type Point = readonly [number, number];
export type Polygon = readonly Point[];
export interface TextDetectionPrediction {
  polygons: readonly Polygon[];
}
export interface TextDetectionTruth {
  polygons: readonly Polygon[];
  /** Per polygon: true = "don't care" (ICDAR's ###): matching it neither helps nor hurts. */
  ignore?: readonly boolean[];
}

export interface ImagePixels {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB), 8 bits each. */
  channels: 1 | 3;
  pixels: Uint8Array;
}
export type ImageToImagePrediction = ImagePixels;
export type ImageToImageTruth = ImagePixels;

export interface PredictionMap {
  depth: DepthPrediction;
  segmentation: SegmentationPrediction;
  classification: ClassificationPrediction;
  'text-detection': TextDetectionPrediction;
  'image-to-image': ImageToImagePrediction;
}
export interface TruthMap {
  depth: DepthTruth;
  segmentation: SegmentationTruth;
  classification: ClassificationTruth;
  'text-detection': TextDetectionTruth;
  'image-to-image': ImageToImageTruth;
}
export type PredictionOf<T extends TaskName> = PredictionMap[T];
export type TruthOf<T extends TaskName> = TruthMap[T];

/** How a sample is scored beyond its prediction and truth. */
export interface ScoreOptions {
  /** Depth: the model's output kind (the manifest's evaluation.depth; relative-inverse by default). */
  depthOutput?: DepthOutputKind;
  /** Depth: ground truth outside [min, max] metres is not scored (the dataset's `depth.range`). */
  depthRange?: { min: number; max: number };
}

/** One sample scored: its metrics (as samples.jsonl shows them) and what the aggregate is computed from. */
export interface SampleScore<S = unknown> {
  metrics: Record<string, number>;
  /** JSON-serialisable sufficient statistics: the aggregate and the bootstrap recompute from these. */
  stats: S;
}

export interface Aggregate {
  /** Every metric TASK_METRICS declares for the task. */
  metrics: Record<string, number>;
  details?: Record<string, unknown>;
}

/** A task's metrics: score one sample; aggregate any multiset of samples' statistics (the bootstrap resamples them). */
export interface TaskScorer<T extends TaskName, S = unknown> {
  score(prediction: PredictionOf<T>, truth: TruthOf<T>, options: ScoreOptions): SampleScore<S>;
  aggregate(stats: readonly S[]): Aggregate;
  /** The per-sample figure the report ranks samples by, worst first (lower = worse after this). */
  rank(score: SampleScore<S>): number;
}
