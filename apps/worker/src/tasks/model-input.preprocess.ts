import { decodeFull, decodeResized, resizeRgb, type RgbImage, type UploadHeader } from '../imaging/image-decoder';
import { lumaPlane } from '../imaging/ycbcr';
import { planModelInputSize, type Size } from '../imaging/resize-plan';
import type { InputSpec } from '@fathom/models';

export interface InputTensor {
  data: Float32Array;
  dims: number[];
  width: number;
  height: number;
}

/** An upload made ready for a model: its tensor, the size it is displayed at, and its pixels when kept. */
export interface PreparedInput {
  tensor: InputTensor;
  /** The upload's size as displayed (EXIF orientation applied): results are drawn at this size. */
  image: Size;
  /** The full-size pixels, for tasks that draw on the input (keepPixels). */
  rgb?: RgbImage;
  /** What the input's features (issue 15) are computed on; dropped once they are. */
  forFeatures: FeatureSource;
}

/**
 * The pixels the input's features are computed on — the model's input size wherever the model has
 * one (the same for every job of a model, so that sharpness and the like compare across jobs) —
 * and what the decoder read from the header.
 */
export interface FeatureSource {
  pixels: RgbImage;
  header: UploadHeader;
}

/**
 * Upload bytes → the model's input. A task that draws on the input gets its full-size pixels, and
 * the tensor is resized from them; any other is decoded straight to the model's size in one pass.
 * `onPreprocess` marks where decoding ends (the stage timings).
 */
export async function prepareModelInput(
  bytes: Buffer,
  input: InputSpec,
  opts: { maxPixels: number; keepPixels: boolean; onPreprocess?: () => void },
): Promise<PreparedInput> {
  if (opts.keepPixels) {
    const { rgb, displayed, header } = await decodeFull(bytes, opts);
    opts.onPreprocess?.();
    const pixels = await modelSizePixels(rgb, input);
    return { tensor: tensorFromPixels(pixels, input), image: displayed, rgb, forFeatures: { pixels, header } };
  }
  const { rgb, displayed, header } = await decodeResized(bytes, {
    maxPixels: opts.maxPixels,
    sizeFor: ({ width, height }) => planModelInputSize(width, height, input.resize),
  });
  opts.onPreprocess?.();
  return { tensor: tensorFromPixels(rgb, input), image: displayed, forFeatures: { pixels: rgb, header } };
}

/** RGB → the model's input: resized (bicubic) to its planned size, then as tensorFromPixels. */
export async function buildInputTensor(rgb: RgbImage, input: InputSpec): Promise<InputTensor> {
  return tensorFromPixels(await modelSizePixels(rgb, input), input);
}

/** RGB resized (bicubic) to the size the model's input is planned at. */
function modelSizePixels(rgb: RgbImage, input: InputSpec): Promise<RgbImage> {
  return resizeRgb(rgb, planModelInputSize(rgb.width, rgb.height, input.resize));
}

/** Pixels already at the model's size → RGB, BGR or Y, (x/255 − mean)/std, NCHW or NHWC. */
export function tensorFromPixels(rgb: RgbImage, input: InputSpec): InputTensor {
  const { width, height, data: pixels } = rgb;
  const plane = width * height;
  if (input.channels === 'Y') {
    // One channel: NCHW and NHWC hold the same numbers, in the same order.
    const data = lumaPlane(rgb);
    const scale = 1 / (255 * input.std[0]);
    const offset = -input.mean[0] / input.std[0];
    for (let i = 0; i < plane; i++) data[i] = data[i]! * scale + offset;
    return { data, dims: input.layout === 'NCHW' ? [1, 1, height, width] : [1, height, width, 1], width, height };
  }
  const data = new Float32Array(3 * plane);
  // Per channel: value = x * scale + offset, with scale = 1/(255·std) and offset = −mean/std.
  const scale = input.std.map((s) => 1 / (255 * s));
  const offset = input.mean.map((m, c) => -m / input.std[c]!);
  const [s0, s1, s2] = scale as [number, number, number];
  const [o0, o1, o2] = offset as [number, number, number];
  // Model channel k reads source channel k (RGB) or 2 − k (BGR); mean/std are in model order.
  const [r0, r1, r2] = input.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  if (input.layout === 'NCHW') {
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      data[i] = pixels[p + r0]! * s0 + o0;
      data[plane + i] = pixels[p + r1]! * s1 + o1;
      data[2 * plane + i] = pixels[p + r2]! * s2 + o2;
    }
    return { data, dims: [1, 3, height, width], width, height };
  }
  for (let p = 0; p < 3 * plane; p += 3) {
    data[p] = pixels[p + r0]! * s0 + o0;
    data[p + 1] = pixels[p + r1]! * s1 + o1;
    data[p + 2] = pixels[p + r2]! * s2 + o2;
  }
  return { data, dims: [1, height, width, 3], width, height };
}
