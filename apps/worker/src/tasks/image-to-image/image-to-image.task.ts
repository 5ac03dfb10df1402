import sharp from 'sharp';
import { enlargementOf } from '@fathom/contracts';
import { DEFAULT_TILING, type ModelSpec } from '@fathom/models';
import { decodeResized, type RgbImage } from '../../imaging/image-decoder';
import { pngOptions } from '../../imaging/png-encoding';
import { planModelInputSize, sameSize, type Size } from '../../imaging/resize-plan';
import { chromaPixels, mergeYCbCr } from '../../imaging/ycbcr';
import { tensorFromPixels, type InputTensor, type PreparedInput } from '../model-input.preprocess';
import { inputPixels, pngArtifact, type TaskPipeline } from '../task-pipeline';
import { imageToImageOutputFeatures } from '../../features/output-features';
import { cropTile, fitToTiles, planTiles, stitchTiles, type TilePlan } from './tiles';

/**
 * A model with a fixed input size (resize.mode fixed) sees the image as tiles of that size, one
 * batch; a model with dynamic height and width (keep-aspect) sees the whole image at once.
 */
function tilePlanFor(spec: ModelSpec, image: Size): TilePlan {
  const { resize } = spec.input;
  // Sizes copied field by field: `image` may be an RgbImage, whose pixels must not ride along.
  const { width, height } = image;
  if (resize.mode === 'keep-aspect')
    return { tile: { width, height }, tiles: [{ x: 0, y: 0, keep: { left: 0, top: 0, right: width, bottom: height } }] };
  return planTiles({ width, height }, { width: resize.width, height: resize.height }, spec.tiling ?? DEFAULT_TILING);
}

/** The size the image is enlarged at: the upload's, unless the tile cap (or a dynamic model's resize plan) shrinks it. */
function enlargedSize(spec: ModelSpec, displayed: Size): Size {
  const { resize } = spec.input;
  if (resize.mode === 'keep-aspect') return planModelInputSize(displayed.width, displayed.height, resize);
  return fitToTiles(displayed, resize, spec.tiling ?? DEFAULT_TILING);
}

/** The image's tiles as one tensor, the tiles on the batch axis. */
function tilesTensor(rgb: RgbImage, spec: ModelSpec): InputTensor {
  const plan = tilePlanFor(spec, rgb);
  const tensors = plan.tiles.map((tile) => tensorFromPixels(cropTile(rgb, tile, plan.tile), spec.input));
  const first = tensors[0]!;
  const data = new Float32Array(first.data.length * tensors.length);
  tensors.forEach((tensor, i) => data.set(tensor.data, i * first.data.length));
  return { data, dims: [tensors.length, ...first.dims.slice(1)], width: plan.tile.width, height: plan.tile.height };
}

/** Model values → 0–255 by the output's range (a fixed range such as [0, 1], or this image's min and max). */
function toByteScale(planes: Float32Array[], range: ModelSpec['output']['range']): void {
  let min: number;
  let max: number;
  if (range.kind === 'fixed') ({ min, max } = range);
  else {
    min = Infinity;
    max = -Infinity;
    for (const plane of planes) {
      for (const v of plane) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  const k = max > min ? 255 / (max - min) : 0;
  for (const plane of planes) for (let i = 0; i < plane.length; i++) plane[i] = (plane[i]! - min) * k;
}

interface Enlarged {
  /** One plane (Y) or three (the model's channel order), 0–255, at the output size. */
  planes: Float32Array[];
  size: Size;
  scale: number;
  tiles: number;
}

/**
 * Super-resolution and similar: the image (Y of YCbCr, or RGB) enlarged by the model, returned as
 * a PNG at the model's scale. A Y model's Cb and Cr are enlarged bicubically and merged back.
 */
export const imageToImageTask: TaskPipeline<'image-to-image', Enlarged> = {
  drawsOnInput: true,

  async prepare(bytes, spec, opts): Promise<PreparedInput> {
    const { rgb, displayed, header } = await decodeResized(bytes, {
      maxPixels: opts.maxPixels,
      sizeFor: (size) => enlargedSize(spec, size),
    });
    opts.onPreprocess?.();
    // The input's features on the pixels the tiles are cut from: the model sees the image at this size, tile by tile.
    return { tensor: tilesTensor(rgb, spec), image: displayed, rgb, forFeatures: { pixels: rgb, header } };
  },

  async postprocess(input) {
    const { spec, output, modelInput } = input;
    const rgb = inputPixels(input);
    const tileDims = [1, ...output.dims.slice(1)];
    const layouts = { inputLayout: spec.input.layout, outputLayout: spec.output.layout };
    const inputDims =
      spec.input.layout === 'NCHW' ? [1, 1, modelInput.height, modelInput.width] : [1, modelInput.height, modelInput.width, 1];
    const scale = enlargementOf({ inputDims, outputDims: tileDims, ...layouts });
    if (scale === undefined)
      throw new Error(`output ${JSON.stringify(output.dims)} is not the input ${JSON.stringify(inputDims)} enlarged evenly`);
    const plan = tilePlanFor(spec, rgb);
    const { planes, size } = stitchTiles({ ...output, layout: spec.output.layout }, plan, rgb, scale);
    if (planes.length !== 1 && planes.length !== 3) throw new Error(`the model answered ${planes.length} channels; 1 (Y) or 3 are images`);
    toByteScale(planes, spec.output.range);
    return { planes, size, scale, tiles: plan.tiles.length };
  },

  async encode({ planes, size, scale, tiles }, input) {
    const { spec, image, modelInput, png } = input;
    const rgb = inputPixels(input);
    let pixels: Buffer;
    if (planes.length === 1) {
      const chroma = await sharp(chromaPixels(rgb), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
        .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
        .raw()
        .toBuffer();
      pixels = mergeYCbCr(planes[0]!, chroma);
    } else {
      const order = spec.input.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
      pixels = Buffer.alloc(size.width * size.height * 3);
      for (let i = 0, p = 0; i < size.width * size.height; i++, p += 3) {
        for (let c = 0; c < 3; c++) pixels[p + c] = Math.min(255, Math.max(0, Math.round(planes[order[c]!]![i]!)));
      }
    }
    const encoded = await sharp(pixels, { raw: { ...size, channels: 3 } })
      .png(pngOptions(png))
      .toBuffer();
    const enlarged = { width: rgb.width, height: rgb.height };
    return {
      primary: 'image',
      artifacts: [pngArtifact('image', encoded, size)],
      summary: {
        task: 'image-to-image',
        scale,
        input: enlarged,
        ...(sameSize(enlarged, image) ? {} : { shrunkFrom: image }),
        output: size,
        tiles,
        modelInput,
      },
      features: () => imageToImageOutputFeatures({ data: pixels, ...size }, scale),
    };
  },
};
