import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { sharedPath } from '@fathom/testing';

export interface BenchImage {
  name: string;
  bytes: Buffer;
}

export interface BenchImageSet {
  images: BenchImage[];
  /** Where they came from, as the report states it. */
  source: string;
}

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;
/** Quick runs take every third photo: small and large, JPEG and PNG, still in the set. */
const QUICK_STRIDE = 3;

/**
 * The real photos in ../shared/fixtures/images, or generated noise images (said so) when that
 * folder is absent, so the benchmark still runs on a bare checkout.
 */
export async function loadBenchImages(quick: boolean): Promise<BenchImageSet> {
  const dir = sharedPath('fixtures', 'images');
  if (existsSync(dir)) {
    const files = readdirSync(dir)
      .filter((f) => IMAGE_FILE.test(f))
      .sort();
    const chosen = quick ? files.filter((_, i) => i % QUICK_STRIDE === 0) : files;
    if (chosen.length > 0) {
      return {
        images: chosen.map((name) => ({ name, bytes: readFileSync(join(dir, name)) })),
        source: `../shared/fixtures/images (${chosen.length} of ${files.length} photos)`,
      };
    }
  }
  console.error(`bench: ${dir} is absent or holds no images; using generated noise images instead`);
  const sizes: Array<[number, number]> = quick
    ? [
        [640, 480],
        [1280, 960],
      ]
    : [
        [640, 480],
        [1280, 960],
        [1920, 1080],
        [600, 400],
        [3024, 2268],
      ];
  const images = await Promise.all(
    sizes.map(async ([width, height]) => ({
      name: `generated-${width}x${height}.jpg`,
      bytes: await sharp({
        create: { width, height, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
      })
        .jpeg()
        .toBuffer(),
    })),
  );
  return { images, source: `generated noise JPEGs (${sizes.length}): ../shared/fixtures/images is absent` };
}

/** A small flat PNG for scenarios where the image does not matter (the null model's fixed input). */
export async function greyBenchImage(): Promise<BenchImage> {
  return {
    name: 'grey-64x48.png',
    bytes: await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .png()
      .toBuffer(),
  };
}
