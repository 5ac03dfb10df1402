import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { buildDepthStandInModel, hasShared, readFixture, repoRoot, sharedPath } from '@fathom/testing';

/** `npm run models` as a user runs it: the built CLI, against manifests whose URLs point at a local server. */
const CLI = join(repoRoot(), 'dist', 'tools', 'models', 'models.js');
const LFS_FIXTURE = ['models', 'broken', 'git_lfs_pointer_depth_anything_v2_vits.onnx'];
const withSharedLfs = hasShared(...LFS_FIXTURE);
if (!withSharedLfs) console.warn(`skipping the real Git LFS pointer case: ${sharedPath(...LFS_FIXTURE)} is absent`);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** The depth stand-in padded (doc_string) to a chosen size: still a real ONNX file, big enough to cut a download part-way. */
function standInModel(bytes: number): Buffer {
  const model = onnx.ModelProto.decode(buildDepthStandInModel());
  model.docString = 'fathom models-cli test model; padding follows.'.padEnd(bytes, '.');
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

const good = standInModel(4 * 1024);
const goodSha = sha256(good);
const corrupted = Buffer.from(good);
corrupted[good.length - 10] = (corrupted[good.length - 10] ?? 0) ^ 0xff;
const lfsPointer = (oid: string): Buffer => Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 123\n`);
const sharedLfs = withSharedLfs ? readFixture(...LFS_FIXTURE) : null;
const sharedLfsOid = sharedLfs ? (/^oid sha256:([0-9a-f]{64})$/m.exec(sharedLfs.toString('utf8'))?.[1] ?? '') : '';
// Big enough that the first response can stop part-way through.
const resumable = standInModel(256 * 1024);
const CUT = 100 * 1024;

/** Serves `body` like a file server: 206 for `Range: bytes=N-`. */
function serveBytes(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const start = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1];
  if (start !== undefined && Number(start) < body.length) {
    const from = Number(start);
    res
      .writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` })
      .end(body.subarray(from));
    return;
  }
  res.writeHead(200, { 'content-length': body.length }).end(body);
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, each whole. */
  output: string;
}

describe('npm run models (the CLI against a local HTTP server)', () => {
  let server: Server;
  let base: string;
  let modelsDir: string;
  let cacheDir: string;
  /** Range header of each request to /resume/, in order (undefined: none). */
  const resumeRanges: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      if (path === '/good/model.onnx') serveBytes(req, res, good);
      else if (path === '/corrupted/model.onnx') serveBytes(req, res, corrupted);
      else if (path === '/lfs/model.onnx') serveBytes(req, res, lfsPointer(goodSha));
      else if (path === '/lfs-shared/model.onnx' && sharedLfs) serveBytes(req, res, sharedLfs);
      else if (path === '/resume/model.onnx') {
        resumeRanges.push(req.headers.range);
        if (resumeRanges.length > 1) return serveBytes(req, res, resumable);
        // The first request: the headers and CUT bytes, then the connection drops.
        res.writeHead(200, { 'content-length': resumable.length });
        res.write(resumable.subarray(0, CUT), () => res.destroy());
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    modelsDir = mkdtempSync(join(tmpdir(), 'fathom-models-cli-'));
    const manifest = (name: string, sha: string): void =>
      writeFileSync(
        join(modelsDir, `${name}.model.yaml`),
        ['name: ' + name, 'version: 1.0.0', 'task: depth', 'weights:', `  url: ${base}/${name}/model.onnx`, `  sha256: ${sha}`, ''].join(
          '\n',
        ),
      );
    manifest('good', goodSha);
    manifest('corrupted', goodSha);
    manifest('lfs', goodSha);
    if (withSharedLfs) manifest('lfs-shared', sharedLfsOid);
    manifest('resume', sha256(resumable));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(modelsDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'fathom-models-cache-'));
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  /** Where `pull` puts a model of these manifests: <cache>/<name>/<sha256[0:16]>/model.onnx. */
  const weightsPath = (name: string, sha: string): string => join(cacheDir, name, sha.slice(0, 16), 'model.onnx');
  /** Every file under a model's cache folder (.part files included). */
  const filesOf = (name: string): string[] =>
    existsSync(join(cacheDir, name))
      ? readdirSync(join(cacheDir, name), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.onnx') || f.endsWith('.part'))
      : [];
  const lineFor = (output: string, key: string): string =>
    output.split('\n').find((line) => line.startsWith(`${key} `)) ?? `(no line for ${key} in:\n${output})`;

  const models = (...args: string[]): Promise<CliRun> => modelsWith({}, ...args);

  /** The CLI with some of its environment (MODELS_CACHE_DIR, ...) set otherwise. */
  function modelsWith(overrides: Record<string, string>, ...args: string[]): Promise<CliRun> {
    // The parent's environment minus proxies: nothing here may leave 127.0.0.1.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/proxy/i.test(name)));
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...env, WORKER_BUILTIN_MODELS: 'false', MODELS_DIR: modelsDir, MODELS_CACHE_DIR: cacheDir, ...overrides },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (signal) reject(new Error(`models ${args.join(' ')} was killed (${signal}):\n${stdout}${stderr}`));
        else resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}` });
      });
    });
  }

  it('lists a model as not pulled with its pull command; pull fetches it into the cache; then list says ready and verify passes', async () => {
    const before = await models('list');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^MODEL +TASK +SOURCE +WEIGHTS +STATUS$/m);
    expect(lineFor(before.stdout, 'good@1.0.0')).toMatch(
      /^good@1\.0\.0 +depth +url +\S+ +not pulled: npm run models -- pull good@1\.0\.0$/,
    );

    const pull = await models('pull', 'good');
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain(`good@1.0.0: downloaded ${kb(good.length)} → ${weightsPath('good', goodSha)}`);
    expect(sha256(readFileSync(weightsPath('good', goodSha)))).toBe(goodSha);

    const after = await models('list');
    expect(lineFor(after.stdout, 'good@1.0.0')).toMatch(new RegExp(` ${weightsPath('good', goodSha)} +ready$`));
    expect(lineFor(after.stdout, 'corrupted@1.0.0')).toContain('not pulled');

    const again = await models('pull', 'good@1.0.0');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('good@1.0.0: already present');

    const verify = await models('verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain(`good@1.0.0: ok ${weightsPath('good', goodSha)}`);
    expect(verify.stdout).toContain('corrupted@1.0.0: skipped, not pulled (npm run models -- pull corrupted@1.0.0)');
    expect(verify.stdout).toMatch(/^1 ok, 0 with problems, \d+ skipped/m);
  });

  it('verify fails naming the file when a pulled model has been replaced by a Git LFS pointer', async () => {
    expect((await models('pull', 'good')).code).toBe(0);
    const file = weightsPath('good', goodSha);
    writeFileSync(file, lfsPointer(goodSha));

    const verify = await models('verify');
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(
      `good@1.0.0: ${file}: sha256 mismatch: the manifest says ${goodSha}, the file is ${sha256(lfsPointer(goodSha))}`,
    );
    expect(verify.stderr).toContain(`good@1.0.0: ${file}: this is a Git LFS pointer, not a model`);
    expect(verify.stdout).toMatch(/^0 ok, 1 with problems/m);
    expect(lineFor((await models('list')).stdout, 'good@1.0.0')).toContain('broken: this is a Git LFS pointer, not a model');
  });

  it('refuses a corrupted download: exit 1, a checksum mismatch naming both digests, and no file left', async () => {
    const pull = await models('pull', 'corrupted');
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(
      `corrupted@1.0.0: ${base}/corrupted/model.onnx: sha256 mismatch: expected ${goodSha}, got ${sha256(corrupted)}`,
    );
    expect(filesOf('corrupted')).toEqual([]);
  });

  const refusesLfs = (name: string) => async (): Promise<void> => {
    const pull = await models('pull', name);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`${name}@1.0.0: ${base}/${name}/model.onnx: sha256 mismatch`);
    expect(pull.stderr).toContain('this is a Git LFS pointer, not a model');
    expect(filesOf(name)).toEqual([]);
  };
  it('refuses a Git LFS pointer served instead of the model, saying so', refusesLfs('lfs'));
  (withSharedLfs ? it : it.skip)('refuses the real Git LFS pointer from ../shared, saying so', refusesLfs('lfs-shared'));

  it('resumes a download cut off mid-file with a Range request', async () => {
    const first = await models('pull', 'resume');
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/resume@1\.0\.0: .*network error after \d+ bytes/);

    const second = await models('pull', 'resume');
    expect(second.code).toBe(0);
    expect(resumeRanges[0]).toBeUndefined();
    expect(resumeRanges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    expect(second.stdout).toContain(
      `resume@1.0.0: downloaded ${kb(resumable.length)} (resumed from ${kb(Number(/\d+/.exec(resumeRanges[1] ?? '')?.[0]))}) → `,
    );
    expect(sha256(readFileSync(weightsPath('resume', sha256(resumable))))).toBe(sha256(resumable));
  });

  it('reports a cache folder that cannot be created for each model, without a stack trace, and exits 1', async () => {
    // A regular file where a folder should be: mkdir fails with ENOTDIR, an error that is no WeightsDownloadError.
    const file = join(cacheDir, 'not-a-folder');
    writeFileSync(file, 'a file');

    const pull = await modelsWith({ MODELS_CACHE_DIR: join(file, 'cache') }, 'pull', '--all');

    expect(pull.code).toBe(1);
    // Every model is tried and reported, not just the first.
    for (const key of ['corrupted@1.0.0', 'good@1.0.0', 'lfs@1.0.0', 'resume@1.0.0']) {
      const line = pull.stderr.split('\n').find((l) => l.startsWith(`${key}: `)) ?? `(no line for ${key} in:\n${pull.output})`;
      expect(line).toContain(`ENOTDIR: not a directory, mkdir '${file}`);
    }
    expect(pull.output).not.toContain('    at ');
    expect(existsSync(join(file, 'cache'))).toBe(false);
  });

  it('names the known models when asked to pull one that does not exist, and shows usage for a bad command line', async () => {
    const unknown = await models('pull', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown model "nope". Known models: corrupted, good, lfs');

    const noCommand = await models();
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain('Usage: npm run models -- <command>');
    expect((await models('frobnicate')).code).toBe(2);
  });
});
