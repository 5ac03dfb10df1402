import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { create as createTar } from 'tar';
import { ZipFile } from 'yazl';
import type { DatasetView } from '@fathom/contracts';
import { encodeNpy } from '@fathom/evaluation';
import { bearer, FathomStack, type ApiInstance } from './support/fathom-stack';

type DatasetDetail = DatasetView & { sampleIds: string[] };
interface DatasetList {
  datasets: DatasetView[];
  builtins: Array<{ name: string; version: string; task: string; registered: boolean }>;
}

const WIDTH = 8;
const HEIGHT = 6;
/** The API's limit in this spec: a few tiny datasets fit, a quarter of a megabyte of noise does not. */
const MAX_DATASET_BYTES = 256 * 1024;

/**
 * A tiny depth dataset in `dir`: three samples, each an RGB PNG, its depth in metres (.npy) and a
 * validity mask (PNG); `maskSize` makes sample b's mask another size (a broken dataset).
 */
async function writeDepthDataset(dir: string, name: string, version: string, maskSize = { width: WIDTH, height: HEIGHT }) {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'depth'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const samples = ['a', 'b', 'c'];
  for (const [i, id] of samples.entries()) {
    const image = await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: 40 * i, g: 100, b: 200 } } })
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'images', `${id}.png`), image);
    writeFileSync(join(dir, 'depth', `${id}.npy`), encodeNpy(new Float32Array(WIDTH * HEIGHT).fill(1 + i), [HEIGHT, WIDTH]));
    const size = id === 'b' ? maskSize : { width: WIDTH, height: HEIGHT };
    const mask = await sharp({ create: { ...size, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .greyscale()
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'masks', `${id}.png`), mask);
  }
  writeFileSync(
    join(dir, 'dataset.yaml'),
    [
      `name: ${name}`,
      `version: "${version}"`,
      'task: depth',
      'licence: CC0-1.0',
      'description: three flat scenes',
      'samples:',
      ...samples.map((id) => `  - { id: ${id}, image: images/${id}.png, depth: depth/${id}.npy, mask: masks/${id}.png }`),
      '',
    ].join('\n'),
  );
}

/** Every file under `dir`, relative, "/"-separated. */
const filesIn = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

async function tarOf(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ cwd: dir, portable: true }, filesIn(dir)) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A zip of `entries` (name → bytes), as a desktop archiver writes one. */
function zipOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new ZipFile();
  for (const [name, bytes] of Object.entries(entries)) zip.addBuffer(bytes, name);
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}
const zipOfFolder = (dir: string) => zipOf(Object.fromEntries(filesIn(dir).map((f) => [f, readFileSync(join(dir, f))])));

/**
 * Datasets over REST (issue 14) with a real API process, PostgreSQL, Redis and the filesystem
 * object store: an admin uploads a dataset as a .zip or a .tar.gz, lists and reads it back; what
 * cannot be used is refused with what to fix, and nothing is left behind on the API's disk.
 */
describe('datasets: upload, list and read evaluation datasets over REST', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let admin: { id: string; key: string };
  let reader: { id: string; key: string };
  /** The API process's TMPDIR: every upload's temporary files go there, and must go away. */
  const apiTmp = mkdtempSync(join(tmpdir(), 'fathom-api-tmp-'));
  const work = mkdtempSync(join(tmpdir(), 'fathom-datasets-e2e-'));

  const upload = (archive: Buffer, filename: string, key = admin.key) => {
    const form = new FormData();
    form.append('archive', new Blob([new Uint8Array(archive)]), filename);
    return fetch(`${api.url}/v1/datasets`, { method: 'POST', body: form, headers: bearer(key) });
  };
  const get = (path: string, key = reader.key) => fetch(`${api.url}/v1/datasets${path}`, { headers: bearer(key) });
  const json = async <T>(response: Response) => (await response.json()) as T;
  const errorOf = async (response: Response) => ({
    status: response.status,
    ...(await json<{ error: { code: string; message: string; details?: Record<string, unknown> } }>(response)).error,
  });
  const folder = async (name: string, version: string, maskSize?: { width: number; height: number }) => {
    const dir = join(work, `${name}-${version}-${Math.random().toString(36).slice(2)}`);
    await writeDepthDataset(dir, name, version, maskSize);
    return dir;
  };
  /** Datasets whose files are in the object store. */
  const storedDatasets = () =>
    readdirSync(join(stack.blobDir, 'fathom', 'dataset'), { withFileTypes: true }).filter((e) => e.isDirectory()).length;

  beforeAll(async () => {
    stack = await FathomStack.start();
    admin = await stack.createKey('data-admin', ['models:admin', 'jobs:read']);
    reader = await stack.createKey('evaluator', ['jobs:read', 'jobs:write']);
    api = await stack.startApi({ API_AUTH: 'keys', API_MAX_DATASET_BYTES: String(MAX_DATASET_BYTES), TMPDIR: apiTmp });
  });
  afterAll(async () => {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(apiTmp, { recursive: true, force: true });
  });
  afterEach(() => {
    // Whatever the request's outcome, its archive and unpacked files are gone.
    expect(readdirSync(apiTmp)).toEqual([]);
  });

  it('registers a dataset uploaded as a zip, then its next version as a tar.gz, and serves both', async () => {
    const v1 = await folder('flat-scenes', '1');
    const created = await upload(await zipOfFolder(v1), 'flat-scenes.zip');
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/datasets/flat-scenes/1');
    const first = await json<DatasetDetail>(created);
    expect(first).toMatchObject({
      name: 'flat-scenes',
      version: '1',
      task: 'depth',
      description: 'three flat scenes',
      licence: 'CC0-1.0',
      samples: 3,
      source: 'upload',
      createdBy: admin.id,
      sampleIds: ['a', 'b', 'c'],
    });
    const sent = filesIn(v1);
    expect(first.bytes).toBe(sent.reduce((sum, f) => sum + readFileSync(join(v1, f)).length, 0));
    // Every file is in the object store under the dataset's own prefix, byte for byte.
    for (const file of sent) expect(await stack.blobs.get(stack.blobs.datasetKey(first.id, file))).toEqual(readFileSync(join(v1, file)));

    // The same dataset packed in a folder of its own, gzip-compressed, named as if it were a zip: read from its bytes.
    const v2 = await folder('flat-scenes', '2');
    const secondResponse = await upload(await tarOfNested(v2), 'flat-scenes-2.zip');
    expect(secondResponse.status).toBe(201);
    const second = await json<DatasetDetail>(secondResponse);
    expect(second).toMatchObject({ name: 'flat-scenes', version: '2', samples: 3, sampleIds: ['a', 'b', 'c'] });

    expect(await json<DatasetDetail>(await get('/flat-scenes'))).toMatchObject({ id: second.id, version: '2' });
    expect(await json<DatasetDetail>(await get('/flat-scenes/1'))).toEqual(first);
    const list = await json<DatasetList>(await get(''));
    expect(list.datasets.map((d) => `${d.name}@${d.version}`)).toEqual(['flat-scenes@2', 'flat-scenes@1']);
    expect(list.builtins).toContainEqual(expect.objectContaining({ name: 'text-lines', registered: false }));
    expect((await errorOf(await get('/flat-scenes/3'))).code).toBe('dataset_not_found');

    // Reading needs jobs:read; registering needs models:admin.
    expect(await errorOf(await upload(await zipOfFolder(v1), 'x.zip', reader.key))).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('refuses a name@version registered already, asking for a new version, and stores nothing', async () => {
    const dir = await folder('twice', '1.0.0');
    expect((await upload(await tarOf(dir), 'twice.tar')).status).toBe(201);
    const stored = storedDatasets();
    const again = await errorOf(await upload(await zipOfFolder(dir), 'twice.zip'));
    expect(again).toMatchObject({ status: 409, code: 'dataset_exists', details: { name: 'twice', version: '1.0.0' } });
    expect(again.message).toMatch(/twice@1\.0\.0 is registered already.*bump "version"/);
    expect(storedDatasets()).toBe(stored);
  });

  it('refuses a dataset whose mask is not its image’s size, naming the manifest, the field and the file', async () => {
    const dir = await folder('broken-mask', '1', { width: 4, height: 3 });
    const refused = await errorOf(await upload(await tarOf(dir), 'broken-mask.tar'));
    expect(refused).toMatchObject({ status: 400, code: 'invalid_dataset', details: { file: 'dataset.yaml', field: 'samples[1].mask' } });
    expect(refused.message).toContain('dataset.yaml');
    expect(refused.message).toContain('samples[1].mask');
    expect(refused.message).toContain('masks/b.png');
    expect((await errorOf(await get('/broken-mask'))).status).toBe(404);
  });

  it('refuses an archive with an entry that would be written outside its folder (zip slip)', async () => {
    const dir = await folder('slip', '1');
    const files = Object.fromEntries(filesIn(dir).map((f) => [f, readFileSync(join(dir, f))]));
    // yazl will not write "..": the entry is named "xx/evil.txt" and renamed in the bytes (same length, same CRC).
    const zip = await zipOf({ ...files, 'xx/evil.txt': Buffer.from('owned') });
    const slipped = Buffer.from(zip.toString('latin1').replaceAll('xx/evil.txt', '../evil.txt'), 'latin1');
    const refused = await errorOf(await upload(slipped, 'slip.zip'));
    expect(refused).toMatchObject({ status: 400, code: 'invalid_dataset', details: { file: '../evil.txt' } });
    expect(refused.message).toContain('..');
    expect((await errorOf(await get('/slip'))).status).toBe(404);
  });

  it('refuses an archive over API_MAX_DATASET_BYTES, packed or unpacked, with 413, and a file that is no archive with 400', async () => {
    const dir = await folder('noise', '1');
    writeFileSync(join(dir, 'images', 'noise.bin'), randomBytes(MAX_DATASET_BYTES));
    const tooLarge = await errorOf(await upload(await tarOf(dir), 'noise.tar'));
    expect(tooLarge).toMatchObject({ status: 413, code: 'dataset_too_large', details: { limitBytes: MAX_DATASET_BYTES } });
    expect(tooLarge.message).toContain('API_MAX_DATASET_BYTES');

    // Small packed, over the limit unpacked (a gzip bomb in miniature): stopped while unpacking.
    const bomb = await folder('bomb', '1');
    writeFileSync(join(bomb, 'images', 'zeros.bin'), Buffer.alloc(MAX_DATASET_BYTES));
    const packed = await tarOfNested(bomb);
    expect(packed.length).toBeLessThan(MAX_DATASET_BYTES / 4);
    const unpacked = await errorOf(await upload(packed, 'bomb.tar.gz'));
    expect(unpacked).toMatchObject({ status: 413, code: 'dataset_too_large', details: { limitBytes: MAX_DATASET_BYTES } });
    expect(unpacked.message).toMatch(/zeros\.bin.*API_MAX_DATASET_BYTES.*packed or unpacked/);

    const notAnArchive = await errorOf(await upload(Buffer.from('name: x\ntask: depth\n'), 'dataset.tar'));
    expect(notAnArchive).toMatchObject({ status: 400, code: 'invalid_dataset', details: { file: 'dataset.tar' } });
    expect(notAnArchive.message).toMatch(/not a tar, gzip-compressed tar or zip archive/);
  });
});

/** A gzip-compressed tar holding the dataset inside one top folder (`<name>/dataset.yaml`), as `tar czf x.tgz folder/` packs it. */
async function tarOfNested(dir: string): Promise<Buffer> {
  const parent = join(dir, '..');
  const top = dir.slice(parent.length + 1);
  const chunks: Buffer[] = [];
  const files = filesIn(dir).map((f) => `${top}/${f}`);
  for await (const chunk of createTar({ cwd: parent, gzip: true, portable: true }, files) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
