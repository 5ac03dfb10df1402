import type { KnownModel, PredictionLogSettings, TaskName } from '@fathom/contracts';

/** How an image is resized to a model's input. */
export type ResizeSpec =
  | {
      mode: 'keep-aspect';
      /** Both sides become multiples of this (14 for ViT patches, 32 for DB detectors). */
      multiple: number;
      /** The side length the model was trained at. */
      target: number;
      /**
       * lower-bound: the shorter side reaches `target` (Depth Anything's transform);
       * upper-bound: the longer side is at most `target` (PaddleOCR's det_limit_side_len).
       */
      fit: 'lower-bound' | 'upper-bound';
      /** Cap on the longer side, so a 4096×1 strip cannot ask for a 2-million-pixel-wide tensor. */
      maxSide: number;
    }
  | { mode: 'fixed'; width: number; height: number };

export interface InputSpec {
  /** Input tensor name, e.g. `pixel_values`. */
  name: string;
  layout: 'NCHW' | 'NHWC';
  /**
   * Channel order the model was trained with (OpenCV-trained models often want BGR), or Y: one
   * channel, the luma of YCbCr (BT.601, as PIL's convert('YCbCr')), for super-resolution models
   * that enlarge only Y.
   */
  channels: 'RGB' | 'BGR' | 'Y';
  resize: ResizeSpec;
  /** Per-channel (RGB) normalisation applied to x/255: (x/255 − mean) / std (Y uses the first of each). */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface OutputSpec {
  /** Output tensor name, e.g. `predicted_depth`. */
  name: string;
  /** Where the class/channel axis is, for per-pixel class scores ([N,C,H,W] or [N,H,W,C]). */
  layout: 'NCHW' | 'NHWC';
  /** logits get a softmax (or sigmoid for one channel) where probabilities are needed. */
  kind: 'logits' | 'probabilities' | 'values';
  /** Dense maps: minmax normalises each image by its own range; fixed is a known range such as [0,1]. */
  range: { kind: 'minmax' } | { kind: 'fixed'; min: number; max: number };
}

/** How many jobs one `session.run` may take, and how long the first may wait for the others. */
export interface BatchingSpec {
  /** 1: no batching. Only used when the model's batch axis is dynamic; else jobs run back to back. */
  maxBatch: number;
  /** Once the first job is ready, how long to wait for more with the same input shape. */
  maxDelayMs: number;
}

/** How many channels the model's input has. */
export const channelCount = (input: Pick<InputSpec, 'channels'>): 1 | 3 => (input.channels === 'Y' ? 1 : 3);

/**
 * How an image-to-image model with a fixed input size sees a larger image: tiles of that size,
 * overlapping so that no tile's border (where its convolutions saw padding) reaches the result,
 * run as one batch. Above `maxTiles` the image is shrunk until it fits.
 */
export interface TilingSpec {
  maxTiles: number;
  /** Pixels neighbouring tiles share; each keeps the half nearer its own centre. */
  overlap: number;
}

/**
 * 16 tiles: an 800×800 photo at 224×224 tiles (2.4k × 2.4k at ×3); 16 px of overlap leave each
 * kept pixel 8 px from a tile's border, beyond the receptive field of small SR networks (sub-pixel
 * CNN: 5+3+3+3 kernels, 5 px).
 */
export const DEFAULT_TILING: TilingSpec = { maxTiles: 16, overlap: 16 };

/** Jobs run one by one unless a manifest asks for batches. */
export const NO_BATCHING: BatchingSpec = { maxBatch: 1, maxDelayMs: 0 };
/** What `batching: { maxBatch: n }` waits when it gives no delay. */
export const DEFAULT_BATCH_DELAY_MS = 5;

/** Where a model's weights come from, resolved to a file on this machine. */
export type WeightsSource =
  | { kind: 'path'; path: string }
  | { kind: 'npm'; path: string; module: string }
  | { kind: 'url'; path: string; url: string; sha256: string; bytes?: number }
  /** A registered deployment's weights, fetched from Fathom's object store into `<cache>/store/<sha256>.onnx` (ADR 0015). */
  | { kind: 'store'; path: string; sha256: string; bytes: number };

/** A model version (or one of its variants) a worker can load: weights plus the contract around them. */
export type ModelEvaluation = NonNullable<KnownModel['evaluation']>;

export interface ModelSpec {
  name: string;
  version: string;
  task: TaskName;
  /** Absolute path of the .onnx file (for a URL source: where `models pull` puts it). */
  weights: string;
  source: WeightsSource;
  /** A named fine-tune (its own weights), when this spec is one. */
  variant?: string;
  input: InputSpec;
  output: OutputSpec;
  batching: BatchingSpec;
  /** image-to-image with a fixed input size: how the image is tiled (DEFAULT_TILING when absent). */
  tiling?: TilingSpec;
  /** Class names in output order (classification, segmentation). */
  labels?: string[];
  /** Task options used when a client does not set them (checked against the task's schema). */
  defaults?: Record<string, unknown>;
  /** How the version is evaluated: a depth model's output kind, the promotion gate (issue 14). */
  evaluation?: ModelEvaluation;
  /** The prediction log's settings for the model: its rows' retention (issue 15). */
  predictions?: PredictionLogSettings;
  description?: string;
  /** The manifest file this came from, named in every message about the model. */
  manifestFile: string;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
