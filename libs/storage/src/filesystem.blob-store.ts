import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobStore, isBlobKey, keySegments, type StreamedBlob } from './blob.store';
import { BlobStoreUnavailableError } from './blob-store.errors';
import { meteredSource } from './metered-source';

/** Where writes are staged before their rename: inside the root, so the rename stays on one filesystem. */
const STAGING_DIR = '.staging';

/**
 * Blobs as files under one folder, a key's segments as its relative path. A write goes to a
 * staging file first and is renamed into place, so a reader sees the old object or the new one,
 * never part of one (also on a shared NFS volume, where rename is atomic too).
 */
export class FilesystemBlobStore extends BlobStore {
  readonly kind = 'filesystem';

  constructor(
    private readonly root: string,
    prefix: string,
  ) {
    super(prefix);
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    await this.staged(key, (staging) => writeFile(staging, bytes));
  }

  async putStream(key: string, source: Readable | AsyncIterable<Buffer>, options: { maxBytes: number }): Promise<StreamedBlob> {
    const metered = meteredSource(key, source, options.maxBytes);
    await this.staged(
      key,
      async (staging) => {
        // Opened before the pipeline, not lazily by it: a source that fails at once would otherwise
        // be cleaned up before the stream's own open created the file, leaving it behind.
        const file = await open(staging, 'w');
        await pipeline(metered.chunks, file.createWriteStream());
      },
      metered.failure,
    );
    return metered.result();
  }

  /** `write` fills a staging file, renamed into place only once it is whole; on any failure it goes. */
  private async staged(
    key: string,
    write: (staging: string) => Promise<void>,
    sourceFailure = (): Error | undefined => undefined,
  ): Promise<void> {
    const path = this.pathOf(key);
    const staging = join(this.root, STAGING_DIR, `${randomUUID()}.part`);
    try {
      await mkdir(dirname(staging), { recursive: true });
      await mkdir(dirname(path), { recursive: true });
      await write(staging);
      await rename(staging, path).catch(async (error: unknown) => {
        // The sweeper removed the (then empty) folder between our mkdir and the rename: once more.
        if (!isMissing(error)) throw error;
        await mkdir(dirname(path), { recursive: true });
        await rename(staging, path);
      });
    } catch (error) {
      await rm(staging, { force: true }).catch(() => undefined);
      throw sourceFailure() ?? new BlobStoreUnavailableError('put', key, error);
    }
  }

  async get(key: string): Promise<Buffer | null> {
    // Not a key this store writes (a path escape, a pre-0012 Redis key): nothing is there.
    if (!isBlobKey(key)) return null;
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (error) {
      if (isMissing(error)) return null;
      throw new BlobStoreUnavailableError('get', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await rm(path, { force: true });
    } catch (error) {
      throw new BlobStoreUnavailableError('delete', key, error);
    }
  }

  async deleteOlderThan(cutoff: number): Promise<number> {
    try {
      // Staging files left by a process that died mid-write are swept with the rest.
      let deleted = await this.sweep(join(this.root, STAGING_DIR), cutoff);
      for (const prefix of this.expiringPrefixes) deleted += await this.sweep(join(this.root, ...keySegments(prefix.slice(0, -1))), cutoff);
      return deleted;
    } catch (error) {
      throw new BlobStoreUnavailableError('list', this.prefix, error);
    }
  }

  /** Deletes the files under `dir` modified before `cutoff` and the folders that leaves empty. */
  private async sweep(dir: string, cutoff: number): Promise<number> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let deleted = 0;
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        deleted += await this.sweep(path, cutoff);
        // A job's folder with results still in it stays; a busy one may get a file right now: both are fine.
        await rmdir(path).catch(() => undefined);
      } else {
        const info = await stat(path).catch((error: Error) => {
          if (isMissing(error)) return null; // deleted meanwhile (a job ended)
          throw error;
        });
        if (info && info.mtimeMs < cutoff) {
          await rm(path, { force: true });
          deleted++;
        }
      }
    }
    return deleted;
  }

  private pathOf(key: string): string {
    return join(this.root, ...keySegments(key));
  }
}

/** Only ENOENT: ENOTDIR (a file where a folder should be) is a broken store, not a missing object. */
function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}
