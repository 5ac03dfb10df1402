/** Interleaved 8-bit RGB, row-major. */
export interface RgbPixels {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * The image reduced to fit within maxSide × maxSide (aspect kept, never enlarged) by area
 * averaging: each output pixel is the mean of the whole block of source pixels that falls in it
 * (blocks ⌊w/w'⌋ or ⌈w/w'⌉ wide, likewise in height), rounded half up. One pass over the source,
 * integer sums only, so the same pixels always give the same result; an image already within
 * maxSide comes back as it is. Statistics on this image cost the same whatever the source size.
 */
export function boxDownsample(rgb: RgbPixels, maxSide: number): RgbPixels {
  const { data, width, height } = rgb;
  const n = width * height;
  if (n <= 0 || data.length < n * 3) throw new Error(`expected ${width}×${height} RGB pixels (${n * 3} bytes), got ${data.length} bytes`);
  const scale = Math.min(1, maxSide / width, maxSide / height);
  if (scale === 1) return rgb;
  const outWidth = Math.max(1, Math.round(width * scale));
  const outHeight = Math.max(1, Math.round(height * scale));
  // Each output column takes a run of whole source columns: where its run ends (×3, in bytes of a
  // row), and how many columns it holds.
  const ends = new Int32Array(outWidth);
  const columns = new Uint32Array(outWidth);
  for (let x = 0; x < width; x++) {
    const target = Math.floor((x * outWidth) / width);
    columns[target]!++;
    ends[target] = (x + 1) * 3;
  }
  const out = new Uint8Array(outWidth * outHeight * 3);
  const sums = new Uint32Array(outWidth * 3);
  let outRow = 0;
  let rows = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    // A block's run summed in locals, one store per block and row: twice as fast as adding each pixel into `sums`.
    for (let cx = 0, s = 0, p = row; cx < outWidth; cx++, s += 3) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const end = row + ends[cx]!; p < end; p += 3) {
        r += data[p]!;
        g += data[p + 1]!;
        b += data[p + 2]!;
      }
      sums[s]! += r;
      sums[s + 1]! += g;
      sums[s + 2]! += b;
    }
    rows++;
    const nextRow = y + 1 < height ? Math.floor(((y + 1) * outHeight) / height) : outHeight;
    if (nextRow === outRow) continue;
    // The block row is complete: its means, rounded half up (⌊(2·sum + count) / (2·count)⌋).
    for (let cx = 0, o = outRow * outWidth * 3, s = 0; cx < outWidth; cx++) {
      const count = columns[cx]! * rows;
      for (let k = 0; k < 3; k++, s++, o++) out[o] = Math.floor((2 * sums[s]! + count) / (2 * count));
    }
    sums.fill(0);
    rows = 0;
    outRow = nextRow;
  }
  return { data: out, width: outWidth, height: outHeight };
}
