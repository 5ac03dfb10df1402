import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`; `.ci/run` installs it), or CHROMIUM_PATH. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(`the browser tests need Chromium at ${path} (Debian: sudo apt-get install chromium; or set CHROMIUM_PATH)`);
  }
  return path;
}

export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** What a page complained about: CSP violations, uncaught errors and console errors, as they happened. */
export interface PageComplaints {
  cspViolations: string[];
  errors: string[];
}

/** A new page that records every CSP violation (the browser's own event), uncaught error and console error. */
export async function watchedPage(browser: Browser): Promise<{ page: Page; complaints: PageComplaints }> {
  const page = await browser.newPage();
  const complaints: PageComplaints = { cspViolations: [], errors: [] };
  await page.exposeFunction('__fathomCspViolation', (text: string) => complaints.cspViolations.push(text));
  // Page code as text: the tests compile without the DOM's types.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) =>
      window.__fathomCspViolation(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline') + ' (' + event.sourceFile + ':' + event.lineNumber + ')'));`,
  });
  page.on('pageerror', (error) => complaints.errors.push(`uncaught: ${error.message}`));
  // A failed load is reported with its address (the console's own line for it names none).
  page.on('response', (response) => {
    if (response.status() >= 400) complaints.errors.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      complaints.errors.push(`console: ${message.text()}`);
  });
  return { page, complaints };
}
