import type { DriftReport, FeatureDrift } from '@fathom/contracts';
import type { ModelDrift, VersionDrift } from './drift-client';
import { EXIT_DRIFT, EXIT_NO_DRIFT, statusReport } from './drift-tables';

const feature = (name: string, psi: number, noise: number): FeatureDrift => ({
  name,
  side: name.startsWith('input') ? 'input' : 'output',
  count: 200,
  psi,
  noise,
  drift: Math.max(0, psi - noise),
  reference: [0.5, 0.5],
  production: [0.5, 0.5],
  bins: ['< 1', '≥ 1'],
});

const version = (scores: DriftReport['scores'], features: FeatureDrift[]): VersionDrift => ({
  version: '1.0.0',
  reference: { source: { jobs: ['a', 'b'] }, rows: 250, createdAt: '2026-12-07T10:00:00.000Z', createdBy: 'admin' },
  window: { rows: 200, from: '2026-12-07T11:00:00.000Z', to: '2026-12-07T12:00:00.000Z' },
  report: {
    rows: 200,
    features,
    scores,
    flagged: { input: (scores.input ?? 0) > 0.2, output: (scores.output ?? 0) > 0.2 },
  },
});

describe('npm run drift -- status: what it prints and the code it exits with', () => {
  it('exits 0 and says ok when no side is over 0.2', () => {
    const drift: ModelDrift = {
      model: 'depth',
      versions: [version({ input: 0.04, output: 0.01 }, [feature('input.meanLuma', 0.1, 0.06)])],
    };
    const { text, code } = statusReport(drift);
    expect(code).toBe(EXIT_NO_DRIFT);
    expect(text).toContain('depth@1.0.0: reference of 250 predictions (2 profiled images); window of 200 production predictions');
    expect(text).toMatch(/input\s+score 0\.04\s+ok/);
  });

  it('exits 3 and lists the most drifted features first, starred above 0.2', () => {
    const drift: ModelDrift = {
      model: 'depth',
      versions: [
        version({ input: 0.55, output: 0.02 }, [
          feature('input.contrast', 0.1, 0.06),
          feature('input.meanLuma', 0.6, 0.05),
          feature('output.mean', 0.08, 0.06),
        ]),
      ],
    };
    const { text, code } = statusReport(drift);
    expect(code).toBe(EXIT_DRIFT);
    expect(text).toMatch(/input\s+score 0\.55\s+DRIFT \(above 0\.2\)/);
    const rows = text.split('\n').filter((line) => /^\s+(input|output)\.\w+\s/.test(line));
    expect(rows.map((line) => line.trim().split(/\s+/)[0])).toEqual(['input.meanLuma', 'input.contrast', 'output.mean']);
    expect(rows[0]).toMatch(/0\.6\s+0\.05\s+0\.55\s+\*$/);
    expect(rows[1]).not.toContain('*');
  });

  it('says how to set a reference for a version without one', () => {
    const bare: VersionDrift = { version: '2.0.0', reference: null, window: { rows: 12, from: null, to: null }, report: null };
    const { text, code } = statusReport({ model: 'depth', versions: [bare] });
    expect(code).toBe(EXIT_NO_DRIFT);
    expect(text).toContain('depth@2.0.0: no drift reference (set one: npm run drift -- reference <folder> --model depth@2.0.0)');
  });
});
