import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { TaskName } from '@fathom/contracts';

export interface BuiltinDatasetOptions {
  /** `../shared` beside the checkout (fixtures); the datasets made from fixtures are unavailable without it. */
  sharedDir?: string;
}

export type BuiltinBuildResult = { built: true; samples: number } | { built: false; reason: string };

/** A dataset that ships with Fathom as a recipe: built into a folder with dataset.yaml on demand. */
export interface BuiltinDataset {
  name: string;
  version: string;
  task: TaskName;
  description: string;
  licence: string;
  /** Why it cannot be built here (a fixture it is made from is absent), or undefined. */
  unavailable(opts: BuiltinDatasetOptions): string | undefined;
  /** Writes the dataset into destDir (created), the same bytes every time. */
  build(destDir: string, opts: BuiltinDatasetOptions): Promise<BuiltinBuildResult>;
}

/** Writes a file under the dataset folder, creating its folder. */
export async function writeDatasetFile(destDir: string, path: string, bytes: Buffer | string): Promise<void> {
  const full = join(destDir, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, bytes);
}

/** dataset.yaml from the dataset's own fields and its samples. */
export async function writeManifest(
  destDir: string,
  dataset: Pick<BuiltinDataset, 'name' | 'version' | 'task' | 'description' | 'licence'>,
  extra: Record<string, unknown> & { samples: unknown[] },
): Promise<void> {
  const { samples, ...settings } = extra;
  const manifest = {
    name: dataset.name,
    version: dataset.version,
    task: dataset.task,
    licence: dataset.licence,
    description: dataset.description,
    ...settings,
    samples,
  };
  await writeDatasetFile(destDir, 'dataset.yaml', stringify(manifest, { lineWidth: 0 }));
}

/** A small seeded PRNG (mulberry32): the generated datasets are the same on every build. */
export function seededRandom(seed: number): { next(): number; int(min: number, max: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** Words the generated text lines are made of (plain English, varied lengths, some digits). */
export const WORDS = [
  'invoice',
  'total',
  'amount',
  'paid',
  'order',
  'number',
  'receipt',
  'station',
  'platform',
  'exit',
  'north',
  'garden',
  'market',
  'street',
  'open',
  'closed',
  'daily',
  'hours',
  'quality',
  'model',
  'depth',
  'queue',
  'worker',
  'fathom',
  'harbour',
  'lighthouse',
  'river',
  'bridge',
  'museum',
  'ticket',
  'coffee',
  'bakery',
  'fresh',
  'bread',
  'sale',
  'price',
  'window',
  'delivery',
  'parcel',
  'express',
  'route',
  'level',
  'floor',
  'room',
  'library',
  'books',
  'return',
  'monday',
  '2024',
  '17:30',
  'No. 42',
  '€12.50',
  'A-113',
  '#7',
  'km 3',
  '10%',
] as const;
