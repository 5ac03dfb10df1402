import sharp from 'sharp';

/** A seeded generator (mulberry32): the same frames every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A camera's frame, more or less: a random brightness and colour cast under sensor noise; `dim` scales the light. A PNG. */
export async function cameraFrame(random: () => number, side: number, dim = 1): Promise<Buffer> {
  const base = 70 + random() * 110;
  const cast = [0, 1, 2].map(() => base + (random() - 0.5) * 40);
  const sigma = 10 + random() * 25;
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) {
    // Roughly normal noise: the sum of three uniforms, centred.
    const noise = (random() + random() + random() - 1.5) * 2 * sigma;
    pixels[i] = Math.round(Math.min(255, Math.max(0, (cast[i % 3]! + noise) * dim)));
  }
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}
