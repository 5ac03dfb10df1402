import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { create as createTar } from 'tar';
import * as yazl from 'yazl';
import { packFolder, unpackArchive } from './archive';
import { DatasetError } from './dataset-error';

const MANIFEST =
  'name: lines\nversion: 1\ntask: text-detection\nlicence: CC0-1.0\nsamples:\n  - { image: images/a.png, polygons: a.json }\n';
const LIMITS = { maxBytes: 1 << 20, maxFiles: 100 };

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'fathom-archive-'));
});
afterEach(() => rm(work, { recursive: true, force: true }));

async function folder(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(work, name);
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}

async function zipOf(entries: Array<[string, Buffer, Partial<yazl.Options>?]>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, bytes, options] of entries) zip.addBuffer(bytes, name, options);
  zip.end();
  return buffer(zip.outputStream);
}

async function refusal(promise: Promise<unknown>): Promise<DatasetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetError);
  return error as DatasetError;
}

const DATASET = { 'dataset.yaml': MANIFEST, 'images/a.png': Buffer.from('not really a png'), 'a.json': '[]' };

describe('dataset archives', () => {
  it('a folder packed as tar (plain or gzipped) unpacks to the same files', async () => {
    const source = await folder('source', DATASET);
    const tarBytes = await buffer(await packFolder(source));
    for (const [name, bytes] of [
      ['plain', tarBytes],
      ['gzip', await buffer(Readable.from([tarBytes]).pipe(createGzip()))],
    ] as const) {
      const dest = join(work, name);
      const unpacked = await unpackArchive(Readable.from([bytes]), 'tar', dest, LIMITS);
      expect(unpacked).toEqual({ root: dest, files: 3, bytes: MANIFEST.length + 16 + 2 });
      expect(await readFile(join(dest, 'dataset.yaml'), 'utf8')).toBe(MANIFEST);
      expect(await readFile(join(dest, 'images', 'a.png'), 'utf8')).toBe('not really a png');
    }
  });

  it('a zip of a folder with the dataset inside unpacks, the folder found as its root (macOS extras skipped)', async () => {
    const zip = await zipOf([
      ['lines-v1/dataset.yaml', Buffer.from(MANIFEST)],
      ['lines-v1/images/a.png', Buffer.alloc(1000, 7)],
      ['lines-v1/a.json', Buffer.from('[]')],
      ['__MACOSX/lines-v1/._dataset.yaml', Buffer.from('resource fork')],
    ]);
    const dest = join(work, 'dest');
    const unpacked = await unpackArchive(Readable.from([zip]), 'zip', dest, LIMITS);
    expect(unpacked).toEqual({ root: join(dest, 'lines-v1'), files: 3, bytes: MANIFEST.length + 1000 + 2 });
    expect(await readFile(join(dest, 'lines-v1', 'images', 'a.png'))).toEqual(Buffer.alloc(1000, 7));
    expect(existsSync(join(dest, '__MACOSX'))).toBe(false);
  });

  it('refuses a zip entry that climbs out of the folder (zip slip), writing nothing', async () => {
    // yazl will not write "..": the name is patched in place, same length, in both headers.
    const zip = await zipOf([
      ['dataset.yaml', Buffer.from(MANIFEST)],
      ['AA/evil.txt', Buffer.from('owned')],
    ]);
    const slip = Buffer.from(zip.toString('latin1').split('AA/evil.txt').join('../evil.txt'), 'latin1');
    const dest = join(work, 'dest');
    const error = await refusal(unpackArchive(Readable.from([slip]), 'zip', dest, LIMITS));
    expect(error.message).toBe('../evil.txt: has ".." in its path: it would be written outside the dataset folder');
    expect(existsSync(join(work, 'evil.txt'))).toBe(false);
    expect(await readdir(dest)).toEqual([]);
  });

  it('refuses links in a zip and in a tar', async () => {
    const zip = await zipOf([
      ['dataset.yaml', Buffer.from(MANIFEST)],
      ['images/a.png', Buffer.from('/etc/passwd'), { mode: 0o120777 }],
    ]);
    const zipError = await refusal(unpackArchive(Readable.from([zip]), 'zip', join(work, 'z'), LIMITS));
    expect(zipError.message).toBe('images/a.png: is a symbolic link; a dataset archive holds files and folders only');

    const source = await folder('source', { 'dataset.yaml': MANIFEST });
    await symlink('/etc/passwd', join(source, 'a.json'));
    const tarBytes = await buffer(createTar({ cwd: source, portable: true }, ['dataset.yaml', 'a.json']));
    const tarError = await refusal(unpackArchive(Readable.from([tarBytes]), 'tar', join(work, 't'), LIMITS));
    expect(tarError.message).toBe('a.json: is a symbolic link; a dataset archive holds files and folders only');

    const hard = await folder('hard', { 'dataset.yaml': MANIFEST, 'a.json': '[]' });
    await link(join(hard, 'a.json'), join(hard, 'b.json'));
    // Written to a file in one go (sync): tar's streaming Pack trips over a hard link read as a stream.
    createTar({ cwd: hard, portable: true, file: join(work, 'hard.tar'), sync: true }, ['dataset.yaml', 'a.json', 'b.json']);
    const hardBytes = await readFile(join(work, 'hard.tar'));
    const hardError = await refusal(unpackArchive(Readable.from([hardBytes]), 'tar', join(work, 'h'), LIMITS));
    expect(hardError.message).toBe('b.json: is a hard link; a dataset archive holds files and folders only');
    // packFolder (the CLI's upload) packs a hard-linked file as a file, so the same folder goes through.
    const packed = await unpackArchive(await packFolder(hard), 'tar', join(work, 'packed'), LIMITS);
    expect(packed.files).toBe(3);
    expect(await readFile(join(work, 'packed', 'b.json'), 'utf8')).toBe('[]');
  });

  it('refuses absolute and ".." paths in a tar', async () => {
    const source = await folder('source/inner', { 'dataset.yaml': MANIFEST });
    await writeFile(join(work, 'source', 'outside.txt'), 'x');
    const climbing = await buffer(createTar({ cwd: source, preservePaths: true }, ['dataset.yaml', '../outside.txt']));
    expect((await refusal(unpackArchive(Readable.from([climbing]), 'tar', join(work, 'a'), LIMITS))).message).toBe(
      '../outside.txt: has ".." in its path: it would be written outside the dataset folder',
    );
    const absolute = await buffer(createTar({ cwd: source, preservePaths: true }, [join(work, 'source', 'outside.txt')]));
    expect((await refusal(unpackArchive(Readable.from([absolute]), 'tar', join(work, 'b'), LIMITS))).message).toBe(
      `${join(work, 'source', 'outside.txt')}: has an absolute path: archive paths are relative`,
    );
  });

  it('stops at the file count and at the bytes actually extracted (a zip bomb is counted as it inflates)', async () => {
    const source = await folder('source', DATASET);
    const tarBytes = await buffer(await packFolder(source));
    const tooMany = await refusal(unpackArchive(Readable.from([tarBytes]), 'tar', join(work, 'a'), { maxBytes: 1 << 20, maxFiles: 2 }));
    expect([tooMany.code, tooMany.message]).toEqual([
      'dataset_too_large',
      'images/a.png: is file 3; a dataset archive holds at most 2 files',
    ]);

    const bomb = await zipOf([
      ['dataset.yaml', Buffer.from(MANIFEST)],
      ['images/a.png', Buffer.alloc(4 << 20)],
    ]);
    expect(bomb.length).toBeLessThan(64 << 10);
    const dest = join(work, 'bomb');
    const tooLarge = await refusal(unpackArchive(Readable.from([bomb]), 'zip', dest, { maxBytes: 1 << 20, maxFiles: 100 }));
    expect([tooLarge.code, tooLarge.message]).toEqual([
      'dataset_too_large',
      `images/a.png: takes the extracted dataset over ${1 << 20} bytes`,
    ]);
    expect(await readdir(dest)).toEqual([]);
  });

  it('says so when the archive has no dataset.yaml, or is not an archive', async () => {
    const zip = await zipOf([['notes.txt', Buffer.from('hello')]]);
    expect((await refusal(unpackArchive(Readable.from([zip]), 'zip', join(work, 'a'), LIMITS))).message).toBe(
      'dataset.yaml: missing from the zip archive: put dataset.yaml at its top (or in its one top folder)',
    );
    expect(
      (await refusal(unpackArchive(Readable.from([Buffer.from('just some text, not a zip')]), 'zip', join(work, 'b'), LIMITS))).message,
    ).toMatch(/^the zip archive: is not a zip archive this reads \(/);
    expect((await refusal(unpackArchive(Readable.from([Buffer.alloc(2048, 65)]), 'tar', join(work, 'c'), LIMITS))).message).toMatch(
      /^the tar archive: /,
    );
    const tarBytes = await buffer(await packFolder(await folder('source', DATASET)));
    const truncated = await refusal(unpackArchive(Readable.from([tarBytes.subarray(0, 700)]), 'tar', join(work, 'd'), LIMITS));
    expect(truncated.message).toMatch(/^the tar archive: is not a tar archive this reads \(.*truncated/i);
  });
});
