import sharp from 'sharp';
import { readdirSync } from 'node:fs';
import { hasShared, readFixture, sharedPath } from '@fathom/testing';
import type { ResizeSpec } from '@fathom/models';
import { decodeFull, decodeResized, decodeToRgb, ImageDecodeError, resizeRgb, type RgbImage } from './image-decoder';
import { planModelInputSize } from './resize-plan';

const LIMIT = { maxPixels: 40e6 };
const pixel = (image: { data: Buffer; width: number }, x: number, y: number) => [
  ...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3),
];

describe('decodeToRgb: any accepted upload becomes 8-bit RGB as displayed', () => {
  it('drops alpha, keeping the colour underneath (as PIL convert("RGB") does)', async () => {
    const rgba = await sharp(Buffer.from([200, 100, 50, 0, 10, 20, 30, 255]), { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    const image = await decodeToRgb(rgba, LIMIT);
    expect([image.width, image.height, image.data.length]).toEqual([2, 1, 6]);
    expect(pixel(image, 0, 0)).toEqual([200, 100, 50]);
    expect(pixel(image, 1, 0)).toEqual([10, 20, 30]);
  });

  it('turns grey into three equal channels', async () => {
    const grey = await sharp(Buffer.from([0, 128, 255]), { raw: { width: 3, height: 1, channels: 1 } })
      .png()
      .toBuffer();
    const image = await decodeToRgb(grey, LIMIT);
    expect(pixel(image, 1, 0)).toEqual([128, 128, 128]);
  });

  it('scales 16-bit input down instead of truncating it', async () => {
    const grey16 = await sharp(new Uint16Array([0, 32896, 65535]), { raw: { width: 3, height: 1, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const image = await decodeToRgb(grey16, LIMIT);
    expect([pixel(image, 0, 0)[0], pixel(image, 1, 0)[0], pixel(image, 2, 0)[0]]).toEqual([0, 128, 255]);
  });

  it('refuses bytes that are not an image with a non-retryable decode error', async () => {
    await expect(decodeToRgb(Buffer.from('definitely not a PNG'), LIMIT)).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(decodeToRgb(Buffer.from('definitely not a PNG'), LIMIT)).rejects.toMatchObject({ code: 'image_undecodable' });
  });

  it('refuses an image over the pixel limit', async () => {
    const big = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    await expect(decodeToRgb(big, { maxPixels: 5000 })).rejects.toBeInstanceOf(ImageDecodeError);
  });

  const fixtures = hasShared('fixtures');
  if (!fixtures) console.warn('skipping decoder fixture tests: ../shared/fixtures is absent');
  (fixtures ? describe : describe.skip)('real files from ../shared/fixtures', () => {
    it('applies EXIF orientation 6: stored 1200×1800, displayed 1800×1200', async () => {
      const image = await decodeToRgb(readFixture('fixtures', 'images', 'exif_orientation6_landscape.jpg'), LIMIT);
      expect([image.width, image.height]).toEqual([1800, 1200]);
    });

    it('says what the header said, both ways of decoding: JPEG, orientation 6', async () => {
      const bytes = readFixture('fixtures', 'images', 'exif_orientation6_landscape.jpg');
      const full = await decodeFull(bytes, LIMIT);
      const resized = await decodeResized(bytes, { ...LIMIT, sizeFor: () => ({ width: 90, height: 60 }) });
      for (const { header, displayed } of [full, resized]) {
        expect([header, displayed]).toEqual([
          { format: 'jpeg', orientation: 6 },
          { width: 1800, height: 1200 },
        ]);
      }
    });

    it('keeps a 16-bit grey gradient a gradient', async () => {
      const image = await decodeToRgb(readFixture('fixtures', 'bad', 'png_16bit_gray_gradient_256x64.png'), LIMIT);
      const row = Array.from({ length: 256 }, (_, x) => pixel(image, x, 10)[0]!);
      expect(new Set(row).size).toBeGreaterThan(200);
      expect(row[255]! - row[0]!).toBeGreaterThan(200);
    });

    it('expands a palette PNG and takes the first frame of an animated GIF', async () => {
      expect((await decodeToRgb(readFixture('fixtures', 'bad', 'skimage_palette_color.png'), LIMIT)).data).toHaveLength(10 * 10 * 3);
      const gif = await decodeToRgb(readFixture('fixtures', 'bad', 'gif_animated_3frames.gif'), LIMIT);
      expect([gif.width, gif.height]).toEqual([120, 80]);
    });

    it('is lenient with a JPEG missing its EOI marker, strict with a PNG whose zlib stream is broken', async () => {
      expect((await decodeToRgb(readFixture('fixtures', 'bad', 'jpeg_missing_eoi.jpg'), LIMIT)).width).toBe(640);
      await expect(decodeToRgb(readFixture('fixtures', 'bad', 'png_valid_crc_bad_zlib.png'), LIMIT)).rejects.toBeInstanceOf(
        ImageDecodeError,
      );
    });
  });
});

describe('decodeResized: decoded straight to the size a model needs', () => {
  const third = ({ width, height }: { width: number; height: number }) => ({
    width: Math.max(1, Math.round(width / 3)),
    height: Math.max(1, Math.round(height / 3)),
  });
  const meanAbsDiff = (a: RgbImage, b: RgbImage) => a.data.reduce((sum, v, i) => sum + Math.abs(v - b.data[i]!), 0) / a.data.length;

  it('keeps the colour under transparent pixels, as decodeToRgb does', async () => {
    const rgba = await sharp(Buffer.from([200, 100, 50, 0, 200, 100, 50, 0, 10, 20, 30, 255, 10, 20, 30, 255]), {
      raw: { width: 4, height: 1, channels: 4 },
    })
      .png()
      .toBuffer();
    const { rgb, displayed, header } = await decodeResized(rgba, { ...LIMIT, sizeFor: () => ({ width: 8, height: 1 }) });
    expect([displayed, header]).toEqual([
      { width: 4, height: 1 },
      { format: 'png', orientation: 1 },
    ]);
    expect(pixel(rgb, 0, 0)).toEqual([200, 100, 50]);
  });

  it('refuses what is not an image, and an image over the pixel limit', async () => {
    await expect(decodeResized(Buffer.from('definitely not a PNG'), { ...LIMIT, sizeFor: third })).rejects.toBeInstanceOf(ImageDecodeError);
    const big = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    await expect(decodeResized(big, { maxPixels: 5000, sizeFor: third })).rejects.toBeInstanceOf(ImageDecodeError);
  });

  // The sizes real models ask for: shrink factors from below 2 to above 8, where JPEG is decoded small.
  const sizings: Array<[string, ResizeSpec]> = [
    ['Depth Anything', { mode: 'keep-aspect', fit: 'lower-bound', target: 518, multiple: 14, maxSide: 1918 }],
    ['PP-OCR', { mode: 'keep-aspect', fit: 'upper-bound', target: 960, multiple: 32, maxSide: 960 }],
  ];
  const fixtures = hasShared('fixtures');
  (fixtures ? it.each(sizings) : it.skip.each(sizings))(
    'accepts and refuses every real and broken file of ../shared/fixtures as decoding first does, with nearly the same pixels (%s sizing)',
    async (_, resize) => {
      const sizeFor = ({ width, height }: { width: number; height: number }) => planModelInputSize(width, height, resize);
      const files = ['images', 'bad'].flatMap((dir) =>
        readdirSync(sharedPath('fixtures', dir))
          .filter((f) => !/\.(md|json|py)$/.test(f))
          .map((f) => [dir, f] as const),
      );
      let compared = 0;
      for (const [dir, file] of files) {
        const bytes = readFixture('fixtures', dir, file);
        const [first, straight] = await Promise.allSettled([
          decodeToRgb(bytes, LIMIT).then(async (full) => ({ full, small: await resizeRgb(full, sizeFor(full)) })),
          decodeResized(bytes, { ...LIMIT, sizeFor }),
        ]);
        expect([file, straight.status]).toEqual([file, first.status]);
        if (first.status === 'rejected' || straight.status === 'rejected') {
          expect([file, first.status === 'rejected' && first.reason instanceof ImageDecodeError]).toEqual([file, true]);
          expect([file, straight.status === 'rejected' && straight.reason instanceof ImageDecodeError]).toEqual([file, true]);
          continue;
        }
        const { full, small } = first.value;
        expect([file, straight.value.displayed]).toEqual([file, { width: full.width, height: full.height }]);
        expect([file, straight.value.rgb.width, straight.value.rgb.height]).toEqual([file, small.width, small.height]);
        expect([file, meanAbsDiff(straight.value.rgb, small) < 2]).toEqual([file, true]);
        compared += 1;
      }
      expect(compared).toBeGreaterThan(20);
    },
    120_000,
  );
});
