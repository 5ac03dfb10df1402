import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { depthModelsDir, FathomStack } from './support/fathom-stack';
import { launchBrowser, watchedPage } from './support/browser';

/** An <img>'s decoded size (the tests compile without the DOM's types). */
type Size = { naturalWidth: number; naturalHeight: number };

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
    await page.waitForFunction(`document.querySelector('img[alt="depth result"]').naturalWidth === 64`);
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

  beforeAll(async () => {
    [stack, browser] = await Promise.all([FathomStack.start(), launchBrowser()]);
    ({ key } = await stack.createKey('web', ['jobs:write', 'jobs:read']));
    await stack.startApi({ API_AUTH: 'keys' });
    await stack.startWorker({ MODELS_DIR: depthModelsDir(), WORKER_BUILTIN_MODELS: 'false' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('asks for a key, then lists the models, runs a photo and shows its result fetched with the key', async () => {
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
    await page.waitForFunction(`document.querySelector('img[alt="depth result"]')?.naturalWidth === 40`);
    expect(await page.locator('img[alt="depth result"]').getAttribute('src')).toMatch(/^blob:/);
    expect(await page.locator('#keyForm').isHidden()).toBe(true);
    // The one failed load is the models list asked for before the key was entered.
    expect(complaints).toEqual({ cspViolations: [], errors: ['401 /v1/models'] });
    await page.close();
  });
});
