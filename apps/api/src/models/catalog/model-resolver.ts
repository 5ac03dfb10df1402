import {
  DEFAULT_ROLLOUT,
  type AliasName,
  type DeploymentState,
  ErrorCode,
  FathomError,
  type KnownModel,
  type ModelRoute,
  type RolloutState,
  type ServedModel,
  type WorkerHeartbeat,
} from '@fathom/contracts';
import { compareVersions, isPreRelease } from '@fathom/models';

export interface ResolvedModel {
  /** A model a live worker serves, or (scale to zero) one whose deployment is serving while no worker is up. */
  model: KnownModel;
  route: ModelRoute;
}

/**
 * A model version in the deployments registry (ADR 0015): the state of its live (else latest)
 * deployment, and what it declares (from its manifest; [] for a local one, whose workers declare it).
 */
export interface RegisteredVersion {
  name: string;
  version: string;
  state: DeploymentState;
  models: KnownModel[];
}

/** What resolution reads: live workers' models, every model ever declared, the model's rollout and the registry. */
export interface ResolveContext {
  served: ServedModel[];
  known: KnownModel[];
  rollout: RolloutState | null;
  registered?: RegisteredVersion[];
}

/** Registry states a submission is refused in even while workers still serve the version. */
const RETIRED_STATES: readonly DeploymentState[] = ['retiring', 'retired'];

/** `name`, `name@stable`, `name@1.2.0` → the model's name and what follows the @. */
export function parseModelReference(reference: string): { name: string; pin: string | undefined } {
  const at = reference.indexOf('@');
  return at < 0 ? { name: reference, pin: undefined } : { name: reference.slice(0, at), pin: reference.slice(at + 1) };
}

/**
 * `name` → the stable alias, or the canary for its share of traffic; `name@stable|canary` → that
 * alias; `name@1.2.0` → that version. A model no one declared is 404; a version, alias or variant
 * no live worker serves is 422 at once, never a job that waits forever — unless its deployment is
 * `serving` (a worker warmed it up once: a pool scaled to zero wakes on the queued job, ADR 0013).
 * A retiring or retired version is 422 "retired" even while workers still serve it.
 */
export function resolveModel(
  request: { reference: string; variant?: string },
  context: ResolveContext,
  random: () => number = Math.random,
): ResolvedModel {
  const { name, pin } = parseModelReference(request.reference);
  const { variant } = request;
  const registered = (context.registered ?? []).filter((r) => r.name === name);
  const retired = new Set(registered.filter((r) => RETIRED_STATES.includes(r.state)).map((r) => r.version));
  const everyDeclared = [...context.known, ...context.served, ...registered.flatMap((r) => r.models)];
  const declaredAtAll = everyDeclared.filter((m) => m.name === name);
  if (declaredAtAll.length === 0 && registered.length === 0) {
    const names = [...new Set(everyDeclared.map((m) => m.name))].sort();
    throw new FathomError(ErrorCode.ModelNotFound, `There is no model named "${name}". See GET /v1/models.`, { models: names });
  }
  // A retired version no longer counts: the default stable moves past it.
  const declared = declaredAtAll.filter((m) => !retired.has(m.version));
  const rollout = context.rollout ?? DEFAULT_ROLLOUT;
  const served = (version: string | undefined): KnownModel | undefined => {
    if (version === undefined || retired.has(version)) return undefined;
    const live = context.served.find((m) => m.name === name && m.version === version && m.variant === variant);
    if (live) return live;
    if (!registered.some((r) => r.version === version && r.state === 'serving')) return undefined;
    return declared.find((m) => m.version === version && m.variant === variant);
  };
  const notServed = (what: string) => {
    const servedNow = [...new Set(context.served.filter((m) => m.name === name).map(describe))].sort();
    return new FathomError(
      ErrorCode.ModelNotServed,
      `No worker serves ${what} now.${servedNow.length ? ` Served: ${servedNow.join(', ')}.` : ''}`,
      {
        served: servedNow,
      },
    );
  };
  const target = variant ? `${name} variant "${variant}"` : name;

  if (pin === 'stable' || pin === 'canary') {
    const version = aliasVersion(rollout, pin, declared);
    if (version === undefined) throw notServed(`${target}@${pin} (the alias points at no version)`);
    const model = served(version);
    if (!model) throw notServed(`${target}@${pin} (${version})`);
    return { model, route: pin };
  }
  if (pin !== undefined) {
    if (retired.has(pin)) {
      throw new FathomError(
        ErrorCode.ModelNotServed,
        `${name}@${pin} is retired: it takes no new jobs. See GET /v1/models for the versions served.`,
        { retired: pin },
      );
    }
    if (!declared.some((m) => m.version === pin)) {
      const versions = [...new Set(declared.map((m) => m.version))].sort(compareVersions);
      throw new FathomError(ErrorCode.ModelNotServed, `${name} has no version "${pin}". Known versions: ${versions.join(', ')}.`, {
        versions,
      });
    }
    const model = served(pin);
    if (!model) throw notServed(`${target}@${pin}`);
    return { model, route: 'pinned' };
  }

  // Unpinned: split between stable and canary by weight. A canary no worker serves gives its share
  // back to stable; stable's share never falls through to the canary (a risk nobody chose).
  const stableVersion = aliasVersion(rollout, 'stable', declared);
  const stable = served(stableVersion);
  const canary = served(aliasVersion(rollout, 'canary', declared));
  if (!stable && (rollout.weights.stable > 0 || !canary)) throw notServed(`${target} (stable: ${stableVersion ?? 'none'})`);
  const choices = [
    ...(stable ? [{ alias: 'stable' as const, weight: canary ? rollout.weights.stable : 1, model: stable }] : []),
    ...(canary && rollout.weights.canary > 0 ? [{ alias: 'canary' as const, weight: rollout.weights.canary, model: canary }] : []),
  ].filter((c) => c.weight > 0);
  if (choices.length === 0) throw notServed(`${target} (stable: ${stableVersion ?? 'none'})`);
  const total = choices.reduce((sum, c) => sum + c.weight, 0);
  let draw = random() * total;
  for (const choice of choices) {
    draw -= choice.weight;
    if (draw < 0) return { model: choice.model, route: choice.alias };
  }
  const last = choices[choices.length - 1]!;
  return { model: last.model, route: last.alias };
}

/**
 * The version an alias points at. With no stable set, stable is the newest declared release (not a
 * pre-release such as 2.0.0-int8 or 2.0.0-rc.1) — what the manifests say, not which workers happen
 * to be up, so a worker starting or dying never moves traffic by itself.
 */
export function aliasVersion(rollout: RolloutState, alias: AliasName, declared: Array<Pick<KnownModel, 'version'>>): string | undefined {
  const set = rollout.aliases[alias];
  if (set !== undefined || alias === 'canary') return set;
  const versions = [...new Set(declared.map((m) => m.version))].sort(compareVersions);
  return versions.filter((v) => !isPreRelease(v)).at(-1) ?? versions.at(-1);
}

/** How many live workers serve a model version (its base weights when `variant` is undefined, else that variant). */
export function workersServing(workers: WorkerHeartbeat[], model: Pick<KnownModel, 'name' | 'version' | 'variant'>): number {
  return workers.filter((w) => w.models.some((m) => m.name === model.name && m.version === model.version && m.variant === model.variant))
    .length;
}

function describe(model: KnownModel): string {
  return model.variant ? `${model.name}@${model.version} (variant ${model.variant})` : `${model.name}@${model.version}`;
}
