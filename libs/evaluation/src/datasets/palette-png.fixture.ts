import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), body])));
  return Buffer.concat([head, body, crc]);
}

/** A palette PNG written by hand (for specs): each row filtered with the given PNG filter type (0–4), one byte back. */
export function palettePng(
  width: number,
  height: number,
  depth: 1 | 2 | 4 | 8,
  indices: number[],
  palette: Array<[number, number, number]>,
  filters: number[],
): Buffer {
  const rowBytes = Math.ceil((width * depth) / 8);
  const rows: Buffer[] = [];
  let previous = Buffer.alloc(rowBytes);
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(rowBytes);
    for (let x = 0; x < width; x++) row[Math.floor((x * depth) / 8)]! |= indices[y * width + x]! << (8 - depth - ((x * depth) % 8));
    const filter = filters[y % filters.length]!;
    const out = Buffer.alloc(rowBytes + 1);
    out[0] = filter;
    for (let x = 0; x < rowBytes; x++) {
      const [a, b, c] = [x > 0 ? row[x - 1]! : 0, previous[x]!, x > 0 ? previous[x - 1]! : 0];
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter]!;
      out[x + 1] = (row[x]! - predictor) & 0xff;
    }
    rows.push(out);
    previous = row;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = 3;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
