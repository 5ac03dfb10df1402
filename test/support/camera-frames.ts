import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { buildSlowDepthModel } from '@fathom/testing';
import { depthModelsDir, type FathomStack } from './fathom-stack';

/** The camera stand-in's side: a fixed-size model and frames this small keep hundreds of jobs cheap. */
export const CAMERA_SIDE = 64;

/** A models folder with `camera`, the depth stand-in at a fixed 64×64 input, as 1.0.0. */
export function cameraModelsDir(name = 'camera'): string {
  const manifest = { input: { resize: { mode: 'fixed', width: CAMERA_SIDE, height: CAMERA_SIDE } } };
  return depthModelsDir(buildSlowDepthModel({ side: CAMERA_SIDE, matmulLayers: 1 }), name, manifest);
}

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

/** A camera's frames, more or less: a random brightness and colour cast under sensor noise; `dim` scales the light. */
export async function cameraFrame(random: () => number, dim = 1): Promise<Buffer> {
  const base = 70 + random() * 110;
  const cast = [0, 1, 2].map(() => base + (random() - 0.5) * 40);
  const sigma = 10 + random() * 25;
  const pixels = Buffer.alloc(CAMERA_SIDE * CAMERA_SIDE * 3);
  for (let i = 0; i < pixels.length; i++) {
    // Roughly normal noise: the sum of three uniforms, centred.
    const noise = (random() + random() + random() - 1.5) * 2 * sigma;
    pixels[i] = Math.round(Math.min(255, Math.max(0, (cast[i % 3]! + noise) * dim)));
  }
  return sharp(pixels, { raw: { width: CAMERA_SIDE, height: CAMERA_SIDE, channels: 3 } })
    .png()
    .toBuffer();
}

export interface CameraRunOptions {
  dim?: number;
  /** `reference`: profiling for a drift reference, not production. */
  purpose?: 'reference';
  /** Jobs submitted at once (default 1: one after another). */
  concurrency?: number;
}

/**
 * Submits `count` frames to `model` on the stack's API and waits for every one to complete;
 * returns their job ids in submission order.
 */
export async function runCameraFrames(
  stack: FathomStack,
  random: () => number,
  count: number,
  { dim, purpose, concurrency = 1 }: CameraRunOptions = {},
  model = 'camera',
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += concurrency) {
    const frames = await Promise.all(Array.from({ length: Math.min(concurrency, count - start) }, () => cameraFrame(random, dim)));
    const accepted = await Promise.all(
      frames.map(async (frame, i) => {
        const form = new FormData();
        form.append('model', model);
        if (purpose) form.append('purpose', purpose);
        form.append('image', new Blob([new Uint8Array(frame)], { type: 'image/png' }), `frame-${start + i}.png`);
        const response = await fetch(`${stack.api.url}/v1/jobs`, { method: 'POST', body: form });
        expect(response.status).toBe(202);
        return ((await response.json()) as JobAccepted).id;
      }),
    );
    ids.push(...accepted);
  }
  for (const id of ids) expect((await stack.jobEnd(id)).state).toBe('completed');
  return ids;
}
