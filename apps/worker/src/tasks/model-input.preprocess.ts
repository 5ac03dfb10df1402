import sharp from 'sharp';
import type { RgbImage } from '../imaging/image-decoder';
import { planModelInputSize } from '../imaging/resize-plan';
import type { InputSpec } from '@fathom/models';

export interface InputTensor {
  data: Float32Array;
  dims: number[];
  width: number;
  height: number;
}

/** RGB → the model's input: resized (bicubic) to its planned size, RGB or BGR, (x/255 − mean)/std, NCHW or NHWC. */
export async function buildInputTensor(rgb: RgbImage, input: InputSpec): Promise<InputTensor> {
  const { width, height } = planModelInputSize(rgb.width, rgb.height, input.resize);
  const pixels =
    width === rgb.width && height === rgb.height
      ? rgb.data
      : await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
          .resize(width, height, { fit: 'fill', kernel: 'cubic' })
          .raw()
          .toBuffer();
  const plane = width * height;
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
