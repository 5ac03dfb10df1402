import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The single-page web client's HTML, as GET / serves it. */
export function readWebPage(): string {
  return readFileSync(join(__dirname, 'public', 'index.html'), 'utf8');
}

/**
 * CSP source expressions ('sha256-…') of a page's inline <script> and <style> blocks: the CSP
 * allows exactly these, so the page works and an injected block does not. A <script src> is not
 * inline and is not hashed.
 */
export function inlineBlockHashes(html: string): { scripts: string[]; styles: string[] } {
  const hashes = (pattern: RegExp) =>
    [...html.matchAll(pattern)].map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
  return { scripts: hashes(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi), styles: hashes(/<style[^>]*>([\s\S]*?)<\/style>/gi) };
}
