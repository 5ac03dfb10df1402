import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { itWithShared } from '@fathom/testing';
import { sha256File } from './weights-check';
import { downloadWeights, WeightsDownloadError, type DownloadProgress } from './weights-download';

const LFS_FIXTURE = ['models', 'broken', 'git_lfs_pointer_depth_anything_v2_vits.onnx'];
const HTML_FIXTURE = ['models', 'broken', 'html_page_saved_as_mobilenetv2-7.onnx'];

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

// The "model": 256 KiB, several read chunks, with a known digest.
const payload = randomBytes(256 * 1024);
const payloadSha = sha256(payload);
const CUT = 100 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse, requestNumber: number) => void;

interface TestServer {
  url: string;
  /** The Range header of each request received, in order (undefined: none sent). */
  ranges: (string | undefined)[];
  close(): Promise<void>;
}

async function startServer(handler: Handler): Promise<TestServer> {
  const ranges: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    ranges.push(req.headers.range);
    handler(req, res, ranges.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/models/model.onnx`,
    ranges,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Serves `body` the way a file server does: 206 for `Range: bytes=N-`, 416 past the end. */
function serveBytes(body: Buffer, opts: { ignoreRange?: boolean; status?: number } = {}): Handler {
  return (req, res) => {
    const start = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1];
    if (start !== undefined && !opts.ignoreRange) {
      const from = Number(start);
      if (from >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(from));
      return;
    }
    res.writeHead(opts.status ?? 200, { 'content-length': body.length }).end(body);
  };
}

/** Sends the headers and the first `bytes` of `body`, then neither ends nor closes; returns the response. */
function sendHead(res: ServerResponse, body: Buffer, bytes: number): ServerResponse {
  res.writeHead(200, { 'content-length': body.length });
  res.write(body.subarray(0, bytes));
  return res;
}

async function downloadError(promise: Promise<unknown>): Promise<WeightsDownloadError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WeightsDownloadError);
  return error as WeightsDownloadError;
}

describe('downloadWeights', () => {
  let dir: string;
  let dest: string;
  let part: string;
  let lock: string;
  let server: TestServer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-weights-download-'));
    dest = join(dir, 'models', 'nested', 'model.onnx');
    part = `${dest}.part`;
    lock = `${dest}.lock`;
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (handler: Handler): Promise<TestServer> => (server = await startServer(handler));
  const writeFile = (path: string, bytes: Buffer | string): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  };

  it('downloads a model, verifies its sha256 and puts it at dest with no .part left', async () => {
    const { url, ranges } = await serve(serveBytes(payload));
    const progress: DownloadProgress[] = [];

    const result = await downloadWeights({ url, sha256: payloadSha.toUpperCase(), dest, onProgress: (p) => progress.push(p) });

    expect(result).toEqual({ path: dest, bytes: payload.length, resumedFrom: 0 });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(part)).toBe(false);
    expect(existsSync(lock)).toBe(false);
    expect(ranges).toEqual([undefined]);
    expect(progress.at(-1)).toEqual({ received: payload.length, total: payload.length, resumedFrom: 0 });
  });

  it('keeps the part when the connection breaks, then resumes it with a Range request', async () => {
    let firstResponse: ServerResponse | undefined;
    const { url, ranges } = await serve((req, res, n) => {
      if (n === 1) firstResponse = sendHead(res, payload, CUT);
      else serveBytes(payload)(req, res, n);
    });
    // The server drops the connection once the first CUT bytes have reached the client.
    const dropAtCut = (p: DownloadProgress): void => {
      if (p.received >= CUT) firstResponse?.destroy();
    };

    const broken = await downloadError(downloadWeights({ url, sha256: payloadSha, dest, onProgress: dropAtCut }));
    expect(broken.code).toBe('network_error');
    expect(broken.message).toContain(url);
    expect(statSync(part).size).toBe(CUT);
    expect(existsSync(dest)).toBe(false);

    const resumed = await downloadWeights({ url, sha256: payloadSha, dest });
    expect(ranges).toEqual([undefined, `bytes=${CUT}-`]);
    expect(resumed).toEqual({ path: dest, bytes: payload.length, resumedFrom: CUT });
    await expect(sha256File(dest)).resolves.toBe(payloadSha);
    expect(existsSync(part)).toBe(false);
  });

  it('starts over when the server ignores Range and answers 200 with the whole file', async () => {
    writeFile(part, randomBytes(CUT));
    const { url, ranges } = await serve(serveBytes(payload, { ignoreRange: true }));

    const result = await downloadWeights({ url, sha256: payloadSha, dest });

    expect(ranges).toEqual([`bytes=${CUT}-`]);
    expect(result).toEqual({ path: dest, bytes: payload.length, resumedFrom: 0 });
    await expect(sha256File(dest)).resolves.toBe(payloadSha);
  });

  it('finishes from a part that was already complete when the server answers 416', async () => {
    writeFile(part, payload);
    const { url, ranges } = await serve(serveBytes(payload));

    const result = await downloadWeights({ url, sha256: payloadSha, dest });

    expect(ranges).toEqual([`bytes=${payload.length}-`]);
    expect(result).toEqual({ path: dest, bytes: payload.length, resumedFrom: payload.length });
    await expect(sha256File(dest)).resolves.toBe(payloadSha);
  });

  it('discards a part longer than the file (416) and downloads it again', async () => {
    writeFile(part, randomBytes(payload.length + 10));
    const { url, ranges } = await serve(serveBytes(payload));

    const result = await downloadWeights({ url, sha256: payloadSha, dest });

    expect(ranges).toEqual([`bytes=${payload.length + 10}-`, undefined]);
    expect(result.resumedFrom).toBe(0);
    await expect(sha256File(dest)).resolves.toBe(payloadSha);
  });

  it('refuses a corrupted download: checksum_mismatch naming both digests, no dest, no part', async () => {
    const corrupted = Buffer.from(payload);
    corrupted[1000] = (corrupted[1000] ?? 0) ^ 0xff;
    const { url } = await serve(serveBytes(corrupted));

    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));

    expect(error.code).toBe('checksum_mismatch');
    expect(error.message).toContain(url);
    expect(error.message).toContain(`expected ${payloadSha}`);
    expect(error.message).toContain(`got ${sha256(corrupted)}`);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(part)).toBe(false);
  });

  const refusesLfsPointer = async (pointer: Buffer): Promise<void> => {
    const { url } = await serve(serveBytes(pointer));
    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));
    expect(error.code).toBe('checksum_mismatch');
    expect(error.message).toContain('Git LFS pointer');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(part)).toBe(false);
  };

  it('refuses a Git LFS pointer served instead of the model, saying so', async () => {
    await refusesLfsPointer(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${payloadSha}\nsize ${payload.length}\n`));
  });

  itWithShared(LFS_FIXTURE, 'refuses the real Git LFS pointer from ../shared, saying so', (path) => refusesLfsPointer(readFileSync(path)));

  const refusesHtmlPage = async (page: Buffer): Promise<void> => {
    const { url } = await serve(serveBytes(page));
    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));
    expect(error.code).toBe('checksum_mismatch');
    expect(error.message).toContain('this is an HTML page, not a model');
    expect(existsSync(dest)).toBe(false);
  };

  it('refuses an HTML page served instead of the model, naming it an HTML page', async () => {
    await refusesHtmlPage(
      Buffer.from(`\n<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>${'<p>log in</p>'.repeat(200)}</body></html>`),
    );
  });

  itWithShared(HTML_FIXTURE, 'refuses the real saved HTML page from ../shared, naming it an HTML page', (path) =>
    refusesHtmlPage(readFileSync(path)),
  );

  it('reports a 404 as http_error with the status, leaving nothing behind', async () => {
    const { url } = await serve(serveBytes(Buffer.from('Not Found'), { status: 404 }));

    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));

    expect(error.code).toBe('http_error');
    expect(error.message).toContain(url);
    expect(error.message).toContain('404');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(part)).toBe(false);
    expect(existsSync(lock)).toBe(false);
  });

  it('reports a server that goes quiet as network_error after timeoutMs, keeping the part', async () => {
    const { url } = await serve((_req, res) => void sendHead(res, payload, CUT));

    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest, timeoutMs: 200 }));

    expect(error.code).toBe('network_error');
    expect(error.message).toContain('no data for 200 ms');
    expect(statSync(part).size).toBe(CUT);
  });

  it('reports a refused connection as network_error', async () => {
    const { url } = await serve(serveBytes(payload));
    await server?.close();
    server = undefined;

    const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));

    expect(error.code).toBe('network_error');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('stops with code aborted when the caller aborts, keeping the part', async () => {
    const { url } = await serve((_req, res) => void sendHead(res, payload, CUT));
    const controller = new AbortController();

    const error = await downloadError(
      downloadWeights({
        url,
        sha256: payloadSha,
        dest,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.received >= CUT) controller.abort();
        },
      }),
    );

    expect(error.code).toBe('aborted');
    expect(statSync(part).size).toBe(CUT);
  });

  it('makes no request at all when dest already holds the right bytes', async () => {
    const { url, ranges } = await serve(serveBytes(payload));
    writeFile(dest, payload);

    const result = await downloadWeights({ url, sha256: payloadSha, dest });

    expect(ranges).toEqual([]);
    expect(result).toEqual({ path: dest, bytes: payload.length, resumedFrom: 0 });
  });

  it('replaces a dest that holds the wrong bytes', async () => {
    const { url } = await serve(serveBytes(payload));
    writeFile(dest, 'stale');

    await downloadWeights({ url, sha256: payloadSha, dest });

    await expect(sha256File(dest)).resolves.toBe(payloadSha);
  });

  describe('the lock file (dest.lock) against a second download of the same file', () => {
    /** The pid of a process that has exited: a lock naming it was left by a crash. */
    const deadPid = async (): Promise<number> => {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      const pid = child.pid;
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', () => resolve());
      });
      if (pid === undefined) throw new Error('the child process got no pid');
      return pid;
    };

    it('holds the lock, naming this process, while it downloads, and removes it after', async () => {
      const seen: string[] = [];
      const { url } = await serve(serveBytes(payload));

      await downloadWeights({ url, sha256: payloadSha, dest, onProgress: () => seen.push(readFileSync(lock, 'utf8')) });

      expect(seen.length).toBeGreaterThan(0);
      for (const content of seen) expect(content.split('\n')[0]).toBe(String(process.pid));
      expect(existsSync(lock)).toBe(false);
    });

    it('refuses with busy when a live process holds the lock, touching neither its part nor its lock', async () => {
      const partBytes = randomBytes(CUT);
      writeFile(part, partBytes);
      writeFile(lock, `${process.pid}\n`);
      const { url, ranges } = await serve(serveBytes(payload));

      const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));

      expect(error.code).toBe('busy');
      expect(error.message).toBe(
        `another process (pid ${process.pid}) is downloading ${dest}; wait for it, or delete ${lock} if it is gone`,
      );
      expect(ranges).toEqual([]);
      expect(readFileSync(part).equals(partBytes)).toBe(true);
      expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
      expect(existsSync(dest)).toBe(false);
    });

    it('lets the first of two concurrent downloads finish and refuses the second with busy', async () => {
      let first: ServerResponse | undefined;
      let reachedCut: () => void = () => undefined;
      const cut = new Promise<void>((resolve) => (reachedCut = resolve));
      const { url, ranges } = await serve((_req, res) => void (first = sendHead(res, payload, CUT)));
      const running = downloadWeights({
        url,
        sha256: payloadSha,
        dest,
        onProgress: (p) => {
          if (p.received >= CUT) reachedCut();
        },
      });
      await cut;

      const second = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));
      expect(second.code).toBe('busy');
      expect(statSync(part).size).toBe(CUT);
      first?.end(payload.subarray(CUT));

      await expect(running).resolves.toEqual({ path: dest, bytes: payload.length, resumedFrom: 0 });
      expect(ranges).toEqual([undefined]);
      await expect(sha256File(dest)).resolves.toBe(payloadSha);
      expect(existsSync(lock)).toBe(false);
    });

    it('takes over a stale lock whose process has exited, resumes its part, and leaves no lock', async () => {
      const pid = await deadPid();
      writeFile(part, payload.subarray(0, CUT));
      writeFile(lock, `${pid}\n`);
      const { url, ranges } = await serve(serveBytes(payload));

      const result = await downloadWeights({ url, sha256: payloadSha, dest });

      expect(result).toEqual({ path: dest, bytes: payload.length, resumedFrom: CUT });
      expect(ranges).toEqual([`bytes=${CUT}-`]);
      await expect(sha256File(dest)).resolves.toBe(payloadSha);
      expect(existsSync(lock)).toBe(false);
      expect(existsSync(part)).toBe(false);
    });

    it('takes over a lock that names no pid', async () => {
      writeFile(lock, 'not a pid\n');
      const { url } = await serve(serveBytes(payload));

      await downloadWeights({ url, sha256: payloadSha, dest });

      await expect(sha256File(dest)).resolves.toBe(payloadSha);
      expect(existsSync(lock)).toBe(false);
    });

    it('judges a lock from another host (a container on a shared volume) by its age, not its pid', async () => {
      // Its pid exists here (this process), but names a process of another pid namespace.
      writeFile(lock, `${process.pid}\nanother-container\n`);
      const { url } = await serve(serveBytes(payload));

      const fresh = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));
      expect(fresh.code).toBe('busy');
      expect(fresh.message).toContain(`another process (pid ${process.pid} on host another-container) is downloading ${dest}`);

      // Untouched for ten minutes: its holder would have refreshed it; it is gone.
      const old = new Date(Date.now() - 10 * 60_000);
      utimesSync(lock, old, old);
      await downloadWeights({ url, sha256: payloadSha, dest });
      await expect(sha256File(dest)).resolves.toBe(payloadSha);
      expect(existsSync(lock)).toBe(false);
    });

    it('removes the lock after a failed download too', async () => {
      const corrupted = Buffer.from(payload);
      corrupted[0] = (corrupted[0] ?? 0) ^ 0xff;
      const { url } = await serve(serveBytes(corrupted));

      const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest }));

      expect(error.code).toBe('checksum_mismatch');
      expect(existsSync(lock)).toBe(false);
      expect(existsSync(part)).toBe(false);
    });

    it('removes the lock after a network error, keeping the part for the next run', async () => {
      const { url } = await serve((_req, res) => void sendHead(res, payload, CUT));

      const error = await downloadError(downloadWeights({ url, sha256: payloadSha, dest, timeoutMs: 200 }));

      expect(error.code).toBe('network_error');
      expect(statSync(part).size).toBe(CUT);
      expect(existsSync(lock)).toBe(false);
    });

    it('takes no lock when dest already holds the right bytes', async () => {
      writeFile(dest, payload);
      writeFile(lock, `${process.pid}\n`);
      const { url, ranges } = await serve(serveBytes(payload));

      await expect(downloadWeights({ url, sha256: payloadSha, dest })).resolves.toEqual({
        path: dest,
        bytes: payload.length,
        resumedFrom: 0,
      });
      expect(ranges).toEqual([]);
      expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    });
  });
});
