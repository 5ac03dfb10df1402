import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { DatasetError } from './dataset-error';
import { folderFiles } from './dataset-files';
import { loadDataset, validateDataset } from './dataset-loader';
import { encodeNpy } from './npy';
import { palettePng } from './palette-png.fixture';
import { readTruth } from './truth-readers';

const rgb = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
const grey8 = (width: number, height: number, values: (i: number) => number) =>
  sharp(Buffer.from(Array.from({ length: width * height }, (_, i) => values(i))), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
const grey16 = (width: number, height: number, values: number[]) =>
  sharp(Uint16Array.from(values), { raw: { width, height, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer();

const VOC_LIKE_PALETTE = Array.from({ length: 256 }, (_, i) => [(i * 37) % 256, (i * 91) % 256, i] as [number, number, number]);

const folders: string[] = [];
async function datasetFolder(files: Record<string, Buffer | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fathom-dataset-'));
  folders.push(dir);
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}
afterAll(() => Promise.all(folders.map((d) => rm(d, { recursive: true, force: true }))));

async function problemsOf(dir: string, maxProblems?: number) {
  const files = folderFiles(dir);
  const validation = await validateDataset(await loadDataset(files), files, { maxProblems });
  return { messages: validation.problems.map((p) => p.message), validation };
}

describe('a depth dataset', () => {
  it('reads millimetre PNGs and float32 .npy as metres, with the optional mask', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: room\nversion: 1\ntask: depth\nlicence: CC0-1.0\nsamples:\n  - { image: a.png, depth: a-mm.png, mask: a-valid.png }\n  - { image: b.png, depth: b.npy }\n',
      'a.png': await rgb(2, 2),
      'a-mm.png': await grey16(2, 2, [0, 1500, 2250, 65535]),
      'a-valid.png': await grey8(2, 2, (i) => (i === 3 ? 0 : 255)),
      'b.png': await rgb(3, 1),
      'b.npy': encodeNpy(Float32Array.from([1.25, NaN, 7]), [1, 3]),
    });
    const files = folderFiles(dir);
    const dataset = await loadDataset(files);
    expect(dataset.samples.map((s) => s.id)).toEqual(['a', 'b']);
    expect(await validateDataset(dataset, files)).toMatchObject({
      ok: true,
      problems: [],
      samples: [
        { id: 'a', width: 2, height: 2 },
        { id: 'b', width: 3, height: 1 },
      ],
    });

    const a = await readTruth('depth', dataset.samples[0]!, files, dataset);
    expect(Array.from(a.depth)).toEqual([0, 1.5, 2.25, Math.fround(65.535)]);
    expect(Array.from(a.valid!)).toEqual([1, 1, 1, 0]);
    const b = await readTruth('depth', dataset.samples[1]!, files, dataset);
    expect([b.width, b.height, Array.from(b.depth), b.valid]).toEqual([3, 1, [1.25, NaN, 7], undefined]);
  });

  it('names the sample, the field and the file of each problem: missing, 8-bit, wrong size', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: room\nversion: 1\ntask: depth\nlicence: CC0-1.0\nsamples:\n' +
        '  - { image: a.png, depth: d/000.png }\n  - { image: gone.png, depth: d/000.png }\n  - { image: a.png, id: two, depth: d/002.png }\n' +
        '  - { image: a.png, id: three, depth: d/003.npy }\n  - { image: a.png, id: four, depth: d/missing.npy }\n  - { image: not-an-image.png, depth: d/000.png }\n',
      'a.png': await rgb(4, 3),
      'not-an-image.png': 'hello',
      'd/000.png': await grey16(4, 3, new Array<number>(12).fill(1000)),
      'd/002.png': await grey8(4, 3, () => 10),
      'd/003.npy': encodeNpy(new Float32Array(6), [2, 3]),
    });
    const { messages, validation } = await problemsOf(dir);
    expect(messages).toEqual([
      'dataset.yaml: samples[1].image: "gone.png" is missing',
      'dataset.yaml: samples[2].depth: "d/002.png" is 8-bit; depth PNGs must be 16-bit greyscale millimetres (or .npy float32 metres)',
      'dataset.yaml: samples[3].depth: "d/003.npy" is 3×2; its image "a.png" is 4×3: ground truth is at the image\'s size',
      'dataset.yaml: samples[4].depth: "d/missing.npy" is missing',
      expect.stringMatching(/^dataset\.yaml: samples\[5\]\.image: "not-an-image\.png" does not decode \(/),
    ]);
    expect(validation.problems[1]).toMatchObject({ file: 'dataset.yaml', field: 'samples[2].depth', code: 'invalid_dataset' });
    expect(validation).toMatchObject({ ok: false, truncated: false });
  });

  it('stops after the first problems of a dataset that is wrong throughout', async () => {
    const samples = Array.from({ length: 30 }, (_, i) => `  - { image: missing-${i}.png, depth: d.npy }`).join('\n');
    const dir = await datasetFolder({ 'dataset.yaml': `name: broken\nversion: 1\ntask: depth\nlicence: x\nsamples:\n${samples}\n` });
    const { validation } = await problemsOf(dir, 20);
    expect(validation.problems).toHaveLength(20);
    expect(validation.truncated).toBe(true);
    const combined = DatasetError.combine(validation.problems, validation.truncated);
    expect(combined.message).toMatch(
      /^20 problems: dataset\.yaml: samples\[0\]\.image: "missing-0\.png" is missing; .*; and more \(checking stopped there\)$/,
    );
    expect(combined.details).toMatchObject({ file: 'dataset.yaml', field: 'samples[0].image', truncated: true });
  });
});

describe('a segmentation dataset', () => {
  it('reads class maps and finds a class the labels do not have', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: pets\nversion: 1\ntask: segmentation\nlicence: CC0-1.0\nsegmentation: { labels: { file: labels.txt } }\nsamples:\n' +
        '  - { image: a.png, classes: a.png.classes.png }\n  - { image: b.png, classes: b.classes.png }\n  - { image: b.png, id: rgb, classes: rgb.png }\n' +
        '  - { image: a.png, id: voc, classes: voc.png }\n',
      'labels.txt': 'background\ncat\ndog\n',
      'a.png': await rgb(3, 2),
      'a.png.classes.png': await grey8(3, 2, (i) => [0, 1, 2, 255, 0, 1][i]!),
      'b.png': await rgb(3, 2),
      'b.classes.png': await grey8(3, 2, (i) => (i === 4 ? 37 : 0)),
      'rgb.png': await rgb(3, 2),
      'voc.png': palettePng(3, 2, 8, [0, 2, 2, 255, 1, 0], VOC_LIKE_PALETTE, [0, 4]),
    });
    const files = folderFiles(dir);
    const dataset = await loadDataset(files);
    expect([dataset.labels, dataset.ignoreIndex]).toEqual([['background', 'cat', 'dog'], 255]);
    const truth = await readTruth('segmentation', dataset.samples[0]!, files, dataset);
    expect([Array.from(truth.classes), truth.numClasses, truth.ignoreIndex]).toEqual([[0, 1, 2, 255, 0, 1], 3, 255]);
    // VOC stores class maps as palette PNGs: the index is the class, whatever colour the palette gives it.
    expect(Array.from((await readTruth('segmentation', dataset.samples[3]!, files, dataset)).classes)).toEqual([0, 2, 2, 255, 1, 0]);
    expect((await problemsOf(dir)).messages).toEqual([
      'dataset.yaml: samples[1].classes: "b.classes.png" has class 37 at (1, 1); there are 3 labels (0..2) and the ignore index is 255',
      'dataset.yaml: samples[2].classes: "rgb.png" is a 3-channel PNG; class maps are PNGs whose values are class indices: greyscale (8 or 16 bits) or palette (as VOC\'s)',
    ]);
  });
});

describe('a classification dataset', () => {
  it('takes labels from a CSV and names the line of an unknown one', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: cls\nversion: 1\ntask: classification\nlicence: CC0-1.0\nclassification: { labels: ["0", "180"], csv: labels.csv }\n',
      'labels.csv': 'image,label\nup.png,0\n"down.png",180\nside.png,90\n',
      'up.png': await rgb(8, 4),
      'down.png': await rgb(8, 4),
    });
    await expect(loadDataset(folderFiles(dir))).rejects.toThrow('labels.csv: line 4: "90" is not one of classification.labels (0, 180)');
    await writeFile(join(dir, 'labels.csv'), 'image,label\nup.png,0\n"down.png",180\n');
    const files = folderFiles(dir);
    const dataset = await loadDataset(files);
    expect(dataset.samples.map((s) => [s.id, s.label])).toEqual([
      ['up', '0'],
      ['down', '180'],
    ]);
    expect(await readTruth('classification', dataset.samples[1]!, files, dataset)).toEqual({ label: '180', labels: ['0', '180'] });
    expect((await validateDataset(dataset, files)).ok).toBe(true);
  });
});

describe('a text-detection dataset', () => {
  it('reads polygons from files or inline, and refuses ones that are not polygons on the image', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: lines\nversion: 1\ntask: text-detection\nlicence: CC0-1.0\nsamples:\n' +
        '  - { image: a.png, polygons: a.json }\n  - { image: a.png, id: inline, polygons: [[[1, 1], [9, 1], [9, 5], [1, 5]]] }\n' +
        '  - { image: a.png, id: two-points, polygons: bad.json }\n  - { image: a.png, id: far, polygons: [[[1, 1], [90, 1], [90, 5]]] }\n',
      'a.png': await rgb(20, 10),
      'a.json': JSON.stringify([
        {
          points: [
            [0, 0],
            [10, 0],
            [10, 4],
            [0, 4],
          ],
        },
        {
          points: [
            [2, 5],
            [8, 5],
            [8, 9],
          ],
          ignore: true,
        },
      ]),
      'bad.json': JSON.stringify([
        [
          [0, 0],
          [3, 3],
        ],
      ]),
    });
    const files = folderFiles(dir);
    const dataset = await loadDataset(files);
    expect(await readTruth('text-detection', dataset.samples[0]!, files, dataset)).toEqual({
      polygons: [
        [
          [0, 0],
          [10, 0],
          [10, 4],
          [0, 4],
        ],
        [
          [2, 5],
          [8, 5],
          [8, 9],
        ],
      ],
      ignore: [false, true],
    });
    expect((await problemsOf(dir)).messages).toEqual([
      'dataset.yaml: samples[2].polygons: "bad.json": polygon 0 has 2 points; a polygon has at least 3',
      'dataset.yaml: samples[3].polygons: polygon 0 has the point (90, 1), outside the 20×10 image',
    ]);
  });
});

describe('an image-to-image dataset', () => {
  it('records how many times larger each target is, and refuses a target that is not a whole multiple', async () => {
    const dir = await datasetFolder({
      'dataset.yaml':
        'name: sr\nversion: 1\ntask: image-to-image\nlicence: CC0-1.0\nsamples:\n  - { image: a.png, target: a3.png }\n  - { image: a.png, id: odd, target: a25.png }\n',
      'a.png': await rgb(4, 2),
      'a3.png': await rgb(12, 6),
      'a25.png': await rgb(10, 5),
    });
    const { messages, validation } = await problemsOf(dir);
    expect(validation.samples).toEqual([{ id: 'a', width: 4, height: 2, targetScale: 3 }]);
    expect(messages).toEqual([
      'dataset.yaml: samples[1].target: "a25.png" is 10×5; its image "a.png" is 4×2: a target is the image\'s size or a whole multiple of it',
    ]);
  });
});

describe('a dataset folder', () => {
  it('is refused without a manifest, and never reads outside itself', async () => {
    const dir = await datasetFolder({ 'README.md': 'no manifest here' });
    await expect(loadDataset(folderFiles(dir))).rejects.toThrow(
      'dataset.yaml: missing: a dataset is a folder with dataset.yaml (or dataset.json) at its top',
    );
    await expect(folderFiles(join(dir, 'sub')).read('../README.md')).rejects.toThrow(/leaves the dataset's folder/);
    expect(await folderFiles(dir).list!()).toEqual(['README.md']);
  });
});
