import { inflateSync } from 'node:zlib';

/**
 * The colour indices of a palette PNG (PASCAL VOC's class maps are stored this way: the index is
 * the class, the palette only colours it). sharp expands a palette to RGB, so the indices are read
 * here: chunks, zlib, and the five scanline filters of the PNG spec (non-interlaced only).
 */
export function decodePaletteIndices(bytes: Buffer): { width: number; height: number; indices: Uint8Array } {
  if (bytes.length < 33 || bytes.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let header: { width: number; height: number; depth: number; colourType: number; interlace: number } | undefined;
  const data: Buffer[] = [];
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8]!, colourType: body[9]!, interlace: body[12]! };
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  if (!header || header.colourType !== 3) throw new Error('not a palette PNG');
  if (header.interlace !== 0) throw new Error('an interlaced (Adam7) palette PNG: save it without interlacing');
  const { width, height, depth } = header;
  const rowBytes = Math.ceil((width * depth) / 8);
  const raw = inflateSync(Buffer.concat(data));
  if (raw.length < height * (rowBytes + 1)) throw new Error('its image data is shorter than its size says');
  const indices = new Uint8Array(width * height);
  let previous = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const start = y * (rowBytes + 1);
    const filter = raw[start]!;
    const row = new Uint8Array(raw.subarray(start + 1, start + 1 + rowBytes));
    // A palette pixel is at most one byte: the filters look one byte back.
    for (let x = 0; x < rowBytes; x++) {
      const left = x > 0 ? row[x - 1]! : 0;
      const up = previous[x]!;
      const upLeft = x > 0 ? previous[x - 1]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) predictor = paeth(left, up, upLeft);
      else if (filter !== 0) throw new Error(`row ${y} has filter type ${filter}; PNG has 0–4`);
      row[x] = (row[x]! + predictor) & 0xff;
    }
    const perByte = 8 / depth;
    const mask = (1 << depth) - 1;
    for (let x = 0; x < width; x++) {
      const byte = row[Math.floor(x / perByte)]!;
      indices[y * width + x] = depth === 8 ? byte : (byte >> (8 - depth * ((x % perByte) + 1))) & mask;
    }
    previous = row;
  }
  return { width, height, indices };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
