import { encodeNpyFloat32, resizeFloatMap } from './float-map';

describe('float maps for evaluations', () => {
  it('keeps a map of the same size as it is', () => {
    const values = new Float32Array([1, 2, 3, 4]);
    expect(resizeFloatMap(values, { width: 2, height: 2 }, { width: 2, height: 2 })).toBe(values);
  });

  it('enlarges a ramp bilinearly on pixel centres, repeating the edges', () => {
    // 2 → 4 across: centres at −0.25, 0.25, 0.75, 1.25 of the source → clamped 0, 0.25, 0.75, 1.
    const out = resizeFloatMap(new Float32Array([0, 4]), { width: 2, height: 1 }, { width: 4, height: 1 });
    expect(Array.from(out)).toEqual([0, 1, 3, 4]);
  });

  it('keeps fractions a 16-bit PNG would round away', () => {
    const out = resizeFloatMap(new Float32Array([0.001, 0.002, 0.003, 0.004]), { width: 2, height: 2 }, { width: 1, height: 1 });
    expect(out[0]).toBeCloseTo(0.0025, 7);
  });

  it('writes a .npy numpy can read: magic, a 64-byte aligned header, the shape [height, width], float32 data', () => {
    const npy = encodeNpyFloat32(new Float32Array([1.5, -2, 3, 4, 5, 6]), { width: 3, height: 2 });
    expect(npy.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const headerLength = npy.readUInt16LE(8);
    expect((10 + headerLength) % 64).toBe(0);
    expect(npy.subarray(10, 10 + headerLength).toString('latin1')).toMatch(
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/,
    );
    const data = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLength, npy.byteOffset + npy.byteLength));
    expect(Array.from(data)).toEqual([1.5, -2, 3, 4, 5, 6]);
  });
});
