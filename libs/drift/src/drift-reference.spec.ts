import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NumericFeatureProfile, TaskOutputFeatures } from '@fathom/contracts';
import { numpyPython, repoRoot } from '@fathom/testing';
import { compareWithReference } from './compare';
import type { DriftRow } from './features';
import { buildReferenceProfile } from './reference-profile';
import { inputFeatures, mulberry32, Synthetic } from './synthetic-rows';

/**
 * Numeric feature drift checked against an independent NumPy implementation written from
 * docs/drift.md (libs/drift/reference/drift_reference.py) on seeded values of several shapes:
 * continuous, mostly zero, discrete, constant, and a nullable one. Edges and shares must agree
 * exactly, PSI, noise and drift to 1e-9.
 */
const SCRIPT = join(repoRoot(), 'libs', 'drift', 'reference', 'drift_reference.py');

interface ReferenceResult {
  edges: number[];
  reference: number[];
  production: number[];
  psi: number;
  noise: number;
  drift: number;
}

/** Text detection rows whose textArea (numeric) and meanScore (nullable) take the given values. */
function rows(s: Synthetic, textArea: readonly number[], meanScore: readonly (number | null)[]): DriftRow[] {
  return textArea.map((area, i) => {
    const output: TaskOutputFeatures<'text-detection'> = { task: 'text-detection', boxes: 1, meanScore: meanScore[i]!, textArea: area };
    return { input: inputFeatures(s), output };
  });
}

describe('numeric drift against the NumPy reference', () => {
  const s = new Synthetic(mulberry32(42));
  const shapes: Record<string, (shift: number) => number> = {
    continuous: (shift) => Math.min(1, Math.max(0, s.normal(0.4 + shift, 0.15))),
    mostlyZero: (shift) => (s.random() < 0.7 - shift ? 0 : s.random() * 0.2),
    discrete: (shift) => [0, 0.25, 0.5, 0.75][Math.min(3, Math.floor(s.random() * (4 - 4 * shift) + 4 * shift))]!,
    constant: (shift) => (shift > 0 && s.random() < shift ? 0.9 : 0.5),
  };
  const nullableScore = (shift: number): number | null => (s.random() < 0.3 + shift ? null : s.random());

  it('agrees on edges, shares, PSI, noise and drift, with and without drift', () => {
    const python = numpyPython();
    const cases: {
      name: string;
      reference: (number | null)[];
      production: (number | null)[];
      nullable: boolean;
      edges: number[];
      ours: ReturnType<typeof compareWithReference>['features'][number];
    }[] = [];
    for (const [name, draw] of Object.entries(shapes)) {
      for (const shift of [0, 0.2]) {
        const refArea = Array.from({ length: 300 }, () => draw(0));
        const refScore = Array.from({ length: 300 }, () => nullableScore(0));
        const prodArea = Array.from({ length: 200 }, () => draw(shift));
        const prodScore = Array.from({ length: 200 }, () => nullableScore(shift));
        const profile = buildReferenceProfile('text-detection', rows(s, refArea, refScore));
        const report = compareWithReference(profile, rows(s, prodArea, prodScore));
        const ours = (n: string) => ({
          edges: (profile.features.find((f) => f.name === n) as NumericFeatureProfile).edges,
          ours: report.features.find((f) => f.name === n)!,
        });
        cases.push({
          name: `${name} textArea, shift ${shift}`,
          reference: refArea,
          production: prodArea,
          nullable: false,
          ...ours('output.textArea'),
        });
        cases.push({
          name: `meanScore beside ${name}, shift ${shift}`,
          reference: refScore,
          production: prodScore,
          nullable: true,
          ...ours('output.meanScore'),
        });
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'drift-reference-'));
    try {
      const input = join(dir, 'cases.json');
      writeFileSync(input, JSON.stringify(cases.map(({ reference, production, nullable }) => ({ reference, production, nullable }))));
      const run = spawnSync(python, [SCRIPT, input], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(run.stderr).toBe('');
      const results = JSON.parse(run.stdout) as ReferenceResult[];
      expect(results).toHaveLength(cases.length);
      for (const [i, { name, edges, ours }] of cases.entries()) {
        const theirs = results[i]!;
        expect({ name, edges, reference: ours.reference, production: ours.production }).toEqual({
          name,
          edges: theirs.edges,
          reference: theirs.reference,
          production: theirs.production,
        });
        for (const key of ['psi', 'noise', 'drift'] as const) {
          if (!(Math.abs(ours[key]! - theirs[key]) <= 1e-9)) throw new Error(`${name} ${key}: Fathom ${ours[key]}, NumPy ${theirs[key]}`);
        }
      }
      // The shifted cases drift, the unshifted barely: the cross-check covers both regimes.
      expect(cases.filter((c) => c.name.endsWith('shift 0.2')).some((c) => c.ours.drift! > 0.2)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
