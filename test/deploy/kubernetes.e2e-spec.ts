import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { get } from 'node:http';
import { PATH_METADATA } from '@nestjs/common/constants';
import { Registry } from 'prom-client';
import { MetricsServer } from '@fathom/telemetry';
import { API_ENV_KEYS, apiEnvSchema } from '../../apps/api/src/config/api.config';
import { WORKER_ENV_KEYS, workerEnvSchema } from '../../apps/worker/src/config/worker.config';
import { HealthController } from '../../apps/api/src/health/health.controller';
import { PUBLIC_ROUTE } from '../../apps/api/src/auth/scopes.decorator';
import { type Dict, dictAt, isDict, listAt, readText, readYaml, repoPath, stringAt } from './deploy-files';
import { describeObject, kustomize, schemaErrors } from './kubernetes-manifests';

/**
 * Kubernetes does not run where the tests run: the manifests are checked by what does — kubectl's
 * kustomize renders each overlay, kubernetes-models validates every object against the Kubernetes
 * and KEDA schemas, and the objects are held against the code (the variables its config schemas
 * read, their defaults, its routes) and against each other (names, labels, ports, Secrets).
 */
const OVERLAYS = ['cpu', 'gpu'] as const;
const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, kustomize(`deploy/kubernetes/overlays/${o}`)])) as Record<
  (typeof OVERLAYS)[number],
  Dict[]
>;
const each = OVERLAYS.map((o) => [o, rendered[o]] as const);

const name = (object: Dict) => stringAt(object, 'metadata', 'name');
const objects = (all: Dict[], kind: string) => all.filter((o) => o['kind'] === kind);
const one = (all: Dict[], kind: string, objectName: string): Dict => {
  const found = all.find((o) => o['kind'] === kind && name(o) === objectName);
  if (!found) throw new Error(`no ${kind}/${objectName} in the rendered overlay`);
  return found;
};
const podSpec = (deployment: Dict) => dictAt(deployment, 'spec', 'template', 'spec');
const container = (deployment: Dict, containerName: string): Dict => {
  const found = listAt(podSpec(deployment), 'containers').find((c) => isDict(c) && c['name'] === containerName);
  if (!isDict(found)) throw new Error(`${describeObject(deployment)} has no container ${containerName}`);
  return found;
};
const envEntries = (c: Dict): Dict[] => (Array.isArray(c['env']) ? (c['env'] as unknown[]).filter(isDict) : []);

/** deploy/kubernetes/secret.example.env: the keys of the Secret the operator creates, with example values. */
const SECRET_NAME = 'fathom';
const secretExample = Object.fromEntries(
  readText('deploy', 'kubernetes', 'secret.example.env')
    .split('\n')
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/** A container's environment as the process sees it: literal values, the example Secret's, the CPU limit. */
function processEnv(c: Dict): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of envEntries(c)) {
    const key = stringAt(entry, 'name');
    if (typeof entry['value'] === 'string') env[key] = entry['value'];
    else if (isDict(entry['valueFrom']) && isDict(entry['valueFrom']['secretKeyRef']))
      env[key] = secretExample[stringAt(entry, 'valueFrom', 'secretKeyRef', 'key')] ?? '';
    else if (isDict(entry['valueFrom']) && isDict(entry['valueFrom']['resourceFieldRef'])) {
      const limit = String(
        dictAt(c, 'resources', 'limits')[stringAt(entry, 'valueFrom', 'resourceFieldRef', 'resource').replace('limits.', '')],
      );
      env[key] = String(Math.ceil(limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit)));
    }
  }
  return env;
}

const podLabels = (d: Dict) => dictAt(d, 'spec', 'template', 'metadata', 'labels');
const apiDeployment = (all: Dict[]) => one(all, 'Deployment', 'fathom-api');
const workerDeployments = (all: Dict[]) => objects(all, 'Deployment').filter((d) => name(d) !== 'fathom-api');
const apiConfig = (all: Dict[]) => apiEnvSchema.parse(processEnv(container(apiDeployment(all), 'api')));
const workerConfig = (d: Dict) => workerEnvSchema.parse(processEnv(container(d, 'worker')));

const portNumber = (c: Dict, portName: string): number => {
  const port = listAt(c, 'ports').find((p) => isDict(p) && p['name'] === portName);
  if (!isDict(port)) throw new Error(`container ${String(c['name'])} has no port named ${portName}`);
  return Number(port['containerPort']);
};

/** Every probe of a container, with its path and the port number it reaches. */
const probes = (c: Dict) =>
  (['startupProbe', 'livenessProbe', 'readinessProbe'] as const).map((probe) => {
    const get = dictAt(c, probe, 'httpGet');
    const port = get['port'];
    return { probe, path: stringAt(get, 'path'), port: typeof port === 'string' ? portNumber(c, port) : Number(port) };
  });

/** GET as the kubelet probes: a fresh connection, closed after the answer (no keep-alive left open). */
const probeStatus = (url: URL) =>
  new Promise<number>((resolve, reject) => {
    get(url, { agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume().on('end', () => resolve(response.statusCode ?? 0));
    }).on('error', reject);
  });

const preStopSeconds = (c: Dict): number => {
  const command = isDict(c['lifecycle']) ? listAt(c, 'lifecycle', 'preStop', 'exec', 'command') : [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
};

describe('deploy/kubernetes: the overlays render and validate', () => {
  it.each(each)('%s renders the API, a worker pool, its ScaledObject and the dashboards', (_overlay, all) => {
    expect(all.map(describeObject).sort()).toEqual(
      [
        'ConfigMap/fathom-dashboard-drift',
        'ConfigMap/fathom-dashboard-models',
        'ConfigMap/fathom-dashboard-queue-and-workers',
        'ConfigMap/fathom-dashboard-service-overview',
        'Deployment/fathom-api',
        'Deployment/fathom-worker',
        'HorizontalPodAutoscaler/fathom-api',
        'Ingress/fathom-api',
        'PodDisruptionBudget/fathom-api',
        'PodDisruptionBudget/fathom-worker',
        'ScaledObject/fathom-worker',
        'Service/fathom-api',
      ].sort(),
    );
    for (const object of all)
      expect([describeObject(object), stringAt(object, 'metadata', 'namespace')]).toEqual([describeObject(object), 'fathom']);
  });

  it.each(each)('%s: every object validates against its schema, with no field the schema does not know', (_overlay, all) => {
    expect(all.flatMap(schemaErrors)).toEqual([]);
  });

  it('the schema check can fail: a misspelt field, a wrong type and a KEDA typo are reported', () => {
    const api = structuredClone(apiDeployment(rendered.cpu));
    const c = container(api, 'api');
    c['imagePullPolicyy'] = 'Always';
    dictAt(podSpec(api))['terminationGracePeriodSeconds'] = 'long';
    const scaled = structuredClone(one(rendered.cpu, 'ScaledObject', 'fathom-worker'));
    dictAt(scaled, 'spec')['minReplicas'] = 1;
    expect(schemaErrors(api).join('\n')).toMatch(/terminationGracePeriodSeconds/);
    delete dictAt(podSpec(api))['terminationGracePeriodSeconds'];
    expect(schemaErrors(api)).toEqual(['Deployment/fathom-api: unknown field .spec.template.spec.containers.0.imagePullPolicyy']);
    expect(schemaErrors(scaled)).toEqual(['ScaledObject/fathom-worker: unknown field .spec.minReplicas']);
  });

  it('kustomize cannot render what does not exist: a missing kubectl or overlay fails with the reason', () => {
    expect(() => kustomize('deploy/kubernetes/overlays/no-such-overlay')).toThrow(/kubectl kustomize .* exited/);
  });
});

describe('deploy/kubernetes: the manifests agree with the code', () => {
  it.each(each)('%s sets only variables the API and the worker read, with values their schemas accept', (_overlay, all) => {
    const standard = (key: string) => key.startsWith('OTEL_');
    const api = envEntries(container(apiDeployment(all), 'api')).map((e) => stringAt(e, 'name'));
    expect(api.filter((key) => !standard(key) && !API_ENV_KEYS.includes(key))).toEqual([]);
    for (const d of workerDeployments(all)) {
      const worker = envEntries(container(d, 'worker')).map((e) => stringAt(e, 'name'));
      expect(worker.filter((key) => !standard(key) && !WORKER_ENV_KEYS.includes(key))).toEqual([]);
      expect(() => workerConfig(d)).not.toThrow();
    }
    expect(apiConfig(all)).toMatchObject({ HOST: '0.0.0.0', API_AUTH: 'keys', API_METRICS_HOST: '0.0.0.0' });
  });

  it.each(each)(
    '%s: the container ports are the ports the processes listen on, and Prometheus scrapes the metrics port',
    (_overlay, all) => {
      const api = apiDeployment(all);
      const config = apiConfig(all);
      expect([portNumber(container(api, 'api'), 'http'), portNumber(container(api, 'api'), 'metrics')]).toEqual([
        config.PORT,
        config.API_METRICS_PORT,
      ]);
      expect(dictAt(api, 'spec', 'template', 'metadata', 'annotations')).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(config.API_METRICS_PORT),
      });
      for (const d of workerDeployments(all)) {
        const port = workerConfig(d).WORKER_METRICS_PORT;
        expect(portNumber(container(d, 'worker'), 'metrics')).toBe(port);
        expect(dictAt(d, 'spec', 'template', 'metadata', 'annotations')).toMatchObject({ 'prometheus.io/port': String(port) });
      }
    },
  );

  it('the API is probed on /healthz and /readyz, which it serves without a key', () => {
    const served = (['healthz', 'readyz'] as const).map((method) => ({
      path: `/${String(Reflect.getMetadata(PATH_METADATA, Object.getOwnPropertyDescriptor(HealthController.prototype, method)?.value as object))}`,
      public: Reflect.getMetadata(PUBLIC_ROUTE, HealthController) === true,
    }));
    expect(served).toEqual([
      { path: '/healthz', public: true },
      { path: '/readyz', public: true },
    ]);
    for (const [, all] of each) {
      const c = container(apiDeployment(all), 'api');
      const port = apiConfig(all).PORT;
      expect(probes(c)).toEqual([
        { probe: 'startupProbe', path: '/healthz', port },
        { probe: 'livenessProbe', path: '/healthz', port },
        { probe: 'readinessProbe', path: '/readyz', port },
      ]);
    }
  });

  it('the worker is probed on its metrics port, where its metrics server answers the probe path', async () => {
    const server = new MetricsServer(new Registry());
    const url = new URL(await server.listen(0, '127.0.0.1'));
    try {
      for (const [, all] of each)
        for (const d of workerDeployments(all)) {
          const port = workerConfig(d).WORKER_METRICS_PORT;
          for (const probe of probes(container(d, 'worker'))) {
            expect(probe.port).toBe(port);
            const status = await probeStatus(new URL(probe.path, url));
            expect([probe.probe, status]).toEqual([probe.probe, 200]);
          }
        }
    } finally {
      await server.close();
    }
  });
});

describe('deploy/kubernetes: scale-in and shutdown never cut work short', () => {
  it.each(each)('%s: a worker pod outlives the longest job and its drain', (_overlay, all) => {
    for (const d of workerDeployments(all)) {
      const config = workerConfig(d);
      const longestJobMs = config.WORKER_DECODE_TIMEOUT_MS + config.WORKER_INFERENCE_TIMEOUT_MS + config.WORKER_ENCODE_TIMEOUT_MS;
      const graceMs = Number(podSpec(d)['terminationGracePeriodSeconds']) * 1000;
      // The drain waits for the jobs in hand up to WORKER_SHUTDOWN_GRACE_MS, then exits: it must cover the longest job.
      expect(config.WORKER_SHUTDOWN_GRACE_MS).toBeGreaterThanOrEqual(longestJobMs);
      expect(graceMs).toBeGreaterThan(preStopSeconds(container(d, 'worker')) * 1000 + config.WORKER_SHUTDOWN_GRACE_MS);
    }
  });

  it.each(each)('%s: an API pod finishes its requests in flight, a waiting POST /v1/infer included', (_overlay, all) => {
    const api = apiDeployment(all);
    const config = apiConfig(all);
    const c = container(api, 'api');
    expect(preStopSeconds(c)).toBeGreaterThan(0);
    expect(config.API_SHUTDOWN_GRACE_MS).toBeGreaterThan(config.API_INFER_TIMEOUT_MS);
    expect(Number(podSpec(api)['terminationGracePeriodSeconds']) * 1000).toBeGreaterThan(
      preStopSeconds(c) * 1000 + config.API_SHUTDOWN_GRACE_MS,
    );
  });

  it.each(each)('%s: every Deployment has a PodDisruptionBudget, resource requests and a memory limit', (_overlay, all) => {
    for (const d of objects(all, 'Deployment')) {
      const labels = dictAt(d, 'spec', 'template', 'metadata', 'labels');
      const budgets = objects(all, 'PodDisruptionBudget').filter((pdb) =>
        Object.entries(dictAt(pdb, 'spec', 'selector', 'matchLabels')).every(([k, v]) => labels[k] === v),
      );
      expect([name(d), budgets.length]).toEqual([name(d), 1]);
      for (const c of listAt(podSpec(d), 'containers').filter(isDict)) {
        expect(dictAt(c, 'resources', 'requests')).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
        expect(dictAt(c, 'resources', 'limits')).toMatchObject({ memory: expect.anything() });
      }
    }
  });
});

describe('deploy/kubernetes: scaling', () => {
  it.each(each)('%s: one KEDA ScaledObject per worker pool, on the depth of its queues through Prometheus', (_overlay, all) => {
    const scaled = objects(all, 'ScaledObject');
    expect(scaled.map((s) => stringAt(s, 'spec', 'scaleTargetRef', 'name')).sort()).toEqual(workerDeployments(all).map(name).sort());
    const metrics = readText('docs', 'metrics.md');
    for (const s of scaled) {
      const [trigger, ...others] = listAt(s, 'spec', 'triggers').filter(isDict);
      expect(others).toEqual([]);
      expect(trigger?.['type']).toBe('prometheus');
      const query = stringAt(trigger, 'metadata', 'query');
      // The gauge is documented, and aggregated as docs/metrics.md says: every API instance reports the same value.
      expect(query).toMatch(/max by \(queue\) \(fathom_queue_jobs\{job="fathom-api", state=~"waiting\|active"\}\)/);
      expect(metrics).toMatch(/\| `fathom_queue_jobs` \| gauge \|/);
      expect(Number(stringAt(trigger, 'metadata', 'threshold'))).toBeGreaterThan(0);
      expect(stringAt(trigger, 'metadata', 'activationThreshold')).toBe('0');
      // Scale to zero: the API queues jobs for a serving deployment with no live worker (ADR 0013, ADR 0015).
      expect(dictAt(s, 'spec')['minReplicaCount']).toBe(0);
      expect(Number(dictAt(s, 'spec')['maxReplicaCount'])).toBeGreaterThan(1);
    }
  });

  it.each(each)('%s: the autoscalers own every replica count, which kubectl apply therefore never resets', (_overlay, all) => {
    const scaled = [...objects(all, 'HorizontalPodAutoscaler'), ...objects(all, 'ScaledObject')].map((o) =>
      stringAt(o, 'spec', 'scaleTargetRef', 'name'),
    );
    expect(scaled.sort()).toEqual(objects(all, 'Deployment').map(name).sort());
    for (const d of objects(all, 'Deployment')) expect([name(d), dictAt(d, 'spec')['replicas']]).toEqual([name(d), undefined]);
  });

  it.each(each)('%s: the API scales on CPU with at least two replicas', (_overlay, all) => {
    const hpa = one(all, 'HorizontalPodAutoscaler', 'fathom-api');
    expect(dictAt(hpa, 'spec', 'scaleTargetRef')).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'fathom-api' });
    expect(dictAt(hpa, 'spec')['minReplicas']).toBeGreaterThanOrEqual(2);
    expect(listAt(hpa, 'spec', 'metrics')).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } } },
    ]);
  });

  it('the GPU overlay runs the worker-gpu image with one nvidia.com/gpu per pod; the CPU overlay asks for no GPU', () => {
    for (const d of workerDeployments(rendered.gpu)) {
      const c = container(d, 'worker');
      expect(stringAt(c, 'image')).toMatch(/^fathom-worker-gpu:/);
      expect([dictAt(c, 'resources', 'requests')['nvidia.com/gpu'], dictAt(c, 'resources', 'limits')['nvidia.com/gpu']]).toEqual([
        '1',
        '1',
      ]);
      expect(workerConfig(d).ORT_EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
    }
    for (const d of workerDeployments(rendered.cpu)) {
      const c = container(d, 'worker');
      expect(stringAt(c, 'image')).toMatch(/^fathom-worker:/);
      expect(JSON.stringify(c['resources'])).not.toContain('nvidia.com/gpu');
    }
  });

  it.each(each)('%s: images are the Dockerfile targets, tagged with the package version', (_overlay, all) => {
    const version = (JSON.parse(readText('package.json')) as { version: string }).version;
    const targets = [...readText('Dockerfile').matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const d of objects(all, 'Deployment'))
      for (const c of listAt(podSpec(d), 'containers').filter(isDict)) {
        const [image = '', tag] = stringAt(c, 'image').split(':');
        expect([image, targets.includes(image.replace(/^fathom-/, '')), tag]).toEqual([image, true, version]);
      }
  });
});

describe('deploy/kubernetes: every reference resolves', () => {
  it.each(each)('%s: Secrets are the documented one, with its keys; ConfigMaps are rendered', (_overlay, all) => {
    const configMaps = new Set(objects(all, 'ConfigMap').map(name));
    const refs: { kind: string; name: string; key: string }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      if (!isDict(node)) return;
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'secretKeyRef' || key === 'configMapKeyRef') && isDict(value))
          refs.push({ kind: key, name: stringAt(value, 'name'), key: stringAt(value, 'key') });
        if (key === 'secretRef' || key === 'configMapRef' || key === 'secret' || key === 'configMap')
          refs.push({ kind: key, name: String(isDict(value) ? (value['name'] ?? value['secretName']) : ''), key: '' });
        walk(value);
      }
    };
    all.forEach(walk);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      if (ref.kind.startsWith('secret'))
        expect([ref, ref.name, ref.key === '' || ref.key in secretExample]).toEqual([ref, SECRET_NAME, true]);
      else expect([ref, configMaps.has(ref.name)]).toEqual([ref, true]);
    }
    // No Secret is applied: its values are the operator's.
    expect(objects(all, 'Secret')).toEqual([]);
  });

  it.each(each)('%s: Services, the Ingress, the HPA, the ScaledObjects and the budgets reach what they name', (_overlay, all) => {
    const deployments = objects(all, 'Deployment');
    const selects = (selector: Dict) =>
      deployments.filter((d) => Object.entries(selector).every(([k, v]) => podLabels(d)[k] === v)).map(name);
    for (const d of deployments) expect(selects(dictAt(d, 'spec', 'selector', 'matchLabels'))).toEqual([name(d)]);
    const service = one(all, 'Service', 'fathom-api');
    expect(selects(dictAt(service, 'spec', 'selector'))).toEqual(['fathom-api']);
    for (const port of listAt(service, 'spec', 'ports').filter(isDict))
      expect(portNumber(container(apiDeployment(all), 'api'), stringAt(port, 'targetPort'))).toBe(apiConfig(all).PORT);
    for (const rule of listAt(one(all, 'Ingress', 'fathom-api'), 'spec', 'rules').filter(isDict))
      for (const path of listAt(rule, 'http', 'paths').filter(isDict)) {
        const backend = dictAt(path, 'backend', 'service');
        const target = one(all, 'Service', stringAt(backend, 'name'));
        expect(listAt(target, 'spec', 'ports').map((p) => (isDict(p) ? p['name'] : undefined))).toContain(
          stringAt(backend, 'port', 'name'),
        );
      }
    for (const pdb of objects(all, 'PodDisruptionBudget'))
      expect(selects(dictAt(pdb, 'spec', 'selector', 'matchLabels'))).toEqual([name(pdb)]);
    for (const s of objects(all, 'ScaledObject')) one(all, 'Deployment', stringAt(s, 'spec', 'scaleTargetRef', 'name'));
    for (const h of objects(all, 'HorizontalPodAutoscaler')) one(all, 'Deployment', stringAt(h, 'spec', 'scaleTargetRef', 'name'));
  });

  it('the Ingress upgrades WebSockets with long timeouts, keeps long-polling sessions on one pod, and takes an upload at the API limit', () => {
    const annotations = dictAt(one(rendered.cpu, 'Ingress', 'fathom-api'), 'metadata', 'annotations');
    expect(annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/affinity': 'cookie',
      'nginx.ingress.kubernetes.io/affinity-mode': 'persistent',
    });
    const config = apiConfig(rendered.cpu);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000).toBeGreaterThan(config.API_INFER_TIMEOUT_MS);
    const bodyMiB = Number(String(annotations['nginx.ingress.kubernetes.io/proxy-body-size']).replace(/m$/, ''));
    expect(bodyMiB * 1024 * 1024).toBeGreaterThan(config.API_MAX_UPLOAD_BYTES);
  });

  it('the dashboards ConfigMaps are deploy/grafana/dashboards, file for file, for the Grafana sidecar', () => {
    const files = readdirSync(repoPath('deploy', 'grafana', 'dashboards'));
    const maps = objects(rendered.cpu, 'ConfigMap');
    expect(maps.flatMap((m) => Object.keys(dictAt(m, 'data'))).sort()).toEqual(files.filter((f) => f.endsWith('.json')).sort());
    for (const m of maps) {
      expect(dictAt(m, 'metadata', 'labels')).toMatchObject({ grafana_dashboard: '1' });
      for (const [file, text] of Object.entries(dictAt(m, 'data'))) expect(text).toBe(readText('deploy', 'grafana', 'dashboards', file));
    }
  });

  it('the scrape jobs keep the job names the dashboards, alerts and KEDA query, and find the metrics ports by name and component', () => {
    const config = readYaml('deploy', 'kubernetes', 'prometheus.kubernetes.yml');
    const jobs = listAt(config, 'scrape_configs').filter(isDict);
    expect(jobs.map((j) => j['job_name'])).toEqual(['fathom-api', 'fathom-worker']);
    const alerts = readText('deploy', 'prometheus', 'alerts.yml');
    for (const job of ['fathom-api', 'fathom-worker']) expect(alerts).toContain(`job="${job}"`);
    for (const job of jobs) {
      const keep = listAt(job, 'relabel_configs')
        .filter(isDict)
        .find((r) => r['action'] === 'keep');
      const [component = '', portName = ''] = stringAt(keep, 'regex').split(';');
      const targets = objects(rendered.cpu, 'Deployment').filter((d) => podLabels(d)['app.kubernetes.io/component'] === component);
      expect(targets.length).toBeGreaterThan(0);
      for (const d of targets)
        expect(podSpec(d)['containers']).toEqual([
          expect.objectContaining({ ports: expect.arrayContaining([expect.objectContaining({ name: portName })]) }),
        ]);
    }
  });

  it('secret.example.env is documentation: no kustomization applies it', () => {
    // Connection strings and the object store's bucket and credentials: the Deployments read these from it.
    expect(Object.keys(secretExample).sort()).toEqual([
      'DATABASE_URL',
      'REDIS_URL',
      'STORAGE_S3_ACCESS_KEY_ID',
      'STORAGE_S3_BUCKET',
      'STORAGE_S3_ENDPOINT',
      'STORAGE_S3_FORCE_PATH_STYLE',
      'STORAGE_S3_REGION',
      'STORAGE_S3_SECRET_ACCESS_KEY',
    ]);
    for (const dir of ['base', 'overlays/cpu', 'overlays/gpu'])
      expect(JSON.stringify(readYaml('deploy', 'kubernetes', ...dir.split('/'), 'kustomization.yaml'))).not.toMatch(
        /secretGenerator|secret\.example/,
      );
  });
});
