import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import sharp from 'sharp';
import type { DatasetView } from '@fathom/contracts';
import { encodeNpy, packFolder } from '@fathom/evaluation';
import type { ApiInstance } from './fathom-stack';

/**
 * A generated depth dataset in `dir`: `samples` flat scenes of width × height, each an RGB PNG and
 * its depth in metres (.npy) — what load tests and dashboards need of a dataset, not a real one.
 */
export async function writeFlatDepthDataset(
  dir: string,
  opts: { name: string; version?: string; samples: number; width?: number; height?: number },
): Promise<void> {
  const { width = 32, height = 24 } = opts;
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'depth'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < opts.samples; i++) {
    const id = `s${String(i).padStart(4, '0')}`;
    const image = await sharp({ create: { width, height, channels: 3, background: { r: (37 * i) % 256, g: 100, b: 200 } } })
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'images', `${id}.png`), image);
    writeFileSync(join(dir, 'depth', `${id}.npy`), encodeNpy(new Float32Array(width * height).fill(1 + (i % 7)), [height, width]));
    lines.push(`  - { id: ${id}, image: images/${id}.png, depth: depth/${id}.npy }`);
  }
  writeFileSync(
    join(dir, 'dataset.yaml'),
    [`name: ${opts.name}`, `version: "${opts.version ?? '1'}"`, 'task: depth', 'licence: CC0-1.0', 'samples:', ...lines, ''].join('\n'),
  );
}

/** Registers the dataset folder through POST /v1/datasets (as a .tar), as `npm run eval` does. */
export async function uploadDataset(api: ApiInstance, dir: string, headers: Record<string, string> = {}): Promise<DatasetView> {
  const form = new FormData();
  form.append('archive', new Blob([await buffer(await packFolder(dir))]), 'dataset.tar');
  const response = await fetch(`${api.url}/v1/datasets`, { method: 'POST', headers, body: form });
  if (response.status !== 201) throw new Error(`POST /v1/datasets: ${response.status} ${await response.text()}`);
  return (await response.json()) as DatasetView;
}
