import { join } from 'node:path';
import { renderTextImage, repoRoot, spawnNodeProcess, type NodeProcess } from '@fathom/testing';
import { builtinSpec } from '../ceiling.scenario';

describe('the express peer (the original one-process design)', () => {
  let peer: NodeProcess;
  let url: string;

  beforeAll(async () => {
    peer = spawnNodeProcess(join(repoRoot(), 'dist/bench/peers/express-peer.server.js'), {
      PEER_MODEL_SPEC: JSON.stringify(builtinSpec('ppocr-v4-det')),
      ORT_INTRA_OP_THREADS: '1',
    });
    url = (JSON.parse(await peer.waitForLine(/"msg":"peer listening"/, 30_000)) as { url: string }).url;
  });

  afterAll(async () => {
    peer.kill('SIGKILL');
    await peer.waitForExit(10_000);
  });

  const post = (bytes: Buffer, name: string) => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(bytes)]), name);
    return fetch(`${url}/infer`, { method: 'POST', body: form });
  };

  it('answers an upload with the same artifact Fathom would: the text boxes of PP-OCRv4, at the photo’s size', async () => {
    const lines = ['Fathom reads text', 'queue-backed inference'];
    const { png } = await renderTextImage({ width: 640, height: 320, lines });
    const response = await post(png, 'text.png');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const found = (await response.json()) as { width: number; height: number; boxes: unknown[] };
    expect(found).toMatchObject({ width: 640, height: 320 });
    expect(found.boxes).toHaveLength(lines.length);
  });

  it('answers 415 for bytes that are not an image, and keeps serving', async () => {
    const response = await post(Buffer.from('not an image at all'), 'x.png');
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: string }).error).toMatch(/could not be decoded/);
  });
});
