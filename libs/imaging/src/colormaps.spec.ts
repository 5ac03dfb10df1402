import { applyColormap, colormapLut } from './colormaps';

const hex = (lut: Uint8Array, i: number) => Buffer.from(lut.subarray(i * 3, i * 3 + 3)).toString('hex');

describe('colormaps', () => {
  it('match matplotlib’s tables at both ends', () => {
    expect([hex(colormapLut('viridis'), 0), hex(colormapLut('viridis'), 255)]).toEqual(['440154', 'fde725']);
    expect([hex(colormapLut('inferno'), 0), hex(colormapLut('inferno'), 255)]).toEqual(['000004', 'fcffa4']);
    expect([hex(colormapLut('magma'), 0), hex(colormapLut('magma'), 255)]).toEqual(['000004', 'fcfdbf']);
    expect([hex(colormapLut('plasma'), 0), hex(colormapLut('plasma'), 255)]).toEqual(['0d0887', 'f0f921']);
    expect([hex(colormapLut('turbo'), 0), hex(colormapLut('turbo'), 255)]).toEqual(['23171b', '900c00']);
  });

  it('has 256 entries each, and gray is the identity', () => {
    for (const name of ['turbo', 'inferno', 'magma', 'viridis', 'plasma', 'gray'] as const) expect(colormapLut(name)).toHaveLength(768);
    expect([...applyColormap(Uint8Array.from([0, 7, 255]), 'gray')]).toEqual([0, 0, 0, 7, 7, 7, 255, 255, 255]);
  });

  it('maps each value through the table', () => {
    const lut = colormapLut('inferno');
    expect([...applyColormap(Uint8Array.from([128]), 'inferno')]).toEqual([...lut.subarray(384, 387)]);
  });
});
