import { ErrorCode, FathomError } from '@fathom/contracts';
import { parseManifestText, planRegistration } from './rest-manifest';

const sha = 'ab'.repeat(32);
const manifest = (extra: Record<string, unknown> = {}) => ({ name: 'depth', version: '1.0.0', task: 'depth', ...extra });

function refusal(raw: unknown): { code: string; message: string; details: unknown } | 'accepted' {
  try {
    planRegistration(raw);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof FathomError)) throw error;
    return { code: error.code, message: error.message, details: error.details };
  }
}

describe('the manifest rules of POST /v1/admin/models', () => {
  it('takes weights left out (the `weights` part), named parts with an optional sha256, or URLs, per variant too — one kind per deployment', () => {
    const plan = planRegistration(
      manifest({
        variants: { inverted: { weights: { upload: 'weights.inverted', sha256: sha.toUpperCase() } } },
        selector: { pool: 'depth' },
        replicas: 2,
      }),
    );
    expect(plan.weights).toEqual([
      { part: '', kind: 'upload', field: 'weights' },
      { part: 'inverted', kind: 'upload', field: 'weights.inverted', sha256: sha },
    ]);
    expect(plan).toMatchObject({ selector: { pool: 'depth' }, replicas: 2, manifest: { name: 'depth', task: 'depth' } });
    const remote = { url: 'https://models.example/remote.onnx', sha256: sha, bytes: 12 };
    expect(planRegistration(manifest({ weights: remote, variants: { v: { weights: remote } } })).weights).toEqual([
      { part: '', kind: 'url', url: remote.url, sha256: sha, bytes: 12 },
      { part: 'v', kind: 'url', url: remote.url, sha256: sha, bytes: 12 },
    ]);
    expect(refusal(manifest({ variants: { v: { weights: remote } } }))).toMatchObject({
      code: ErrorCode.InvalidManifest,
      message: expect.stringContaining('uploaded, or all by { url, sha256 }, not some of each'),
    });
  });

  it('refuses a file on the server and a labels file, saying what to send instead', () => {
    expect(refusal(manifest({ weights: 'model.onnx' }))).toMatchObject({
      code: ErrorCode.InvalidManifest,
      message: expect.stringContaining('Upload the file in the multipart part "weights"'),
      details: { field: 'weights' },
    });
    expect(refusal(manifest({ variants: { v: { weights: { npm: '@acme/m/v.onnx' } } } }))).toMatchObject({
      message: expect.stringContaining('part "weights.v"'),
      details: { field: 'variants.v.weights' },
    });
    expect(refusal(manifest({ labels: { file: 'labels.txt' } }))).toMatchObject({
      message: expect.stringContaining('send the class names inline'),
      details: { field: 'labels' },
    });
    expect(planRegistration(manifest({ labels: ['a', 'b'] })).manifest.labels).toEqual(['a', 'b']);
  });

  it("names the field libs/models' schema refuses, and the deployment fields' own mistakes", () => {
    expect(refusal(manifest({ task: 'painting' }))).toMatchObject({ code: ErrorCode.InvalidManifest, details: { field: 'task' } });
    expect(refusal(manifest({ weights: { url: 'https://m.example/x.onnx' } }))).toMatchObject({
      message: expect.stringContaining('weights.sha256: required with url'),
    });
    expect(refusal(manifest({ weights: { upload: 'weights', sha256: 'nope' } }))).toMatchObject({
      message: expect.stringContaining('weights.sha256: 64 hexadecimal digits'),
    });
    expect(refusal(manifest({ replicas: -1 }))).toMatchObject({ message: expect.stringContaining('replicas') });
    expect(refusal(manifest({ colour: 'blue' }))).toMatchObject({ message: expect.stringContaining('colour') });
    expect(refusal([manifest()])).toMatchObject({ message: expect.stringContaining('must be an object') });
  });

  it('reads JSON and YAML bodies, and says which one did not parse', () => {
    expect(parseManifestText('{"name":"depth"}', 'application/json')).toEqual({ name: 'depth' });
    expect(parseManifestText('name: depth\nversion: "1.0.0"', 'application/yaml')).toEqual({ name: 'depth', version: '1.0.0' });
    expect(() => parseManifestText('{', 'application/json')).toThrow(/not valid JSON/);
    expect(() => parseManifestText('a: [', 'text/yaml')).toThrow(/not valid YAML/);
  });
});
