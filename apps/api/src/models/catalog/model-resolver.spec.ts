import { FathomError, inferenceQueueName, type KnownModel, type RolloutState, type ServedModel } from '@fathom/contracts';
import { resolveModel, type ResolveContext } from './model-resolver';
import { compareVersions } from '@fathom/models';

const known = (version: string, variant?: string): KnownModel => ({
  name: 'depth',
  version,
  ...(variant ? { variant } : {}),
  task: 'depth',
  queue: inferenceQueueName('depth', version, variant),
  input: { name: 'pixel_values', description: '' },
});
const served = (version: string, variant?: string): ServedModel => ({ ...known(version, variant), executionProvider: 'cpu' });
const rollout = (state: Partial<RolloutState>): RolloutState => ({
  aliases: {},
  weights: { stable: 100, canary: 0 },
  history: [],
  ...state,
});

/** A deterministic, evenly spread sequence in [0, 1) standing in for Math.random. */
function sequence(): () => number {
  let i = 0;
  return () => (i++ * 0.6180339887) % 1;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof FathomError ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
}

describe('which model version a submission goes to', () => {
  const context: ResolveContext = {
    served: [served('1.0.0'), served('1.1.0'), served('1.1.0', 'mirrors')],
    known: [known('1.0.0'), known('1.1.0'), known('1.1.0', 'mirrors'), known('0.9.0')],
    rollout: rollout({ aliases: { stable: '1.0.0', canary: '1.1.0' }, weights: { stable: 90, canary: 10 } }),
  };

  it('splits unpinned traffic by weight: 90/10 over 2,000 draws', () => {
    const random = sequence();
    const routes = Array.from({ length: 2000 }, () => resolveModel({ reference: 'depth' }, context, random));
    const canary = routes.filter((r) => r.route === 'canary');
    expect(canary.every((r) => r.model.version === '1.1.0')).toBe(true);
    expect(Math.abs(canary.length / 2000 - 0.1)).toBeLessThan(0.01);
  });

  it('sends name@stable, name@canary and a pinned version where they say, and records how', () => {
    expect(resolveModel({ reference: 'depth@stable' }, context)).toMatchObject({ route: 'stable', model: { version: '1.0.0' } });
    expect(resolveModel({ reference: 'depth@canary' }, context)).toMatchObject({ route: 'canary', model: { version: '1.1.0' } });
    expect(resolveModel({ reference: 'depth@1.1.0' }, context)).toMatchObject({ route: 'pinned', model: { version: '1.1.0' } });
    expect(resolveModel({ reference: 'depth@1.1.0', variant: 'mirrors' }, context).model).toMatchObject({
      variant: 'mirrors',
      queue: 'infer.{depth@1.1.0#mirrors}',
    });
  });

  it('with no rollout set, stable is the newest declared release: a pre-release worker starting up moves no traffic', () => {
    const fresh = { ...context, rollout: null };
    expect(resolveModel({ reference: 'depth' }, fresh)).toMatchObject({ route: 'stable', model: { version: '1.1.0' } });
    const withRc = { ...fresh, served: [...fresh.served, served('2.0.0-rc.1')], known: [...fresh.known, known('2.0.0-rc.1')] };
    expect(resolveModel({ reference: 'depth' }, withRc)).toMatchObject({ route: 'stable', model: { version: '1.1.0' } });
    const stableDown = { ...fresh, served: [served('1.0.0')] };
    expect(codeOf(() => resolveModel({ reference: 'depth' }, stableDown))).toMatch(
      /^model_not_served: No worker serves depth \(stable: 1\.1\.0\)/,
    );
  });

  it('gives an unserved canary’s share to stable, but never stable’s share to the canary', () => {
    const canaryDown = { ...context, served: [served('1.0.0')] };
    const random = sequence();
    expect(new Set(Array.from({ length: 100 }, () => resolveModel({ reference: 'depth' }, canaryDown, random).model.version))).toEqual(
      new Set(['1.0.0']),
    );
    const stableDown = { ...context, served: [served('1.1.0')] };
    expect(codeOf(() => resolveModel({ reference: 'depth' }, stableDown))).toMatch(
      /^model_not_served: No worker serves depth \(stable: 1\.0\.0\)/,
    );
    const allCanary = {
      ...stableDown,
      rollout: rollout({ aliases: { stable: '1.0.0', canary: '1.1.0' }, weights: { stable: 0, canary: 100 } }),
    };
    expect(resolveModel({ reference: 'depth' }, allCanary)).toMatchObject({ route: 'canary', model: { version: '1.1.0' } });
  });

  it('sends a variant where the stable version serves it, and says so when it does not', () => {
    expect(codeOf(() => resolveModel({ reference: 'depth', variant: 'mirrors' }, context))).toMatch(
      /^model_not_served: No worker serves depth variant "mirrors" \(stable: 1\.0\.0\)/,
    );
    expect(resolveModel({ reference: 'depth@canary', variant: 'mirrors' }, context).model).toMatchObject({
      version: '1.1.0',
      variant: 'mirrors',
    });
    const mirrorsStable = { ...context, rollout: rollout({ aliases: { stable: '1.1.0' } }) };
    expect(resolveModel({ reference: 'depth', variant: 'mirrors' }, mirrorsStable)).toMatchObject({
      route: 'stable',
      model: { version: '1.1.0', variant: 'mirrors' },
    });
  });

  it('answers 404 for a model no one declared and 422, at once, for what no live worker serves', () => {
    expect(codeOf(() => resolveModel({ reference: 'nope' }, context))).toMatch(/^model_not_found: There is no model named "nope"/);
    expect(codeOf(() => resolveModel({ reference: 'depth@0.9.0' }, context))).toMatch(
      /^model_not_served: No worker serves depth@0\.9\.0 now\. Served: /,
    );
    expect(codeOf(() => resolveModel({ reference: 'depth@7.0.0' }, context))).toMatch(
      /^model_not_served: depth has no version "7\.0\.0"\. Known versions: 0\.9\.0, 1\.0\.0, 1\.1\.0/,
    );
    expect(codeOf(() => resolveModel({ reference: 'depth@1.0.0', variant: 'indoor-art' }, context))).toMatch(
      /^model_not_served: No worker serves depth variant "indoor-art"@1\.0\.0/,
    );
    const noCanary = { ...context, rollout: rollout({ aliases: { stable: '1.0.0' } }) };
    expect(codeOf(() => resolveModel({ reference: 'depth@canary' }, noCanary))).toMatch(
      /^model_not_served: .*the alias points at no version/,
    );
    const nothingServed = { ...context, served: [] };
    expect(codeOf(() => resolveModel({ reference: 'depth' }, nothingServed))).toMatch(
      /^model_not_served: No worker serves depth \(stable: 1\.0\.0\) now/,
    );
  });
});

describe('version order', () => {
  it('compares numbers as numbers and puts a release above its pre-releases', () => {
    expect(['1.10.0', '2.0.0-int8', '1.9.0', '2.0.0', '2.0.0-rc.1'].sort(compareVersions)).toEqual([
      '1.9.0',
      '1.10.0',
      '2.0.0-int8',
      '2.0.0-rc.1',
      '2.0.0',
    ]);
  });
});

describe('what the deployments registry changes in resolution (ADR 0015)', () => {
  const base: ResolveContext = {
    served: [served('1.0.0')],
    known: [known('1.0.0'), known('1.1.0'), known('2.0.0')],
    rollout: rollout({ aliases: { stable: '1.0.0' } }),
  };

  it('takes a job for a serving deployment no live worker serves now (a pool scaled to zero), variants included', () => {
    const context: ResolveContext = {
      ...base,
      registered: [{ name: 'depth', version: '1.1.0', state: 'serving', models: [known('1.1.0'), known('1.1.0', 'mirrors')] }],
    };
    expect(resolveModel({ reference: 'depth@1.1.0' }, context)).toMatchObject({ route: 'pinned', model: { queue: 'infer.{depth@1.1.0}' } });
    expect(resolveModel({ reference: 'depth@1.1.0', variant: 'mirrors' }, context).model.queue).toBe('infer.{depth@1.1.0#mirrors}');
  });

  it('still refuses a version that never served: warming, failed, or only declared', () => {
    const context: ResolveContext = {
      ...base,
      registered: [
        { name: 'depth', version: '1.1.0', state: 'warming', models: [known('1.1.0')] },
        { name: 'depth', version: '2.0.0', state: 'pending', models: [known('2.0.0')] },
      ],
    };
    expect(codeOf(() => resolveModel({ reference: 'depth@1.1.0' }, context))).toBe(
      'model_not_served: No worker serves depth@1.1.0 now. Served: depth@1.0.0.',
    );
    expect(codeOf(() => resolveModel({ reference: 'depth@2.0.0' }, context))).toMatch(/^model_not_served: No worker serves depth@2\.0\.0/);
  });

  it('refuses a retiring or retired version as "retired", even while a worker still serves it', () => {
    const context: ResolveContext = {
      ...base,
      rollout: rollout({}),
      registered: [{ name: 'depth', version: '1.0.0', state: 'retiring', models: [] }],
    };
    expect(codeOf(() => resolveModel({ reference: 'depth@1.0.0' }, context))).toBe(
      'model_not_served: depth@1.0.0 is retired: it takes no new jobs. See GET /v1/models for the versions served.',
    );
    // The default stable (the newest release) moves past a retired one.
    const retiredNewest: ResolveContext = {
      ...base,
      served: [served('1.0.0'), served('2.0.0')],
      rollout: rollout({}),
      registered: [{ name: 'depth', version: '2.0.0', state: 'retired', models: [] }],
    };
    expect(codeOf(() => resolveModel({ reference: 'depth' }, retiredNewest))).toMatch(/stable: 1\.1\.0/);
  });

  it('knows a model registered over REST before any worker declared it: 422 while warming, not 404', () => {
    const context: ResolveContext = {
      served: [],
      known: [],
      rollout: null,
      registered: [{ name: 'fresh', version: '1.0.0', state: 'warming', models: [{ ...known('1.0.0'), name: 'fresh' }] }],
    };
    expect(codeOf(() => resolveModel({ reference: 'fresh@1.0.0' }, context))).toMatch(/^model_not_served/);
    expect(codeOf(() => resolveModel({ reference: 'stale' }, context))).toMatch(/^model_not_found/);
  });
});
