import { chromaPixels, lumaPlane, mergeYCbCr } from './ycbcr';

const image = (pixels: number[][]) => ({ data: Buffer.from(pixels.flat()), width: pixels.length, height: 1 });

describe('YCbCr (BT.601, full range)', () => {
  it('gives grey its own level as Y and no colour (Cb = Cr = 128)', () => {
    const grey = image([
      [0, 0, 0],
      [77, 77, 77],
      [255, 255, 255],
    ]);
    expect(Array.from(lumaPlane(grey)).map((y) => Math.round(y * 1e4) / 1e4)).toEqual([0, 77, 255]);
    expect(Array.from(chromaPixels(grey))).toEqual([128, 128, 0, 128, 128, 0, 128, 128, 0]);
  });

  it('converts the primaries as JFIF does', () => {
    const primaries = image([
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ]);
    // JFIF: Y = .299R + .587G + .114B, Cb = 128 + (B − Y)/1.772, Cr = 128 + (R − Y)/1.402, rounded and clamped.
    expect(Array.from(lumaPlane(primaries)).map(Math.round)).toEqual([76, 150, 29]);
    expect(Array.from(chromaPixels(primaries))).toEqual([85, 255, 0, 44, 21, 0, 255, 107, 0]);
  });

  it('comes back to the same RGB within one level (Cb and Cr are kept to 8 bits)', () => {
    const pixels: number[][] = [];
    for (let i = 0; i < 4096; i++) pixels.push([(i * 37) % 256, (i * 91 + 13) % 256, (i * 53 + 101) % 256]);
    const rgb = image(pixels);
    const back = mergeYCbCr(lumaPlane(rgb), chromaPixels(rgb));
    let worst = 0;
    for (let i = 0; i < rgb.data.length; i++) worst = Math.max(worst, Math.abs(back[i]! - rgb.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });
});
