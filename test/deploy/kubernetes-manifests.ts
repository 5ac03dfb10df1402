import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { type Dict, isDict, repoPath } from './deploy-files';

const KUBECTL_MISSING =
  'kubectl is not on the PATH. Install Debian\'s "kubernetes-client" package (sudo apt-get install kubernetes-client); ' +
  '.ci/run installs it when kubectl is missing.';

/** `kubectl kustomize <dir>`: the objects an overlay applies. A missing kubectl is a failure that says how to install it. */
export function kustomize(dir: string): Dict[] {
  const run = spawnSync('kubectl', ['kustomize', dir], { cwd: repoPath(), encoding: 'utf8', timeout: 120_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(KUBECTL_MISSING);
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} exited with ${String(run.status)}:\n${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((doc) => doc.toJS() as unknown)
    .filter(isDict);
}

interface ModelClass {
  new (data: Dict): { validate(): void };
  prototype: { validate(): void };
}

/** The kubernetes-models class of each kind the manifests use; a new kind needs its line here. */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject as unknown as ModelClass,
};

export const describeObject = (object: Dict): string =>
  `${String(object['kind'])}/${String(isDict(object['metadata']) ? object['metadata']['name'] : '?')}`;

/**
 * Validates an object against its Kubernetes (or KEDA CRD) schema, and lists the fields the schema
 * does not know. The schemas accept unknown fields, so the validator's own reads tell which fields
 * it knows: it reads every property its schema declares (present or not), and enumerates the keys
 * of a map (labels, a trigger's metadata). A key of an object whose properties it read but that it
 * never read itself is a field the schema does not have — a misspelling.
 */
export function schemaErrors(object: Dict): string[] {
  const model = MODELS[`${String(object['apiVersion'])}/${String(object['kind'])}`];
  if (!model)
    return [`${describeObject(object)}: no kubernetes-models class for ${String(object['apiVersion'])} ${String(object['kind'])}`];
  const instance = new model(object);
  const seen = new Map<object, { proxy: object; reads: Set<string>; enumerated: boolean; path: string }>();
  const track = (value: unknown, path: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    let entry = seen.get(value);
    if (!entry) {
      const record = { proxy: value, reads: new Set<string>(), enumerated: false, path };
      record.proxy = new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key !== 'string') return Reflect.get(target, key, receiver) as unknown;
          record.reads.add(key);
          return track(Reflect.get(target, key, receiver), `${path}.${key}`);
        },
        has(target, key) {
          if (typeof key === 'string') record.reads.add(key);
          return Reflect.has(target, key);
        },
        ownKeys(target) {
          record.enumerated = true;
          return Reflect.ownKeys(target);
        },
      });
      seen.set(value, record);
      entry = record;
    }
    return entry.proxy;
  };
  try {
    model.prototype.validate.call(track(instance, ''));
  } catch (error) {
    return [`${describeObject(object)}: ${(error as Error).message}`];
  }
  const unknown: string[] = [];
  for (const [value, { reads, enumerated, path }] of seen) {
    // Arrays, maps and free-form objects (no property read) have no fixed set of keys.
    if (Array.isArray(value) || enumerated || reads.size === 0) continue;
    for (const key of Object.keys(value)) if (!reads.has(key)) unknown.push(`${describeObject(object)}: unknown field ${path}.${key}`);
  }
  return unknown;
}
