import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { repoRoot } from '@fathom/testing';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit } from './support/fathom-stack';

/** The README's socket.io example, as a user copies it, pointed at this stack. */
function readmeSnippet(apiUrl: string): string {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Watching a job live'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README: no js block under "Watching a job live"');
  return code.replaceAll('http://localhost:8080', apiUrl);
}

describe("the README's socket.io example, run as a user would", () => {
  let stack: FathomStack;
  let script: string;

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(undefined, 'depth-test', NULL_MODEL_INPUT) });
    script = join(mkdtempSync(join(tmpdir(), 'fathom-readme-')), 'watch.js');
    writeFileSync(script, readmeSnippet(stack.api.url));
  }, 120_000);
  afterAll(() => stack?.stop());

  /** Runs the example for a job id; it must end by itself (a hang fails the test at its timeout). */
  async function watch(jobId: string): Promise<{ stdout: string; stderr: string }> {
    return promisify(execFile)(process.execPath, [script, jobId], {
      env: { ...process.env, NODE_PATH: join(repoRoot(), 'node_modules') },
      timeout: 20_000,
    });
  }

  it('prints the result of a job and exits', async () => {
    const image = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const { id } = (await (await submit(stack.api, { image, model: 'depth-test' })).json()) as JobAccepted;
    const { stdout } = await watch(id);
    expect(stdout).toContain(`done: /v1/jobs/${id}/result`);
  });

  it('says why and exits for a job that does not exist, instead of waiting forever', async () => {
    const { stderr } = await watch('no-such-job');
    expect(stderr).toContain('job_not_found');
  });
});
