import type { TilingSpec } from '@fathom/models';
import type { RgbImage } from '../../imaging/image-decoder';
import type { Size } from '../../imaging/resize-plan';

/** Where tiles sit along one side of the image, and from where on each one's result is kept. */
interface AxisPlan {
  /** Each tile's first pixel. */
  origins: number[];
  /** Each tile's result is kept from here to the next tile's `keepFrom` (the last one's to the end). */
  keepFrom: number[];
}

export interface Tile {
  /** The tile's top-left pixel in the image (it may reach past the right or bottom edge: padded there). */
  x: number;
  y: number;
  /** The part of the image this tile's result is kept for: [left, right) × [top, bottom). */
  keep: { left: number; top: number; right: number; bottom: number };
}

export interface TilePlan {
  /** The model's input size. */
  tile: Size;
  /** Row by row, left to right: the order of the batch axis. */
  tiles: Tile[];
}

/** Overlap is capped at half a tile, so that tiles always advance. */
const overlapFor = (tile: number, overlap: number) => Math.min(overlap, Math.floor(tile / 2));

/** How many tiles cover `length` pixels. */
const tilesAlong = (length: number, tile: number, overlap: number) =>
  length <= tile ? 1 : Math.ceil((length - overlap) / (tile - overlap));

/**
 * Tiles spread evenly from edge to edge (the last one ends at the image's edge, so only an image
 * smaller than a tile is padded), each overlapping the next by at least `overlap` pixels; the
 * shared strip is split in its middle, so every kept pixel is overlap/2 away from a tile border
 * unless it is on the image's own border.
 */
function planAxis(length: number, tile: number, overlap: number): AxisPlan {
  const n = tilesAlong(length, tile, overlap);
  if (n === 1) return { origins: [0], keepFrom: [0] };
  const origins = Array.from({ length: n }, (_, i) => Math.round((i * (length - tile)) / (n - 1)));
  const keepFrom = origins.map((origin, i) => (i === 0 ? 0 : Math.floor((origin + origins[i - 1]! + tile) / 2)));
  return { origins, keepFrom };
}

export function planTiles(image: Size, tile: Size, tiling: TilingSpec): TilePlan {
  const columns = planAxis(image.width, tile.width, overlapFor(tile.width, tiling.overlap));
  const rows = planAxis(image.height, tile.height, overlapFor(tile.height, tiling.overlap));
  const tiles: Tile[] = [];
  rows.origins.forEach((y, r) => {
    columns.origins.forEach((x, c) => {
      const keep = {
        left: columns.keepFrom[c]!,
        right: columns.keepFrom[c + 1] ?? image.width,
        top: rows.keepFrom[r]!,
        bottom: rows.keepFrom[r + 1] ?? image.height,
      };
      tiles.push({ x, y, keep });
    });
  });
  return { tile, tiles };
}

/**
 * The size an image is enlarged at: its own, or, when it needs more than `maxTiles` tiles, the
 * largest of the same aspect that fits them (the best split of maxTiles into columns × rows).
 */
export function fitToTiles(image: Size, tile: Size, tiling: TilingSpec): Size {
  const ow = overlapFor(tile.width, tiling.overlap);
  const oh = overlapFor(tile.height, tiling.overlap);
  if (tilesAlong(image.width, tile.width, ow) * tilesAlong(image.height, tile.height, oh) <= tiling.maxTiles) return image;
  // The longest side that `n` tiles cover.
  const covered = (n: number, side: number, overlap: number) => overlap + n * (side - overlap);
  let best = 0;
  for (let columns = 1; columns <= tiling.maxTiles; columns++) {
    const rows = Math.floor(tiling.maxTiles / columns);
    best = Math.max(best, Math.min(covered(columns, tile.width, ow) / image.width, covered(rows, tile.height, oh) / image.height));
  }
  return { width: Math.max(1, Math.floor(image.width * best)), height: Math.max(1, Math.floor(image.height * best)) };
}

/** One tile's pixels, the image's edge pixels repeated where the tile reaches past it. */
export function cropTile(rgb: RgbImage, at: { x: number; y: number }, size: Size): RgbImage {
  const data = Buffer.alloc(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    const sy = Math.min(at.y + y, rgb.height - 1);
    for (let x = 0; x < size.width; x++) {
      const from = (sy * rgb.width + Math.min(at.x + x, rgb.width - 1)) * 3;
      rgb.data.copy(data, (y * size.width + x) * 3, from, from + 3);
    }
  }
  return { data, ...size };
}

/** A model output for all tiles, as per-channel planes. */
export interface TiledOutput {
  data: Float32Array;
  dims: readonly number[];
  layout: 'NCHW' | 'NHWC';
}

/**
 * The tiles' results put back together at `scale` × the image's size: one plane per output channel,
 * each output pixel taken from the tile that keeps it.
 */
export function stitchTiles(output: TiledOutput, plan: TilePlan, image: Size, scale: number): { planes: Float32Array[]; size: Size } {
  const nchw = output.layout === 'NCHW';
  const [count, d1 = 0, d2 = 0, d3 = 0] = output.dims;
  const [channels, tileHeight, tileWidth] = nchw ? [d1, d2, d3] : [d3, d1, d2];
  if (count !== plan.tiles.length) throw new Error(`the model answered ${count} tiles for ${plan.tiles.length}`);
  const size = { width: image.width * scale, height: image.height * scale };
  const planes = Array.from({ length: channels }, () => new Float32Array(size.width * size.height));
  const perTile = channels * tileHeight * tileWidth;
  plan.tiles.forEach((tile, t) => {
    const base = t * perTile;
    for (let oy = tile.keep.top * scale; oy < tile.keep.bottom * scale; oy++) {
      const ty = oy - tile.y * scale;
      for (let ox = tile.keep.left * scale; ox < tile.keep.right * scale; ox++) {
        const tx = ox - tile.x * scale;
        const at = oy * size.width + ox;
        for (let c = 0; c < channels; c++) {
          planes[c]![at] = output.data[nchw ? base + (c * tileHeight + ty) * tileWidth + tx : base + (ty * tileWidth + tx) * channels + c]!;
        }
      }
    }
  });
  return { planes, size };
}
