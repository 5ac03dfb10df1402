import type { Size } from './resize-plan';

/**
 * A float map resized with bilinear interpolation on pixel centres (align_corners = false, as
 * PyTorch's F.interpolate and sharp's linear kernel enlarge): what evaluations compare with ground
 * truth at the photo's size. Edges repeat the border pixel. Kept in float32: the depth PNG's 16 bits
 * would round relative depth away.
 */
export function resizeFloatMap(values: Float32Array, from: Size, to: Size): Float32Array {
  if (from.width === to.width && from.height === to.height) return values;
  const out = new Float32Array(to.width * to.height);
  const sx = from.width / to.width;
  const sy = from.height / to.height;
  const xs = axis(to.width, sx, from.width);
  for (let y = 0; y < to.height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), from.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, from.height - 1);
    const wy = fy - y0;
    const row0 = y0 * from.width;
    const row1 = y1 * from.width;
    for (let x = 0; x < to.width; x++) {
      const x0 = xs.i0[x]!;
      const x1 = xs.i1[x]!;
      const wx = xs.w[x]!;
      const top = values[row0 + x0]! * (1 - wx) + values[row0 + x1]! * wx;
      const bottom = values[row1 + x0]! * (1 - wx) + values[row1 + x1]! * wx;
      out[y * to.width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

function axis(length: number, scale: number, limit: number): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(length);
  const i1 = new Int32Array(length);
  const w = new Float32Array(length);
  for (let x = 0; x < length; x++) {
    const f = Math.min(Math.max((x + 0.5) * scale - 0.5, 0), limit - 1);
    i0[x] = Math.floor(f);
    i1[x] = Math.min(i0[x]! + 1, limit - 1);
    w[x] = f - i0[x]!;
  }
  return { i0, i1, w };
}

/**
 * A float32 map as a NumPy .npy file (format 1.0, little-endian, C order, shape [height, width]):
 * what numpy.load, and libs/evaluation's reader, open as is.
 */
export function encodeNpyFloat32(values: Float32Array, size: Size): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${size.height}, ${size.width}), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}
