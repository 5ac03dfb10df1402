import sharp from 'sharp';
import { decodePaletteIndices } from './palette-png';
import { palettePng } from './palette-png.fixture';

/** What libpng (through sharp) shows, mapped back to indices through the palette: an independent reading. */
async function indicesBySharp(png: Buffer, palette: Array<[number, number, number]>): Promise<number[]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out: number[] = [];
  for (let i = 0; i < info.width * info.height; i++) {
    out.push(palette.findIndex(([r, g, b]) => r === data[i * 3] && g === data[i * 3 + 1] && b === data[i * 3 + 2]));
  }
  return out;
}

describe('palette PNG class maps (PASCAL VOC style)', () => {
  // VOC-like colours: background black, classes coloured, 255 (the boundary) cream.
  const palette: Array<[number, number, number]> = Array.from(
    { length: 256 },
    (_, i) => [i, (i * 7) % 256, 255 - i] as [number, number, number],
  );

  it('reads the indices of an 8-bit palette PNG through every scanline filter, as libpng does', async () => {
    const width = 7;
    const height = 5;
    const indices = Array.from({ length: width * height }, (_, i) => [0, 8, 8, 255, 15, 0, 20][(i + Math.floor(i / 7)) % 7]!);
    const png = palettePng(width, height, 8, indices, palette, [0, 1, 2, 3, 4]);
    expect(await indicesBySharp(png, palette)).toEqual(indices);
    expect(decodePaletteIndices(png)).toEqual({ width, height, indices: Uint8Array.from(indices) });
  });

  it('reads 1, 2 and 4-bit palettes', async () => {
    for (const depth of [1, 2, 4] as const) {
      const width = 11;
      const indices = Array.from({ length: width * 3 }, (_, i) => (i * 5) % (1 << depth));
      const png = palettePng(width, 3, depth, indices, palette.slice(0, 1 << depth), [4, 2, 1]);
      expect(await indicesBySharp(png, palette)).toEqual(indices);
      expect(Array.from(decodePaletteIndices(png).indices)).toEqual(indices);
    }
  });

  it('refuses what is not a palette PNG', async () => {
    const grey = await sharp(Buffer.from([1, 2]), { raw: { width: 2, height: 1, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect(() => decodePaletteIndices(grey)).toThrow('not a palette PNG');
    expect(() => decodePaletteIndices(Buffer.from('GIF89a, not a PNG at all, padded to 33 bytes'))).toThrow('not a PNG');
  });
});
