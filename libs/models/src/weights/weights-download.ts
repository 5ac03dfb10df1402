import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableStreamDefaultReader, ReadableStreamReadResult } from 'node:stream/web';
import { describeWeightsBytes, hashFileInto, readHead, sha256File, type WeightsProblem } from './weights-check';

export type WeightsDownloadErrorCode = 'http_error' | 'network_error' | 'checksum_mismatch' | 'aborted' | 'busy';

/**
 * A failed download, with a code callers branch on (retry a network error, give up on a checksum;
 * `busy`: another process holds the lock on this file and is downloading it).
 */
export class WeightsDownloadError extends Error {
  constructor(
    readonly code: WeightsDownloadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WeightsDownloadError';
  }
}

export interface DownloadProgress {
  /** Bytes in the .part file so far, the resumed prefix included. */
  received: number;
  /** The whole file's size, when the server or the caller says it. */
  total: number | null;
  /** Bytes that were already on disk when this download started (0 for a fresh one). */
  resumedFrom: number;
}

export interface DownloadWeightsOptions {
  url: string;
  /** Expected sha256 of the whole file, hex (either case). */
  sha256: string;
  dest: string;
  /** Expected size, used for progress when the server sends no length. */
  bytes?: number;
  onProgress?: (progress: DownloadProgress) => void;
  /** Give up after this long without a byte (and as the connect timeout); default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DownloadedWeights {
  path: string;
  bytes: number;
  /** Bytes reused from an earlier interrupted run. */
  resumedFrom: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** What one request left in the .part file. */
interface Received {
  digest: string;
  bytes: number;
  resumedFrom: number;
}

/**
 * Downloads `url` to `dest`, verified against `sha256`. Bytes land in `dest.part` first and an
 * interrupted run resumes from it; `dest` appears (atomic rename) only once the hash matches.
 * `dest.lock` keeps a second process (`npm start` beside `npm run models -- pull`, two containers
 * on one cache volume) off the same part: it gets code `busy` instead of corrupting it.
 */
export async function downloadWeights(opts: DownloadWeightsOptions): Promise<DownloadedWeights> {
  const expected = opts.sha256.toLowerCase();
  // A typo in a manifest should fail now, not after 100 MB.
  if (!/^[0-9a-f]{64}$/.test(expected)) throw new TypeError(`sha256 must be 64 hex characters, got "${opts.sha256}"`);

  const before = await fileStamp(opts.dest);
  if (before !== null && (await sha256File(opts.dest)) === expected) return { path: opts.dest, bytes: before.size, resumedFrom: 0 };

  await mkdir(dirname(opts.dest), { recursive: true });
  const lock = await acquireLock(opts.dest);
  try {
    // Another process may have finished this file between the check above and the lock.
    const now = await fileStamp(opts.dest);
    if (now !== null && (now.size !== before?.size || now.mtimeMs !== before.mtimeMs) && (await sha256File(opts.dest)) === expected) {
      return { path: opts.dest, bytes: now.size, resumedFrom: 0 };
    }
    const part = `${opts.dest}.part`;
    const offset = (await fileStamp(part))?.size ?? 0;
    const received = (await fetchToPart(opts, part, offset)) ?? (await settleUnsatisfiableRange(opts, part, offset, expected));

    if (received.digest !== expected) {
      const problem = describeWeightsBytes(await readHead(part), received.bytes);
      // A wrong part must not be resumed from: the next run starts clean.
      await rm(part, { force: true });
      throw new WeightsDownloadError('checksum_mismatch', mismatchMessage(opts, expected, received, problem));
    }
    await rename(part, opts.dest);
    return { path: opts.dest, bytes: received.bytes, resumedFrom: received.resumedFrom };
  } finally {
    await lock.release();
  }
}

/** How often a lock holder touches its lock, and how old an untouched one from another host may be. */
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 60_000;

interface HeldLock {
  release(): Promise<void>;
}

/** Who a lock file names: "<pid>\n<hostname>\n" (a lock holding only a pid counts as this host's). */
interface LockHolder {
  pid: number;
  host: string | null;
  content: string;
  mtimeMs: number;
}

/**
 * Creates `dest.lock` (flag wx) holding this process's pid and host. A lock whose holder is gone
 * (a crash, Ctrl-C) is taken over; one whose holder is alive is `busy`. The host matters because
 * containers sharing a cache volume reuse the same small pids: across hosts the pid says nothing,
 * so there the holder's heartbeat (the lock's mtime) says whether it is still at work.
 */
async function acquireLock(dest: string): Promise<HeldLock> {
  const path = `${dest}.lock`;
  const content = `${process.pid}\n${hostname()}\n`;
  // A few tries: a stale lock is removed and created again, and another process may win that race.
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(content);
      } finally {
        await file.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLockHolder(path);
    if (holder !== 'gone' && holder !== null && holderAlive(holder)) {
      const who = holder.host !== null && holder.host !== hostname() ? `pid ${holder.pid} on host ${holder.host}` : `pid ${holder.pid}`;
      throw new WeightsDownloadError(
        'busy',
        `another process (${who}) is downloading ${dest}; wait for it, or delete ${path} if it is gone`,
      );
    }
    if (attempt >= 2)
      throw new WeightsDownloadError(
        'busy',
        `could not take the lock ${path} (other processes keep taking it); wait, or delete ${path} if no process is downloading ${dest}`,
      );
    if (holder === 'gone') continue; // released between our open and our read
    // A stale lock from a process that died mid-download (a crash, Ctrl-C): take it over, and
    // resume its part. Re-read first, to narrow the window in which another process took it over.
    const again = await readLockHolder(path);
    if (again === 'gone' || again?.content === holder?.content) await rm(path, { force: true });
  }

  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    release: async () => {
      clearInterval(heartbeat);
      // Ours unless someone deleted it and another process took it since: leave theirs alone.
      const current = await readFile(path, 'utf8').catch(() => null);
      if (current === content) await rm(path, { force: true });
    },
  };
}

/** The lock's holder; null when the file does not name one (garbage: stale); 'gone' when it has disappeared. */
async function readLockHolder(path: string): Promise<LockHolder | null | 'gone'> {
  // The holder writes its pid just after creating the file: an empty lock may be a moment old.
  for (let attempt = 0; ; attempt++) {
    let content: string;
    let mtimeMs: number;
    try {
      content = await readFile(path, 'utf8');
      mtimeMs = (await stat(path)).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      return null;
    }
    const [pidLine = '', hostLine = ''] = content.split('\n');
    if (/^\d+$/.test(pidLine.trim()) && Number(pidLine) > 0)
      return { pid: Number(pidLine), host: hostLine.trim() || null, content, mtimeMs };
    if (content !== '' || attempt >= 3) return null;
    await sleep(50);
  }
}

function holderAlive(holder: LockHolder): boolean {
  if (holder.host !== null && holder.host !== hostname()) return Date.now() - holder.mtimeMs < LOCK_STALE_MS;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A 416 to `Range: bytes=N-` means N is at or past the end: the part is complete, or wrong. */
async function settleUnsatisfiableRange(opts: DownloadWeightsOptions, part: string, offset: number, expected: string): Promise<Received> {
  const digest = await sha256File(part);
  if (digest === expected) return { digest, bytes: offset, resumedFrom: offset };
  // Longer than the file, or left by another version of it: start over, once.
  await rm(part, { force: true });
  const fresh = await fetchToPart(opts, part, 0);
  if (!fresh) throw new WeightsDownloadError('http_error', `${opts.url}: HTTP 416 to a request without a Range header`);
  return fresh;
}

/**
 * One request: appends to the part from `offset` (or rewrites it when the server ignores ranges),
 * hashing the prefix and every chunk. Null when the server answers 416 to a resume.
 */
async function fetchToPart(opts: DownloadWeightsOptions, part: string, offset: number): Promise<Received | null> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Hash the existing prefix before the request, so its disk time does not count as a stall.
  const prefixHash = createHash('sha256');
  if (offset > 0) await hashFileInto(prefixHash, part);

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const forwardAbort = (): void => controller.abort();
  opts.signal?.addEventListener('abort', forwardAbort, { once: true });
  if (opts.signal?.aborted) controller.abort();

  let received = offset;
  const failure = (error: unknown): WeightsDownloadError => {
    const kept = received > 0 ? `; ${received} bytes are kept in ${part} for the next run to resume from` : '';
    if (opts.signal?.aborted) return new WeightsDownloadError('aborted', `${opts.url}: download aborted${kept}`, { cause: error });
    const reason = timedOut ? `no data for ${timeoutMs} ms` : describeError(error);
    return new WeightsDownloadError('network_error', `${opts.url}: network error after ${received} bytes (${reason})${kept}`, {
      cause: error,
    });
  };

  try {
    let response: Response;
    try {
      // identity: byte ranges must address the file itself, not a compressed rendition of it.
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (offset > 0) headers.range = `bytes=${offset}-`;
      response = await fetch(opts.url, { headers, signal: controller.signal });
    } catch (error) {
      throw failure(error);
    }
    timer.refresh();

    if (response.status === 416 && offset > 0) return null;
    if (!response.ok) {
      throw new WeightsDownloadError(
        'http_error',
        `${opts.url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      );
    }
    let resumedFrom = 0;
    let hash: Hash = createHash('sha256');
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (range?.start !== offset) {
        throw new WeightsDownloadError(
          'http_error',
          `${opts.url}: asked for bytes from ${offset}, got Content-Range "${response.headers.get('content-range')}"`,
        );
      }
      resumedFrom = offset;
      hash = prefixHash;
    }
    // A 200 to a Range request is a server without range support: the whole file, from byte 0.
    received = resumedFrom;
    const total = totalSize(response, resumedFrom) ?? opts.bytes ?? null;
    const report = (): void => opts.onProgress?.({ received, total, resumedFrom });

    const file = await open(part, resumedFrom > 0 ? 'a' : 'w');
    try {
      report();
      if (response.body) {
        const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (error) {
            throw failure(error);
          }
          if (chunk.done) break;
          timer.refresh();
          // Written before the next read, so a dropped connection leaves every received byte on disk.
          await file.write(chunk.value);
          hash.update(chunk.value);
          received += chunk.value.length;
          report();
        }
      }
    } finally {
      await file.close();
    }
    if (total !== null && received < total) throw failure(new Error(`the connection closed at ${received} of ${total} bytes`));
    return { digest: hash.digest('hex'), bytes: received, resumedFrom };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', forwardAbort);
    // Frees the connection when we stopped reading early (an error); a no-op after a full read.
    controller.abort();
  }
}

/** The whole file's size from Content-Range (206) or Content-Length, if the server sent one. */
function totalSize(response: Response, resumedFrom: number): number | null {
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range?.total != null) return range.total;
  }
  const length = response.headers.get('content-length');
  return length !== null && /^\d+$/.test(length) ? resumedFrom + Number(length) : null;
}

function parseContentRange(header: string | null): { start: number; total: number | null } | null {
  const match = header ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match?.[1] || !match[2]) return null;
  return { start: Number(match[1]), total: match[2] === '*' ? null : Number(match[2]) };
}

async function fileStamp(path: string): Promise<{ size: number; mtimeMs: number } | null> {
  try {
    const { size, mtimeMs } = await stat(path);
    return { size, mtimeMs };
  } catch (error) {
    // ENOTDIR: a file where a parent folder should be; mkdir then says so, naming the folder.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/** fetch's errors say "fetch failed" or "terminated"; the useful part is in `cause`. */
function describeError(error: unknown): string {
  const message = messageOf(error) ?? String(error);
  const cause = messageOf((error as { cause?: unknown } | null)?.cause);
  return cause ? `${message}: ${cause}` : message;
}

/** Duck-typed: undici's errors come from Node's realm, where `instanceof Error` can be false (jest). */
function messageOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { message, code } = value as { message?: unknown; code?: unknown };
  if (typeof message === 'string' && message) return message;
  return typeof code === 'string' ? code : undefined;
}

function mismatchMessage(opts: DownloadWeightsOptions, expected: string, received: Received, problem: WeightsProblem | null): string {
  const size = opts.bytes !== undefined && opts.bytes !== received.bytes ? ` (expected ${opts.bytes} bytes)` : '';
  let message = `${opts.url}: sha256 mismatch: expected ${expected}, got ${received.digest} for ${received.bytes} bytes${size}; the download was deleted`;
  if (problem) message += `. What arrived: ${problem.message}`;
  // The usual cause: a /raw/ or /blob/ link to the pointer file instead of the stored object.
  if (problem?.code === 'git_lfs_pointer')
    message += '. The URL serves the pointer file, not the LFS object (on Hugging Face use /resolve/, not /raw/)';
  return message;
}
