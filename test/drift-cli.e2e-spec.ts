import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { JobAccepted } from '@fathom/contracts';
import { repoRoot } from '@fathom/testing';
import { cameraFrame, cameraModelsDir, seeded } from './support/camera-frames';
import { FathomStack, LOAD_TEST_LIMITS_ENV } from './support/fathom-stack';

const REFERENCE_IMAGES = 210;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('npm run drift: a reference from a folder of images, then the drift status a script can branch on', () => {
  let stack: FathomStack;
  const random = seeded(1515);
  const folders: string[] = [];

  beforeAll(async () => {
    stack = await FathomStack.start();
    await stack.startApi({ API_DRIFT_INTERVAL_MS: '300', ...LOAD_TEST_LIMITS_ENV });
    await stack.startWorker({
      MODELS_DIR: cameraModelsDir(),
      WORKER_BUILTIN_MODELS: 'false',
      WORKER_CONCURRENCY: '4',
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  /** The built CLI, as `npm run drift -- …` runs it, against this stack. */
  async function drift(args: string[]): Promise<CliRun> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(repoRoot(), 'dist/tools/drift/drift.js'), ...args], {
        env: { ...process.env, FATHOM_URL: stack.api.url },
        encoding: 'utf8',
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  /** A folder of `count` camera frames as PNG files. */
  async function folderOf(count: number): Promise<string> {
    const folder = mkdtempSync(join(tmpdir(), 'fathom-drift-cli-'));
    folders.push(folder);
    for (let i = 0; i < count; i++) writeFileSync(join(folder, `frame-${String(i).padStart(3, '0')}.png`), await cameraFrame(random));
    return folder;
  }

  /** Production traffic: `count` frames submitted as any client does, each waited for; returns when the last one ended. */
  async function production(count: number, dim = 1): Promise<Date> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const form = new FormData();
      form.append('model', 'camera');
      form.append('image', new Blob([new Uint8Array(await cameraFrame(random, dim))], { type: 'image/png' }), `frame-${i}.png`);
      const response = await fetch(`${stack.api.url}/v1/jobs`, { method: 'POST', body: form });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as JobAccepted).id);
    }
    let last = 0;
    for (const id of ids) {
      const end = await stack.jobEnd(id);
      expect(end.state).toBe('completed');
      last = Math.max(last, new Date(end.timestamps.finishedAt!).getTime());
    }
    return new Date(last);
  }

  /** Waits until the version's production window (its latest 200 predictions) reaches the job that ended at `end`: the log is written just after each job. */
  async function windowReaches(end: Date): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const body = (await (await fetch(`${stack.api.url}/v1/models/camera/drift`)).json()) as {
        versions: Array<{ window: { to: string | null } }>;
      };
      const to = body.versions[0]!.window.to;
      if ((to !== null && new Date(to).getTime() >= end.getTime()) || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('refuses a folder of fewer than 200 images before sending any, saying how many it needs', async () => {
    const folder = await folderOf(5);
    const run = await drift(['reference', folder, '--model', 'camera@1.0.0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/holds 5 images .*; a reference needs at least 200/);
  });

  it('asks for the exact version', async () => {
    const run = await drift(['reference', '/nowhere', '--model', 'camera']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('give name@version');
  });

  it('profiles a folder, names and skips what is not an image, sets the reference and prints its bins; status then follows production', async () => {
    const folder = await folderOf(REFERENCE_IMAGES);
    writeFileSync(join(folder, 'notes.txt'), 'shot on the north gate camera, March');
    writeFileSync(join(folder, 'broken.png'), Buffer.from('this is not a PNG at all'));
    const whole = await cameraFrame(random);
    writeFileSync(join(folder, 'truncated.png'), whole.subarray(0, whole.length / 2));
    mkdirSync(join(folder, 'nested'));
    writeFileSync(join(folder, 'nested', 'deeper.png'), await cameraFrame(random));

    const set = await drift(['reference', folder, '--model', 'camera@1.0.0', '--concurrency', '8']);
    expect(set.stderr).toMatch(/skipped notes\.txt: not an image/);
    expect(set.stderr).toMatch(/skipped broken\.png: unsupported_image_format: /);
    expect(set.stderr).toMatch(/skipped truncated\.png: image_undecodable: /);
    expect(set.stderr).toContain(`${REFERENCE_IMAGES} of ${REFERENCE_IMAGES + 2} images profiled, 2 skipped`);
    expect(set.code).toBe(0);
    // Without --recursive the nested frame is not sent: 210 rows, not 211.
    expect(set.stdout).toContain(`camera@1.0.0: drift reference of ${REFERENCE_IMAGES} predictions (${REFERENCE_IMAGES} profiled images)`);
    expect(set.stdout).toMatch(/^input\.meanLuma\s+210\s+\d+\s+< \S+ \d+%/m);
    expect(set.stdout).toMatch(/^input\.format\s+210\s+2\s+png 100% \| \(other\) 0%/m);

    // Profiling is not production: nothing to score yet, and nothing flagged.
    const empty = await drift(['status', 'camera']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('window of 0 production predictions');
    expect(empty.stdout).toContain('input  no score');

    await windowReaches(await production(200));
    const same = await drift(['status', 'camera']);
    expect(same.stdout).toMatch(/input\s+score \S+\s+ok/);
    expect(same.code).toBe(0);

    // The light goes: the window fills with frames at half the brightness.
    await windowReaches(await production(200, 0.5));
    const dark = await drift(['status', 'camera']);
    expect(dark.code).toBe(3);
    expect(dark.stdout).toMatch(/input\s+score \S+\s+DRIFT \(above 0\.2\)/);
    expect(dark.stdout).toMatch(/^\s+input\.meanLuma\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\*$/m);
    expect(dark.stderr).toContain('drift is flagged');
  }, 300_000);

  it('sets a reference from the first days of production, or from a window of it, and takes one source at a time', async () => {
    // The production so far: the 400 predictions of the test above.
    const firstDays = await drift(['reference', '--first-days', '1', '--model', 'camera@1.0.0']);
    expect(firstDays.code).toBe(0);
    expect(firstDays.stdout).toContain('camera@1.0.0: drift reference of 400 predictions (the first 1 day of production)');

    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const window = await drift(['reference', '--from', from, '--to', to, '--model', 'camera@1.0.0']);
    expect(window.code).toBe(0);
    expect(window.stdout).toContain(`drift reference of 400 predictions (production from ${from} to ${to})`);

    const both = await drift(['reference', '/some/folder', '--first-days', '3', '--model', 'camera@1.0.0']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give exactly one source');
  });

  it('fails with the API’s message for a model it does not know', async () => {
    const run = await drift(['status', 'no-such-model']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^drift: model_not_found: /m);
  });
});
