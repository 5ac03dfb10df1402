/**
 * NumPy's `.npy` format (version 1, 2 and 3 headers), for depth ground truth in metres and the
 * worker's raw float32 output: little-endian float32, float64, uint16 and uint8, C order.
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

const DTYPES = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<u2': 'uint16',
  '|u1': 'uint8',
  '<u1': 'uint8',
} as const;
export type NpyDtype = (typeof DTYPES)[keyof typeof DTYPES];
export type NpyData = Float32Array | Float64Array | Uint16Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

/** Decodes a .npy file; throws (a plain Error, the caller names the file) when it is not one this reads. */
export function decodeNpy(bytes: Buffer): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new Error(`.npy format version ${major} is not one this reads (1, 2 or 3)`);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const dataStart = headerStart + headerLength;
  if (bytes.length < dataStart) throw new Error('.npy header runs past the end of the file');
  const header = bytes.subarray(headerStart, dataStart).toString(major === 3 ? 'utf8' : 'latin1');

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new Error(`.npy header is not a dict of descr, fortran_order and shape: ${header.trim()}`);
  const dtype = (DTYPES as Record<string, NpyDtype>)[descr];
  if (!dtype) {
    const hint = descr.startsWith('>') ? ' (big-endian: save it little-endian)' : '';
    throw new Error(`.npy dtype ${descr} is not one this reads (float32, float64, uint16 or uint8, little-endian)${hint}`);
  }
  if (fortran === 'True') throw new Error('.npy array is in Fortran order: save it in C order (np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`.npy shape (${shapeText}) is not a list of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = dtype === 'float64' ? 8 : dtype === 'float32' ? 4 : dtype === 'uint16' ? 2 : 1;
  const byteLength = count * itemSize;
  if (bytes.length - dataStart < byteLength) {
    throw new Error(`.npy data is ${bytes.length - dataStart} bytes; shape (${shape.join(', ')}) of ${dtype} needs ${byteLength}`);
  }
  // A copy: the file's bytes need not be aligned for a typed array over them.
  const buffer = bytes.buffer.slice(bytes.byteOffset + dataStart, bytes.byteOffset + dataStart + byteLength);
  const data =
    dtype === 'float32'
      ? new Float32Array(buffer)
      : dtype === 'float64'
        ? new Float64Array(buffer)
        : dtype === 'uint16'
          ? new Uint16Array(buffer)
          : new Uint8Array(buffer);
  return { dtype, shape, data };
}

/** A float32 array as a version 1 .npy file (C order), as `np.save` writes it. */
export function encodeNpy(values: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new Error(`shape (${shape.join(', ')}) holds ${count} values, not ${values.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Magic (6) + version (2) + length (2) + header + "\n" is padded with spaces to a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

/** Height and width of a 2-D array (leading and trailing sizes of 1 dropped: [1, h, w], [h, w, 1]). */
export function npyImageSize(shape: readonly number[]): { height: number; width: number } | undefined {
  let dims = [...shape];
  while (dims.length > 2 && dims[0] === 1) dims = dims.slice(1);
  while (dims.length > 2 && dims[dims.length - 1] === 1) dims = dims.slice(0, -1);
  return dims.length === 2 ? { height: dims[0]!, width: dims[1]! } : undefined;
}
