import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { JobAccepted, JobStatus } from '@fathom/contracts';
import { hasShared, sharedPath } from '@fathom/testing';
import { depthModelsDir, FathomStack, submit } from './support/fathom-stack';

type Expectation = { expect: string; why: string };

const BAD = 'fixtures/bad';
const present = hasShared(BAD);
if (!present) console.warn(`skipping the malformed-upload suite: ../shared/${BAD} is absent`);

/** What each EXPECTED.json verdict allows a client to see. */
function allowed(verdict: string | undefined): Array<'rejected' | 'completed' | 'failed'> {
  switch (verdict) {
    case 'reject':
    case 'reject_or_limit':
      return ['rejected'];
    case 'accept':
    case 'accept_lenient':
      return ['completed'];
    case 'accept_first_frame_or_reject':
    case 'accept_or_reject_unsupported':
    case 'reject_or_rasterize':
      return ['rejected', 'completed'];
    default: // reject_or_accept_partial, and the files EXPECTED.json does not list
      return ['rejected', 'completed', 'failed'];
  }
}

(present ? describe : describe.skip)('malformed and unusual uploads (../shared/fixtures/bad)', () => {
  let stack: FathomStack;
  let worker: Awaited<ReturnType<FathomStack['startWorker']>>;
  const expected = present ? (JSON.parse(readFileSync(sharedPath(BAD, 'EXPECTED.json'), 'utf8')) as Record<string, Expectation>) : {};
  const files = present
    ? readdirSync(sharedPath(BAD))
        .filter((f) => !/\.(json|md|py)$/.test(f))
        .sort()
    : [];

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    worker = await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
  });
  afterAll(() => stack.stop());

  it.each(files)('%s gets an answer its expectation allows, and never a 5xx', async (file) => {
    const bytes = readFileSync(join(sharedPath(BAD), file));
    const response = await submit(stack.api, { image: bytes, filename: file, model: 'depth-test', options: { output: 'grayscale' } });
    expect(response.status).toBeLessThan(500);
    const body = (await response.json()) as JobAccepted & { error?: { code: string; message: string } };
    let outcome: 'rejected' | 'completed' | 'failed';
    if (response.status === 202) {
      const status: JobStatus = await stack.jobEnd(body.id);
      outcome = status.state as 'completed' | 'failed';
      if (outcome === 'completed') {
        const png = Buffer.from(await (await fetch(`${stack.api.url}/v1/jobs/${body.id}/result`)).arrayBuffer());
        const meta = await sharp(png).metadata();
        const depth = status.result!.artifacts.find((a) => a.name === 'depth')!;
        expect([meta.width, meta.height]).toEqual([depth.width, depth.height]);
      } else {
        expect(status.error).toMatchObject({ code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
      }
    } else {
      outcome = 'rejected';
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(body.error).toMatchObject({ code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
    }
    expect(allowed(expected[file]?.expect)).toContain(outcome);
  });

  it('leaves the worker alive and serving', async () => {
    expect(worker.child.exitCode).toBeNull();
    const image = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const job = (await (await submit(stack.api, { image, model: 'depth-test' })).json()) as JobAccepted;
    expect((await stack.jobEnd(job.id)).state).toBe('completed');
  });
});
