import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { itWithShared, sharedDir } from '@fathom/testing';
import { folderFiles, loadDataset, readTruth, validateDataset, type LoadedDataset } from '../datasets';
import { BUILTIN_DATASETS, builtinDataset } from '.';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fathom-builtin-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** Builds a built-in dataset, loads and validates it; returns it with its files' bytes. */
async function buildAndValidate(name: string, into: string) {
  const recipe = builtinDataset(name)!;
  const dir = join(work, into);
  expect(await recipe.build(dir, { sharedDir: sharedDir() })).toEqual({ built: true, samples: expect.any(Number) });
  const files = folderFiles(dir);
  const dataset = await loadDataset(files);
  const validation = await validateDataset(dataset, files);
  expect(validation.problems.map((p) => p.message)).toEqual([]);
  expect(dataset.manifest).toMatchObject({ name: recipe.name, version: recipe.version, task: recipe.task, licence: recipe.licence });
  const bytes = new Map<string, Buffer>();
  for (const path of await files.list!()) bytes.set(path, await files.read(path));
  const total = [...bytes.values()].reduce((sum, b) => sum + b.length, 0);
  expect(total).toBeLessThan(5 << 20);
  return { dataset, files, validation, bytes };
}

describe('built-in datasets', () => {
  it('one per task, each saying what it is and under which licence', () => {
    expect(BUILTIN_DATASETS.map((d) => [d.name, d.task])).toEqual([
      ['middlebury-motorcycle', 'depth'],
      ['pet-composites', 'segmentation'],
      ['text-orientation', 'classification'],
      ['text-lines', 'text-detection'],
      ['photos-x3', 'image-to-image'],
    ]);
    for (const d of BUILTIN_DATASETS) expect([d.description.length > 20, d.licence.length > 5]).toEqual([true, true]);
  });

  it('those made from fixtures say why they cannot be built without them', async () => {
    const absent = join(work, 'no-shared-here');
    for (const name of ['middlebury-motorcycle', 'pet-composites', 'photos-x3']) {
      const result = await builtinDataset(name)!.build(join(work, `unavailable-${name}`), { sharedDir: absent });
      expect(result).toEqual({ built: false, reason: expect.stringContaining(`${absent}/fixtures/`) });
      expect(builtinDataset(name)!.unavailable({})).toBe('needs the shared fixtures folder (../shared): none was given');
    }
  });

  it('text-lines: the same bytes every build; each polygon boxes a line’s ink and no ink is outside them', async () => {
    const first = await buildAndValidate('text-lines', 'lines-a');
    const second = await buildAndValidate('text-lines', 'lines-b');
    expect([...second.bytes.keys()]).toEqual([...first.bytes.keys()]);
    for (const [path, bytes] of first.bytes) expect([path, bytes.equals(second.bytes.get(path)!)]).toEqual([path, true]);

    const { dataset, files } = first;
    expect(dataset.samples).toHaveLength(24);
    const lineCounts = new Set<number>();
    for (const sample of dataset.samples) {
      const truth = await readTruth('text-detection', sample, files, dataset);
      lineCounts.add(truth.polygons.length);
      const { data, info } = await sharp(await files.read(sample.image))
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const boxes = truth.polygons.map((p) => ({ x0: p[0]![0], y0: p[0]![1], x1: p[2]![0], y1: p[2]![1] }));
      let inkOutside = 0;
      const inkInside = boxes.map(() => 0);
      for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
          if (data[y * info.width + x]! > 150) continue; // light background (≥ 215 before anti-aliasing)
          const box = boxes.findIndex((b) => x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1);
          if (box < 0) inkOutside++;
          else inkInside[box]!++;
        }
      }
      expect(inkOutside).toBe(0);
      for (const count of inkInside) expect(count).toBeGreaterThan(20);
    }
    expect([...lineCounts].sort()).toEqual([1, 2, 3, 4]);
  }, 60_000);

  it('text-orientation: the same bytes every build; 48-pixel lines, half of them upside down', async () => {
    const first = await buildAndValidate('text-orientation', 'orientation-a');
    const second = await buildAndValidate('text-orientation', 'orientation-b');
    for (const [path, bytes] of first.bytes) expect([path, bytes.equals(second.bytes.get(path)!)]).toEqual([path, true]);
    const { dataset, validation } = first;
    expect(dataset.labels).toEqual(['0', '180']);
    expect(dataset.samples.filter((s) => s.label === '180')).toHaveLength(20);
    expect(dataset.samples.filter((s) => s.label === '0')).toHaveLength(20);
    for (const check of validation.samples) expect([check.height, check.width >= 48 && check.width <= 340]).toEqual([48, true]);
    // The line sits in the middle: its two top and bottom rows are background (a mis-strided picture smears ink over every row).
    for (const sample of dataset.samples) {
      const { data, info } = await sharp(await first.files.read(sample.image))
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const inkRows = new Set<number>();
      for (let i = 0; i < data.length; i++) if (data[i]! < 150) inkRows.add(Math.floor(i / info.width));
      expect([sample.id, [0, 1, 46, 47].filter((row) => inkRows.has(row)), inkRows.size >= 10]).toEqual([sample.id, [], true]);
    }
  }, 60_000);

  itWithShared(
    ['fixtures', 'depth', 'middlebury2014_motorcycle'],
    'middlebury-motorcycle: 741×500, metric truth 2.11–5.02 m, 92.7 % valid',
    async () => {
      const { dataset, files, validation } = await buildAndValidate('middlebury-motorcycle', 'middlebury');
      expect(validation.samples).toEqual([{ id: 'motorcycle', width: 741, height: 500 }]);
      expect(dataset.manifest.licence).toMatch(/FLAG/);
      const truth = await readTruth('depth', dataset.samples[0]!, files, dataset);
      let valid = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < truth.depth.length; i++) {
        if (!truth.valid![i]) continue;
        valid++;
        min = Math.min(min, truth.depth[i]!);
        max = Math.max(max, truth.depth[i]!);
      }
      expect(valid / truth.depth.length).toBeCloseTo(0.9265, 4);
      expect([Math.round(min * 100) / 100, Math.round(max * 100) / 100]).toEqual([2.11, 5.02]);
    },
  );

  itWithShared(
    ['fixtures', 'images', 'derived_cc0_chelsea_cat_rgba.png'],
    'pet-composites: VOC classes, the cat is 8, its soft edge not scored',
    async () => {
      const { dataset, files } = await buildAndValidate('pet-composites', 'pets');
      expect([dataset.labels?.length, dataset.labels?.[8], dataset.ignoreIndex]).toEqual([21, 'cat', 255]);
      for (const sample of dataset.samples) {
        const truth = await readTruth('segmentation', sample, files, dataset);
        const counts = new Map<number, number>();
        for (const c of truth.classes) counts.set(c, (counts.get(c) ?? 0) + 1);
        expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 8, 255]);
        expect(counts.get(8)!).toBeGreaterThan(2000);
      }
      const again = await buildAndValidate('pet-composites', 'pets-again');
      expect(await sameBytes(files, again.files, dataset)).toBe(true);
    },
  );

  itWithShared(['fixtures', 'images'], 'photos-x3: targets three times their inputs, colour and greyscale', async () => {
    const { dataset, files, validation } = await buildAndValidate('photos-x3', 'photos');
    expect(validation.samples.map((s) => s.targetScale)).toEqual([3, 3, 3, 3, 3]);
    const channels = [];
    for (const sample of dataset.samples) channels.push((await readTruth('image-to-image', sample, files, dataset)).channels);
    expect(channels).toEqual([3, 3, 3, 1, 1]);
  });
});

async function sameBytes(a: ReturnType<typeof folderFiles>, b: ReturnType<typeof folderFiles>, dataset: LoadedDataset): Promise<boolean> {
  for (const sample of dataset.samples) {
    for (const path of [sample.image, sample.classes!]) if (!(await a.read(path)).equals(await b.read(path))) return false;
  }
  return true;
}
