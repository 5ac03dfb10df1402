import { hasShared, readFixture } from '@fathom/testing';
import { decodeNpy, encodeNpy, npyImageSize } from './npy';

/** A .npy file from its parts, laid out as numpy's format spec says (the header length is 2 bytes in v1, 4 in v2/v3). */
function npyBytes(version: 1 | 2 | 3, header: string, data: Buffer): Buffer {
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const length = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) length.writeUInt16LE(header.length);
  else length.writeUInt32LE(Buffer.byteLength(header));
  return Buffer.concat([prefix, length, Buffer.from(header, version === 3 ? 'utf8' : 'latin1'), data]);
}

describe('.npy files', () => {
  it('writes float32 arrays byte for byte as np.save does', () => {
    // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)): 128 bytes of header, then the values.
    const bytes = encodeNpy(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]);
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + ' '.repeat(58) + '\n';
    const expected = npyBytes(1, header, Buffer.from(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer));
    expect(bytes.length).toBe(152);
    expect(bytes.equals(expected)).toBe(true);
  });

  it('reads back what it writes (a depth map with NaN where there is no truth)', () => {
    const values = Float32Array.from([1.5, NaN, 2.25, 0, 1e-3, 42]);
    const array = decodeNpy(encodeNpy(values, [3, 2]));
    expect(array.dtype).toBe('float32');
    expect(array.shape).toEqual([3, 2]);
    expect(Array.from(array.data)).toEqual([1.5, NaN, 2.25, 0, Math.fround(1e-3), 42]);
    expect(npyImageSize(array.shape)).toEqual({ height: 3, width: 2 });
  });

  it('reads version 2 uint16 and version 3 float64 files as numpy writes them', () => {
    // np.lib.format.write_array(f, np.array([[1, 2], [300, 65535]], dtype='<u2'), version=(2, 0))
    const u2 = npyBytes(
      2,
      "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 2), }" + ' '.repeat(56) + '\n',
      Buffer.from([1, 0, 2, 0, 0x2c, 1, 0xff, 0xff]),
    );
    expect(u2.length).toBe(136);
    const a = decodeNpy(u2);
    expect([a.dtype, a.shape, Array.from(a.data)]).toEqual(['uint16', [2, 2], [1, 2, 300, 65535]]);
    // np.lib.format.write_array(f, np.array([0.5, -2.25], dtype='<f8'), version=(3, 0))
    const f8 = npyBytes(
      3,
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }" + ' '.repeat(58) + '\n',
      Buffer.from(Float64Array.from([0.5, -2.25]).buffer),
    );
    const b = decodeNpy(f8);
    expect([b.dtype, b.shape, Array.from(b.data)]).toEqual(['float64', [2], [0.5, -2.25]]);
    const u1 = decodeNpy(npyBytes(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }\n", Buffer.from([0, 7, 255])));
    expect([u1.dtype, Array.from(u1.data)]).toEqual(['uint8', [0, 7, 255]]);
  });

  it('says why it cannot read big-endian, Fortran-order, truncated and foreign files', () => {
    const data = Buffer.alloc(8);
    expect(() => decodeNpy(npyBytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", data))).toThrow(/big-endian/);
    expect(() => decodeNpy(npyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", data))).toThrow(/Fortran order/);
    expect(() => decodeNpy(npyBytes(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }\n", data))).toThrow(
      /<i8 is not one this reads/,
    );
    expect(() => decodeNpy(npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", data))).toThrow(
      /8 bytes; shape \(3\) of float32 needs 12/,
    );
    expect(() => decodeNpy(Buffer.from('PK\x03\x04 not numpy'))).toThrow(/not a \.npy file/);
  });

  it('reads the shapes a depth map comes in as height and width', () => {
    expect(npyImageSize([1, 500, 741])).toEqual({ height: 500, width: 741 });
    expect(npyImageSize([500, 741, 1])).toEqual({ height: 500, width: 741 });
    expect(npyImageSize([2, 500, 741])).toBeUndefined();
  });

  (hasShared('fixtures', 'depth', 'middlebury2014_motorcycle', 'depth_m.npy') ? it : it.skip)(
    'reads a depth map numpy wrote (Middlebury motorcycle, 500×741 float32)',
    () => {
      const array = decodeNpy(readFixture('fixtures', 'depth', 'middlebury2014_motorcycle', 'depth_m.npy'));
      expect(array.dtype).toBe('float32');
      expect(array.shape).toEqual([500, 741]);
      let max = 0;
      for (const v of array.data) if (v > max) max = v;
      expect(max).toBeCloseTo(5.0168, 3);
    },
  );
});
