import sharp from 'sharp';
import type { RgbImage } from '../../imaging/image-decoder';
import { planModelInputSize } from '../../imaging/resize-plan';
import type { InputSpec } from '../../models/model-spec';

export interface InputTensor {
  data: Float32Array;
  dims: number[];
  width: number;
  height: number;
}

/** RGB → the model's input: resized (bicubic) to its planned size, (x/255 − mean)/std, NCHW or NHWC. */
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
  if (input.layout === 'NCHW') {
    for (let i = 0, p = 0; i < plane; i++, p += 3) {
      data[i] = pixels[p]! * s0 + o0;
      data[plane + i] = pixels[p + 1]! * s1 + o1;
      data[2 * plane + i] = pixels[p + 2]! * s2 + o2;
    }
    return { data, dims: [1, 3, height, width], width, height };
  }
  for (let p = 0; p < 3 * plane; p += 3) {
    data[p] = pixels[p]! * s0 + o0;
    data[p + 1] = pixels[p + 1]! * s1 + o1;
    data[p + 2] = pixels[p + 2]! * s2 + o2;
  }
  return { data, dims: [1, height, width, 3], width, height };
}
