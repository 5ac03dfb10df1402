import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@fathom/testing';

/** The TypeScript sources under a folder of the repository, recursively. */
function sources(folder: string): string[] {
  const root = join(repoRoot(), folder);
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(root, file));
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

describe('the boundaries the API modules keep', () => {
  it('the model catalog never depends on the rollout (rollout → catalog, one way)', () => {
    const offending = sources('apps/api/src/models/catalog').flatMap((file) =>
      importsOf(file)
        .filter((path) => path.includes('rollout/') || path.startsWith('../rollout'))
        .map((path) => `${relative(repoRoot(), file)} imports ${path}`),
    );
    expect(offending).toEqual([]);
  });

  it("BullMQ's Redis keys are read only in libs/queue (BullmqLayout), nowhere in apps, tools, bench or test", () => {
    // toKey() builds a BullMQ key; `:events`, `:wait` and the `opts` field are its layout.
    const layoutRead = /\.toKey\(|:events`|:wait`|'opts'\)|lindex\(/;
    const offending = ['apps', 'tools', 'bench', 'test']
      .flatMap(sources)
      .filter((file) => !file.endsWith('feature-boundaries.spec.ts') && layoutRead.test(readFileSync(file, 'utf8')))
      .map((file) => relative(repoRoot(), file));
    expect(offending).toEqual([]);
  });
});
