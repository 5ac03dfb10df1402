import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder up from here whose package.json is Fathom's. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'fathom') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('Fathom repository root not found above ' + __dirname);
    dir = parent;
  }
}

/** `../shared` beside the checkout: real photos, malformed inputs and model weights (read-only). */
export function sharedDir(): string {
  return join(repoRoot(), '..', 'shared');
}

export function sharedPath(...parts: string[]): string {
  return join(sharedDir(), ...parts);
}

export function hasShared(...parts: string[]): boolean {
  return existsSync(sharedPath(...parts));
}

export function readFixture(...parts: string[]): Buffer {
  return readFileSync(sharedPath(...parts));
}

/**
 * A test on a file or folder from ../shared, or, when it is absent, a skipped test (counted as
 * skipped in jest's report and .ci/run's closing line) with the reason printed. Chosen at load time.
 */
export function itWithShared(parts: string[], name: string, fn: (path: string) => Promise<void>, timeoutMs?: number): void {
  if (hasShared(...parts)) {
    it(name, () => fn(sharedPath(...parts)), timeoutMs);
  } else {
    console.warn(`skipping "${name}": ${sharedPath(...parts)} is absent`);
    it.skip(name, () => undefined);
  }
}
