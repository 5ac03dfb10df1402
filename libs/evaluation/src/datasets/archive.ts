import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, create as createTar, type ReadEntry } from 'tar';
import * as yauzl from 'yauzl';
import { ErrorCode } from '@fathom/contracts';
import { DatasetError } from './dataset-error';
import { DATASET_MANIFEST_FILES } from './dataset-manifest';

export type ArchiveKind = 'tar' | 'zip';

export interface ArchiveLimits {
  /** Bytes written out, counted as they are extracted (a header's size is not trusted). */
  maxBytes: number;
  maxFiles: number;
}

export interface UnpackedArchive {
  /** The folder holding dataset.yaml: destDir, or the archive's one top folder. */
  root: string;
  files: number;
  bytes: number;
}

/** Entries an archiver adds beside the files (macOS resource forks, Finder's folder settings): skipped. */
function isJunk(parts: readonly string[]): boolean {
  const base = parts[parts.length - 1] ?? '';
  return parts[0] === '__MACOSX' || base.startsWith('._') || base === '.DS_Store';
}

/**
 * Extracts a .tar (optionally gzipped) or .zip into destDir, refusing what could write outside it
 * or fill the disk: absolute paths, "..", links, devices, more than maxFiles files or maxBytes
 * bytes. Each refusal is a DatasetError naming the entry; destDir is emptied then.
 */
export async function unpackArchive(input: Readable, kind: ArchiveKind, destDir: string, limits: ArchiveLimits): Promise<UnpackedArchive> {
  await mkdir(destDir, { recursive: true });
  const extraction = new Extraction(destDir, limits);
  try {
    if (kind === 'tar') await unpackTar(input, extraction);
    else await unpackZip(input, extraction);
    if (extraction.files === 0)
      throw new DatasetError(`the ${kind} archive`, undefined, 'holds no files: pack the folder with dataset.yaml and its samples');
    return { root: await datasetRoot(destDir, kind), files: extraction.files, bytes: extraction.bytes };
  } catch (error) {
    input.destroy();
    await emptyFolder(destDir);
    throw error;
  }
}

class Extraction {
  files = 0;
  bytes = 0;
  private readonly folders = new Set<string>();

  constructor(
    readonly destDir: string,
    readonly limits: ArchiveLimits,
  ) {}

  /** Where an entry goes, undefined for folders and junk; throws for what may not be extracted. */
  async target(name: string, type: string): Promise<string | undefined> {
    const problem = entryProblem(name);
    if (problem) throw new DatasetError(name, undefined, problem);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length === 0 || isJunk(parts)) return undefined;
    if (type === 'directory') return undefined;
    if (type !== 'file') throw new DatasetError(name, undefined, `is a ${type}; a dataset archive holds files and folders only`);
    if (++this.files > this.limits.maxFiles) {
      throw new DatasetError(name, undefined, `is file ${this.files}; a dataset archive holds at most ${this.limits.maxFiles} files`, {
        code: ErrorCode.DatasetTooLarge,
      });
    }
    const target = join(this.destDir, ...parts);
    const folder = dirname(target);
    if (!this.folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      this.folders.add(folder);
    }
    return target;
  }

  count(name: string, bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.limits.maxBytes) {
      throw new DatasetError(name, undefined, `takes the extracted dataset over ${this.limits.maxBytes} bytes`, {
        code: ErrorCode.DatasetTooLarge,
      });
    }
  }

  /** Copies an entry's bytes to its file, counting them; 'wx': an entry named twice is refused, not overwritten. */
  async write(name: string, target: string, data: Readable | NodeJS.ReadableStream): Promise<void> {
    let out: WriteStream | undefined;
    try {
      out = createWriteStream(target, { flags: 'wx' });
      const counted = async function* (this: void, source: AsyncIterable<Buffer>, extraction: Extraction) {
        for await (const chunk of source) {
          extraction.count(name, chunk.length);
          yield chunk;
        }
      };
      await pipeline(counted(data as AsyncIterable<Buffer>, this), out);
    } catch (error) {
      if (error instanceof DatasetError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new DatasetError(name, undefined, 'is in the archive twice');
      throw new DatasetError(name, undefined, `could not be extracted (${(error as Error).message})`);
    }
  }
}

/** Why an entry's name may not be extracted, or undefined. */
export function entryProblem(name: string): string | undefined {
  if (name.includes('\0')) return 'has a NUL character in its name';
  if (name.includes('\\')) return 'has "\\" in its name: archive paths are separated with "/"';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'has an absolute path: archive paths are relative';
  if (name.split('/').includes('..')) return 'has ".." in its path: it would be written outside the dataset folder';
  return undefined;
}

const TAR_TYPES: Partial<Record<ReadEntry['type'], string>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  GNUDumpDir: 'directory',
  SymbolicLink: 'symbolic link',
  Link: 'hard link',
  CharacterDevice: 'character device',
  BlockDevice: 'block device',
  FIFO: 'named pipe',
};

async function unpackTar(input: Readable, extraction: Extraction): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let failure: unknown;
    const writes: Promise<void>[] = [];
    const fail = (error: unknown) => {
      if (failure) return;
      failure = error;
      input.unpipe();
      input.destroy();
      reject(
        error instanceof DatasetError
          ? error
          : new DatasetError('the tar archive', undefined, `is not a tar archive this reads (${(error as Error).message})`),
      );
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (failure) return void entry.resume();
        const settle = (async () => {
          const target = await extraction.target(entry.path, TAR_TYPES[entry.type] ?? entry.type);
          if (target === undefined) entry.resume();
          else await extraction.write(entry.path, target, entry as unknown as Readable);
        })();
        writes.push(
          settle.catch((error: unknown) => {
            entry.resume();
            fail(error);
          }),
        );
      },
    });
    parser.on('error', fail);
    parser.on('end', () => {
      void Promise.all(writes).then(() => {
        if (!failure) resolve();
      });
    });
    input.on('error', fail);
    input.pipe(parser);
  });
}

async function unpackZip(input: Readable, extraction: Extraction): Promise<void> {
  // A zip's directory is at its end: the upload is spooled to a file first, counted against the limit.
  const spoolDir = await mkdtemp(join(tmpdir(), 'fathom-zip-'));
  try {
    const spool = join(spoolDir, 'upload.zip');
    let spooled = 0;
    const limit = extraction.limits.maxBytes;
    await pipeline(
      input,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          spooled += chunk.length;
          if (spooled > limit)
            throw new DatasetError('the zip archive', undefined, `is over ${limit} bytes`, { code: ErrorCode.DatasetTooLarge });
          yield chunk;
        }
      },
      createWriteStream(spool),
    );
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(spool, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true });
    } catch (error) {
      throw new DatasetError('the zip archive', undefined, `is not a zip archive this reads (${(error as Error).message})`);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('error', (error: Error) =>
          reject(new DatasetError('the zip archive', undefined, `is not a zip archive this reads (${error.message})`)),
        );
        zip.on('end', () => resolve());
        zip.on('entry', (entry: yauzl.Entry) => {
          void (async () => {
            const name = (entry.fileName as unknown as Buffer).toString('utf8');
            const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
            const type =
              name.endsWith('/') || mode === 0o040000
                ? 'directory'
                : mode === 0 || mode === 0o100000
                  ? 'file'
                  : (ZIP_TYPES[mode] ?? 'special file');
            const target = await extraction.target(name, type);
            if (target !== undefined) await extraction.write(name, target, await zip.openReadStreamPromise(entry));
            zip.readEntry();
          })().catch((error: unknown) => {
            zip.close();
            reject(
              error instanceof DatasetError
                ? error
                : new DatasetError(String(entry.fileName), undefined, `could not be extracted (${(error as Error).message})`),
            );
          });
        });
        zip.readEntry();
      });
    } finally {
      if (zip.isOpen) zip.close();
    }
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

const ZIP_TYPES: Record<number, string> = {
  0o120000: 'symbolic link',
  0o020000: 'character device',
  0o060000: 'block device',
  0o010000: 'named pipe',
  0o140000: 'socket',
};

/** The folder holding the manifest: the top, or the one folder everything was packed in. */
async function datasetRoot(destDir: string, kind: ArchiveKind): Promise<string> {
  const hasManifest = async (dir: string) => {
    for (const name of DATASET_MANIFEST_FILES) if (await isFile(join(dir, name))) return true;
    return false;
  };
  if (await hasManifest(destDir)) return destDir;
  const top = (await readdir(destDir, { withFileTypes: true })).filter((e) => !isJunk([e.name]));
  const [only] = top;
  if (top.length === 1 && only?.isDirectory() && (await hasManifest(join(destDir, only.name)))) return join(destDir, only.name);
  throw new DatasetError(
    'dataset.yaml',
    undefined,
    `missing from the ${kind} archive: put dataset.yaml at its top (or in its one top folder)`,
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function emptyFolder(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, entry), { recursive: true, force: true });
}

/** tar's cache of hard-linked files that never remembers one: each is packed as a file, since unpacking refuses links. */
class NoHardLinks<K, V> extends Map<K, V> {
  override get(): V | undefined {
    return undefined;
  }
}

/** A folder as an uncompressed tar stream (the CLI uploads a dataset folder this way); files in sorted order. */
export async function packFolder(dir: string): Promise<Readable> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
  const pack = createTar({ cwd: dir, portable: true, linkCache: new NoHardLinks() }, files);
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}
