import sharp from 'sharp';
import type { Browser, Locator, Page } from 'playwright-core';
import { createDatabase, PredictionStore } from '@fathom/database';
import { buildDepthStandInModel } from '@fathom/testing';
import { bearer, depthModelsDir, FathomStack } from './support/fathom-stack';
import { launchBrowser, watchedPage } from './support/browser';

/** An <img>'s decoded size (the tests compile without the DOM's types). */
type Size = { naturalWidth: number; naturalHeight: number };

/**
 * Until the image is decoded at `width`. Not page.waitForFunction with a string: when its first look
 * finds it false, Playwright polls by evaluating that string in the page, which the page's CSP
 * (no 'unsafe-eval') rightly blocks; locator.evaluate runs through the DevTools protocol instead.
 */
async function untilWidth(image: Locator, width: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await image.evaluate((element) => (element as unknown as Size).naturalWidth)) !== width) {
    if (Date.now() > deadline) throw new Error(`the image is not ${width} px wide after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The web page in a real browser (Debian's Chromium, driven by playwright-core), as a newcomer uses
 * it: pick a photo, run it, see the result — under the API's real Content-Security-Policy, which
 * must block nothing the page does.
 */
describe('The web page in a real browser', () => {
  let stack: FathomStack;
  let browser: Browser;
  let photo: Buffer;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([FathomStack.start(), launchBrowser()]);
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
    photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3c6e91' } })
      .png()
      .toBuffer();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('runs a photo through the served model and shows the depth map, with nothing blocked by the CSP and no error', async () => {
    const { page, complaints } = await watchedPage(browser);
    await page.goto(stack.api.url);
    // The model list comes from GET /v1/models; the Run button comes alive once a served model is listed.
    await page.locator('#submit:not([disabled])').waitFor({ timeout: 30_000 });
    expect(await page.locator('#model option').allTextContents()).toContain('depth-test (stable 1.0.0)');
    await page.setInputFiles('#image', { name: 'photo.png', mimeType: 'image/png', buffer: photo });
    // The chosen file is previewed through a blob: URL, which the CSP allows for images.
    await page.locator('#input').waitFor();
    await page.click('#submit');
    await page.locator('#status', { hasText: /^completed / }).waitFor({ timeout: 30_000 });
    const result = page.locator('img[alt="depth result"]');
    await result.waitFor();
    // The depth map is decoded and drawn at the input's size (it came through an authorised fetch as a blob).
    await untilWidth(result, 64);
    expect(await result.evaluate((image) => [(image as unknown as Size).naturalWidth, (image as unknown as Size).naturalHeight])).toEqual([
      64, 48,
    ]);
    expect(await page.locator('#facts').textContent()).toContain('depth-test');
    expect(await page.locator('#progress').getAttribute('value')).toBe('100');
    expect(await page.locator('#keyForm').isHidden()).toBe(true); // loopback, no keys: nothing to ask
    expect(complaints).toEqual({ cspViolations: [], errors: [] });
    await page.close();
  });

  it('serves the API docs (Swagger UI) under their own CSP without a violation', async () => {
    const { page, complaints } = await watchedPage(browser);
    await page.goto(`${stack.api.url}/docs`);
    await page.locator('.swagger-ui .info .title', { hasText: 'Fathom' }).waitFor({ timeout: 30_000 });
    await page.locator('.opblock-summary-path', { hasText: '/v1/jobs' }).first().waitFor();
    expect(complaints).toEqual({ cspViolations: [], errors: [] });
    await page.close();
  });
});

describe('The web page in a real browser, with API keys on', () => {
  let stack: FathomStack;
  let browser: Browser;
  let key: string;
  let keyId: string;
  let adminKey: string;

  /** What a user does when the page asks for a key. */
  const enterKey = async (page: Page, presented: string) => {
    await page.locator('#keyForm').waitFor({ state: 'visible', timeout: 30_000 });
    await page.fill('#key', presented);
    await page.click('#keyForm button[type="submit"]');
  };
  /** One row of the Models view's table of versions, or of deployments (an admin key's). */
  const versionRow = (page: Page, reference: string) => page.locator(`#versions tr[data-version="${reference}"]`);
  const deploymentRow = (page: Page, reference: string) => page.locator(`#deployments tr[data-version="${reference}"]`);

  beforeAll(async () => {
    [stack, browser] = await Promise.all([FathomStack.start(), launchBrowser()]);
    ({ key, id: keyId } = await stack.createKey('web', ['jobs:write', 'jobs:read']));
    ({ key: adminKey } = await stack.createKey('ops', ['models:admin', 'jobs:read', 'jobs:write']));
    await stack.startApi({ API_AUTH: 'keys' });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('asks for a key, then lists the models, runs a photo, shows its result fetched with the key, and takes a thumbs down on it', async () => {
    const { page, complaints } = await watchedPage(browser);
    await page.goto(stack.api.url);
    await page.locator('#keyForm').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toMatch(/needs an API key/);
    await page.fill('#key', key);
    await page.click('#keyForm button[type="submit"]');
    await page.locator('#submit:not([disabled])').waitFor({ timeout: 30_000 });
    await page.setInputFiles('#image', {
      name: 'photo.png',
      mimeType: 'image/png',
      buffer: await sharp({ create: { width: 40, height: 30, channels: 3, background: '#806040' } })
        .png()
        .toBuffer(),
    });
    await page.click('#submit');
    await page.locator('#status', { hasText: /^completed / }).waitFor({ timeout: 30_000 });
    // An <img src> cannot send the key: the page fetched the bytes with it and shows them as a blob: URL.
    await untilWidth(page.locator('img[alt="depth result"]'), 40);
    expect(await page.locator('img[alt="depth result"]').getAttribute('src')).toMatch(/^blob:/);
    expect(await page.locator('#keyForm').isHidden()).toBe(true);

    // The result was wrong: thumbs down, sent with the key; the page shows which was chosen.
    const jobId = /^completed (\S+)/.exec((await page.locator('#status').textContent()) ?? '')![1]!;
    await page.click('#rateDown');
    await page.locator('#rateDown[aria-pressed="true"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#rateUp').getAttribute('aria-pressed')).toBe('false');
    expect(await page.locator('#feedbackNote').textContent()).toMatch(/rated wrong/);
    // And the job's row in the prediction log carries it, from this key.
    const db = createDatabase({
      url: stack.database.url,
      poolSize: 1,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      applicationName: 'fathom-test',
    });
    try {
      const { rows } = await new PredictionStore(db).page({ jobIds: [jobId], limit: 1 });
      expect(rows[0]).toMatchObject({ jobId, model: 'depth-test', keyId: keyId, feedback: { rating: 'down', comment: null, by: keyId } });
    } finally {
      await db.destroy();
    }

    // The failed loads: the models list asked for before the key was entered, and the Models view's
    // one question whether this key may administer deployments (it may not).
    expect(complaints).toEqual({ cspViolations: [], errors: ['401 /v1/models', '403 /v1/admin/models'] });
    await page.close();
  });

  it("shows a jobs-only key the Models view read-only on a phone: the served version's state and workers, nothing to retire", async () => {
    const { page, complaints } = await watchedPage(browser);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(stack.api.url);
    await enterKey(page, key);
    const row = versionRow(page, 'depth-test@1.0.0');
    // The registry records the worker's own model as a local deployment; the view refreshes until it says serving.
    await row.locator('td.state', { hasText: 'serving' }).waitFor({ timeout: 30_000 });
    expect(await row.locator('td.workers').textContent()).toBe('1');
    expect(await row.locator('td.aliases').textContent()).toBe('stable');
    expect(await page.locator('#modelsNote').textContent()).toMatch(/^read-only: an admin key/);
    expect(await page.locator('#deploymentsBlock').isHidden()).toBe(true);
    expect(await page.locator('button.retire').count()).toBe(0);
    // On a 390 px wide phone the page itself does not scroll sideways: the table's own box does.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(complaints).toEqual({ cspViolations: [], errors: ['401 /v1/models', '403 /v1/admin/models'] });
    await page.close();
  });

  it('shows an admin key every deployment with its workers, and retires one registered over REST with its Retire button', async () => {
    const { page, complaints } = await watchedPage(browser);
    await page.goto(stack.api.url);
    await enterKey(page, adminKey);
    await deploymentRow(page, 'depth-test@1.0.0').waitFor({ timeout: 30_000 });

    const form = new FormData();
    form.append(
      'manifest',
      JSON.stringify({ name: 'depth-web', version: '1.0.0', task: 'depth', input: { resize: { mode: 'fixed', width: 28, height: 28 } } }),
    );
    form.append('weights', new Blob([new Uint8Array(buildDepthStandInModel())]), 'depth.onnx');
    const registered = await fetch(`${stack.api.url}/v1/admin/models`, { method: 'POST', body: form, headers: bearer(adminKey) });
    expect(registered.status).toBe(202);

    // The page refreshes itself while the deployment moves on, until the running worker serves it.
    const row = deploymentRow(page, 'depth-web@1.0.0');
    await row.locator('td.state', { hasText: 'serving' }).waitFor({ timeout: 60_000 });
    expect(await row.locator('td.workers li').allTextContents()).toEqual([expect.stringMatching(/: serving$/)]);
    await versionRow(page, 'depth-web@1.0.0').locator('td.state', { hasText: 'serving' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('#modelsNote').textContent()).toBe('');

    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await row.locator('button.retire').click();
    await row.locator('td.state', { hasText: /^retir(ing|ed)$/ }).waitFor({ timeout: 30_000 });
    expect(asked).toEqual([expect.stringMatching(/^Retire depth-web@1\.0\.0\?/)]);
    expect(await page.locator('#modelsNote').textContent()).toMatch(/^retiring depth-web@1\.0\.0/);
    expect(await row.locator('button.retire').count()).toBe(0);
    // The API says the same.
    const view = (await (await fetch(`${stack.api.url}/v1/admin/models/depth-web/1.0.0`, { headers: bearer(adminKey) })).json()) as {
      state: string;
    };
    expect(['retiring', 'retired']).toContain(view.state);
    expect(complaints).toEqual({ cspViolations: [], errors: ['401 /v1/models'] });
    await page.close();
  });
});
