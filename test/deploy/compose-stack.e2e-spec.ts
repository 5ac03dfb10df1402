import Ajv2019 from 'ajv/dist/2019';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { workerEnv } from '../../tools/start/child-env';
import {
  type Dict,
  dictAt,
  dockerIgnored,
  dockerIgnorePatterns,
  exists,
  fromRoot,
  hostPort,
  interpolate,
  isDict,
  isPinnedImage,
  listAt,
  mergeCompose,
  parseDockerfile,
  readText,
  readYaml,
  repoPath,
  serviceEnv,
  serviceMounts,
  stageChain,
  stringAt,
} from './deploy-files';

/**
 * Docker does not run where the tests run: the compose stack is checked by what does run — the
 * Compose specification's JSON Schema, and the agreements between the files (service names,
 * ports, mounted config files, Dockerfile targets).
 */
const COMPOSE_DIR = repoPath('deploy', 'compose');
const ENV = {
  GRAFANA_ADMIN_PASSWORD: 'a-test-password',
  POSTGRES_PASSWORD: 'a-database-password',
  MINIO_ROOT_PASSWORD: 'a-store-password',
  MINIO_APP_SECRET_KEY: 'an-app-secret-key',
};

const baseRaw = readYaml('deploy', 'compose', 'docker-compose.yml');
const gpuRaw = readYaml('deploy', 'compose', 'docker-compose.gpu.yml');
const base = interpolate(baseRaw, ENV);
const withGpu = interpolate(mergeCompose(baseRaw, gpuRaw), ENV);

const services = (compose: unknown) => dictAt(compose, 'services');
/** minio-init's shell script, as `sh -c` gets it (Compose's `$$` already a `$`). */
const minioInitScript = () => listAt(service(base, 'minio-init'), 'command').join(' ');

/**
 * The IAM grants S3BlobStore's requests need on `bucket`, from the SDK commands its source sends:
 * a command it starts sending without an entry here fails the test until the policy is decided.
 */
function s3BlobStoreNeeds(bucket: string): string[] {
  const actions: Record<string, string> = {
    GetObject: `s3:GetObject arn:aws:s3:::${bucket}/*`,
    // HEAD is authorised as GET (the presigned-URL check); the presigned GET is the apps' GetObject too.
    HeadObject: `s3:GetObject arn:aws:s3:::${bucket}/*`,
    PutObject: `s3:PutObject arn:aws:s3:::${bucket}/*`,
    DeleteObject: `s3:DeleteObject arn:aws:s3:::${bucket}/*`,
    AbortMultipartUpload: `s3:AbortMultipartUpload arn:aws:s3:::${bucket}/*`,
    // Also what makes a missing object a 404 rather than a 403.
    ListObjectsV2: `s3:ListBucket arn:aws:s3:::${bucket}`,
  };
  const source = readText('libs', 'storage', 'src', 's3.blob-store.ts');
  const commands = [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!))];
  // lib-storage's Upload (putStream): multipart parts are authorised as PutObject, and a failed one is aborted.
  if (/new Upload\(/.test(source)) commands.push('PutObject', 'AbortMultipartUpload');
  expect(commands.filter((c) => !(c in actions))).toEqual([]);
  return [...new Set(commands.map((c) => `Allow ${actions[c]!}`))];
}
const service = (compose: unknown, name: string) => dictAt(compose, 'services', name);
const env = (name: string) => serviceEnv(service(base, name));

/** Validates against deploy/compose/schema/compose-spec.json (see its README for the source). */
function composeSchemaErrors(compose: unknown): string[] {
  // Its draft-04 style `id: "#/definitions/…"` keys are labels, not identifiers; Ajv refuses them.
  const schema = JSON.parse(readText('deploy', 'compose', 'schema', 'compose-spec.json'), (key, value: unknown) =>
    key === 'id' && typeof value === 'string' ? undefined : value,
  ) as Dict;
  delete schema['$schema'];
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
  const validate = ajv.compile(schema);
  // The 2021 schema predates the top-level `name`; it is checked on its own below.
  const { name: _name, ...rest } = compose as Dict;
  return validate(rest)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

describe('deploy/compose: the files are valid Compose', () => {
  it.each([
    ['docker-compose.yml', () => base],
    ['docker-compose.gpu.yml alone', () => interpolate(gpuRaw, ENV)],
    ['docker-compose.yml + docker-compose.gpu.yml', () => withGpu],
  ])('%s validates against the Compose specification schema', (_name, compose) => {
    expect(composeSchemaErrors(compose())).toEqual([]);
  });

  it('the schema check can fail: a misspelt key and a bad duration are reported', () => {
    const broken = mergeCompose(base, { services: { worker: { stop_grace_periodd: '60s', healthcheck: { interval: 'soon' } } } });
    expect(composeSchemaErrors(broken).join('\n')).toMatch(
      /must NOT have additional properties[\s\S]*stop_grace_periodd|stop_grace_periodd/,
    );
    expect(composeSchemaErrors(broken).join('\n')).toMatch(/healthcheck\/interval must match format "duration"/);
  });

  it('the project name is fathom, and every command needs GRAFANA_ADMIN_PASSWORD, POSTGRES_PASSWORD, MINIO_ROOT_PASSWORD and MINIO_APP_SECRET_KEY set', () => {
    expect(dictAt(baseRaw)['name']).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    expect(dictAt(baseRaw)['name']).toBe('fathom');
    expect(() => interpolate(baseRaw, { ...ENV, GRAFANA_ADMIN_PASSWORD: undefined })).toThrow(/GRAFANA_ADMIN_PASSWORD/);
    expect(() => interpolate(baseRaw, { ...ENV, POSTGRES_PASSWORD: undefined })).toThrow(/POSTGRES_PASSWORD/);
    expect(() => interpolate(baseRaw, { ...ENV, MINIO_ROOT_PASSWORD: undefined })).toThrow(/MINIO_ROOT_PASSWORD/);
    expect(() => interpolate(baseRaw, { ...ENV, MINIO_APP_SECRET_KEY: undefined })).toThrow(/MINIO_APP_SECRET_KEY/);
  });

  it('has the job path and the observability services', () => {
    expect(Object.keys(services(base)).sort()).toEqual(
      [
        'alertmanager',
        'api',
        'grafana',
        'jaeger',
        'minio',
        'minio-init',
        'otel-collector',
        'postgres',
        'prometheus',
        'proxy',
        'redis',
        'worker',
      ].sort(),
    );
  });
});

describe('deploy/compose: scaling', () => {
  it.each(['api', 'worker'])('%s has no container_name and no host port, so --scale works', (name) => {
    for (const compose of [base, withGpu]) {
      const svc = service(compose, name);
      expect({ name, container_name: svc['container_name'], ports: svc['ports'], hostname: svc['hostname'] }).toEqual({
        name,
        container_name: undefined,
        ports: undefined,
        hostname: undefined,
      });
      // Container ports only (the API's and its metrics port, the worker's metrics port), never published.
      expect(svc['expose']).toEqual(name === 'api' ? [expect.any(String), expect.any(String)] : [expect.any(String)]);
    }
  });

  it('only the proxy publishes the API port 8080 on the host; unauthenticated UIs bind to 127.0.0.1', () => {
    const published = Object.entries(services(base)).flatMap(([name, svc]) =>
      (isDict(svc) && Array.isArray(svc['ports']) ? (svc['ports'] as unknown[]) : []).map((p) => ({ name, port: String(p) })),
    );
    expect(published.filter((p) => /(^|:)8080:/.test(p.port))).toEqual([{ name: 'proxy', port: '8080:8080' }]);
    for (const p of published.filter((x) => ['prometheus', 'alertmanager', 'jaeger', 'otel-collector'].includes(x.name)))
      expect(p.port).toMatch(/^127\.0\.0\.1:/);
  });
});

describe('deploy/compose: images, volumes, dependencies', () => {
  it('every pulled image is pinned to a version; every built one names a Dockerfile target that exists', () => {
    const { stages } = parseDockerfile(readText('Dockerfile'));
    for (const compose of [base, withGpu]) {
      for (const [name, svc] of Object.entries(services(compose))) {
        const build = isDict(svc) ? svc['build'] : undefined;
        if (isDict(build)) {
          expect({ name, dockerfile: build['dockerfile'], context: build['context'] }).toEqual({
            name,
            dockerfile: 'Dockerfile',
            context: '../..',
          });
          expect({ name, target: stages.some((s) => s.name === build['target']) }).toEqual({ name, target: true });
        } else {
          const image = stringAt(svc, 'image');
          expect({ name, image, pinned: isPinnedImage(image) }).toEqual({ name, image, pinned: true });
        }
      }
    }
  });

  it("the worker images set glibc's malloc as `npm start` does for its worker, so a model unloaded at runtime gives its memory back", () => {
    const { stages } = parseDockerfile(readText('Dockerfile'));
    const malloc = Object.entries(workerEnv({})).filter(([name]) => name.startsWith('MALLOC_'));
    expect(malloc.length).toBeGreaterThan(0);
    for (const target of ['worker', 'worker-gpu']) {
      const env = stages
        .find((s) => s.name === target)!
        .instructions.filter((i) => i.keyword === 'ENV')
        .map((i) => i.args)
        .join(' ');
      for (const [name, value] of malloc) expect({ target, set: env.includes(`${name}=${value}`) }).toEqual({ target, set: true });
    }
  });

  it('named volumes are declared; bind-mounted config files exist in the repository', () => {
    const declared = Object.keys(dictAt(base, 'volumes'));
    for (const [name, svc] of Object.entries(services(base))) {
      for (const mount of serviceMounts(dictAt(svc), COMPOSE_DIR)) {
        if (!mount.hostPath) {
          expect({ name, volume: mount.source, declared: declared.includes(mount.source) }).toEqual({
            name,
            volume: mount.source,
            declared: true,
          });
          continue;
        }
        const path = fromRoot(mount.hostPath);
        // ../../models is the operator's own manifests folder (MODELS_DIR), optional.
        if (path === 'models') continue;
        expect({ name, path, exists: exists(mount.hostPath), readOnly: mount.readOnly }).toEqual({
          name,
          path,
          exists: true,
          readOnly: true,
        });
      }
    }
  });

  it('depends_on names services; service_healthy only on services with a healthcheck', () => {
    for (const [name, svc] of Object.entries(services(base))) {
      const deps = isDict(svc) && isDict(svc['depends_on']) ? svc['depends_on'] : {};
      for (const [dep, how] of Object.entries(deps)) {
        const target = services(base)[dep];
        expect({ name, dep, exists: isDict(target) }).toEqual({ name, dep, exists: true });
        if (stringAt(how, 'condition') === 'service_healthy')
          expect({ name, dep, healthcheck: isDict(dictAt(target)['healthcheck']) }).toEqual({ name, dep, healthcheck: true });
      }
    }
  });

  it('Redis keeps jobs: AOF on, noeviction', () => {
    const command = listAt(service(base, 'redis'), 'command').join(' ');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(serviceMounts(service(base, 'redis'), COMPOSE_DIR)).toEqual([
      expect.objectContaining({ source: 'redis-data', target: '/data' }),
    ]);
  });
});

describe('deploy/compose: api and worker environment agree with Prometheus, the proxy and the collector', () => {
  const prometheus = readYaml('deploy', 'prometheus', 'prometheus.yml');
  const dnsSd = (job: string) => {
    const config = listAt(prometheus, 'scrape_configs').find((c) => isDict(c) && c['job_name'] === job);
    return listAt(config, 'dns_sd_configs')[0] as Dict;
  };

  it('both apps reach Redis, name their service, export traces to the collector over OTLP http/protobuf', () => {
    for (const [name, serviceName] of [
      ['api', 'fathom-api'],
      ['worker', 'fathom-worker'],
    ] as const) {
      const e = env(name);
      expect(hostPort(e['REDIS_URL'] ?? '')).toEqual({ host: 'redis', port: 6379 });
      expect(e['OTEL_SERVICE_NAME']).toBe(serviceName);
      expect(e['OTEL_EXPORTER_OTLP_PROTOCOL']).toBe('http/protobuf');
      const otlp = hostPort(e['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? '');
      expect(otlp).toEqual({ host: 'otel-collector', port: 4318 });
      expect(services(base)[otlp.host]).toBeDefined();
    }
    // Other machines reach the API through the proxy: it listens on every interface, and only with keys.
    expect(env('api')).toMatchObject({ HOST: '0.0.0.0', API_AUTH: 'keys' });
    expect(env('api')['API_ADMIN_KEYS']).toBeUndefined();
  });

  it('the API reaches the database as the user and database postgres is initialised with, after it is healthy', () => {
    const url = new URL(env('api')['DATABASE_URL'] ?? '');
    const db = env('postgres');
    expect({ protocol: url.protocol, host: url.hostname, port: url.port, user: url.username, database: url.pathname.slice(1) }).toEqual({
      protocol: 'postgres:',
      host: 'postgres',
      port: '5432',
      user: db['POSTGRES_USER'],
      database: db['POSTGRES_DB'],
    });
    expect(decodeURIComponent(url.password)).toBe(ENV.POSTGRES_PASSWORD);
    expect(db['POSTGRES_PASSWORD']).toBe(ENV.POSTGRES_PASSWORD);
    expect(dictAt(service(base, 'api'), 'depends_on', 'postgres')).toEqual({ condition: 'service_healthy' });
    expect(listAt(service(base, 'postgres'), 'volumes')).toEqual(['postgres-data:/var/lib/postgresql/data']);
  });

  it('both apps keep uploads and results in MinIO, in the bucket minio-init creates, as the user it makes, once both exist', () => {
    const init = service(base, 'minio-init');
    const script = minioInitScript();
    for (const name of ['api', 'worker']) {
      const e = env(name);
      expect(e).toMatchObject({ STORAGE_BACKEND: 's3', STORAGE_S3_FORCE_PATH_STYLE: 'true' });
      expect(hostPort(e['STORAGE_S3_ENDPOINT'] ?? '')).toEqual({ host: 'minio', port: 9000 });
      expect(script).toContain(`mc mb --ignore-existing store/${e['STORAGE_S3_BUCKET']}`);
      // The user minio-init adds with the apps' secret, never MinIO's admin.
      expect(script).toContain(`mc admin user add store ${e['STORAGE_S3_ACCESS_KEY_ID']} "$MINIO_APP_SECRET_KEY"`);
      expect(e['STORAGE_S3_ACCESS_KEY_ID']).not.toBe(env('minio')['MINIO_ROOT_USER']);
      expect(e['STORAGE_S3_SECRET_ACCESS_KEY']).toBe(ENV.MINIO_APP_SECRET_KEY);
      expect(dictAt(service(base, name), 'depends_on', 'minio-init')).toEqual({ condition: 'service_completed_successfully' });
      // The admin's password reaches minio itself and minio-init, nothing else.
      expect(Object.values(e)).not.toContain(ENV.MINIO_ROOT_PASSWORD);
    }
    // minio-init signs in as the admin, with the password MinIO was started with.
    expect(script).toContain(`mc alias set store http://minio:9000 ${env('minio')['MINIO_ROOT_USER']} "$MINIO_ROOT_PASSWORD"`);
    expect(env('minio')['MINIO_ROOT_PASSWORD']).toBe(ENV.MINIO_ROOT_PASSWORD);
    expect(env('minio-init')).toMatchObject({
      MINIO_ROOT_PASSWORD: ENV.MINIO_ROOT_PASSWORD,
      MINIO_APP_SECRET_KEY: ENV.MINIO_APP_SECRET_KEY,
    });
    // Expiry is the bucket's lifecycle rule: no sweeper needed with S3.
    expect(script).toMatch(/"Expiration":\{"Days":1\}.*mc ilm import store\/fathom/);
    // …on a job's bytes only: deployments' weights (fathom/weights/<sha256>) never expire (ADR 0015).
    const prefixes = [...script.matchAll(/"Prefix":"([^"]*)"/g)].map((m) => m[1]);
    expect(prefixes.sort()).toEqual(['fathom/input/', 'fathom/result/']);
    expect(dictAt(init, 'depends_on', 'minio')).toEqual({ condition: 'service_healthy' });
    expect(serviceMounts(service(base, 'minio'), COMPOSE_DIR)).toEqual([
      expect.objectContaining({ source: 'minio-data', target: '/data' }),
    ]);
  });

  it("the apps' user may do what S3BlobStore does, on the bucket's objects, and nothing else", () => {
    const script = minioInitScript();
    const api = env('api');
    const bucket = api['STORAGE_S3_BUCKET'] ?? '';
    const user = api['STORAGE_S3_ACCESS_KEY_ID'] ?? '';
    // The policy file written, created under a name, attached to the apps' user.
    const [, policyJson = '', file = ''] = /echo '(\{"Version"[^']*)' > (\S+) &&/.exec(script) ?? [];
    const [, policyName = ''] = new RegExp(`mc admin policy create store (\\S+) ${file} &&`).exec(script) ?? [];
    expect({ file, policyName }).toEqual({ file: expect.stringMatching(/^\/tmp\//), policyName: expect.any(String) });
    expect(script).toContain(`mc admin policy attach store ${policyName} --user ${user}`);
    const policy = JSON.parse(policyJson) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
    const granted = policy.Statement.flatMap((st) =>
      st.Action.flatMap((action) => st.Resource.map((resource) => `${st.Effect} ${action} ${resource}`)),
    );
    expect(granted.sort()).toEqual(s3BlobStoreNeeds(bucket).sort());
    // Re-running it (every `up`) succeeds: mc refuses to attach a policy twice, which the script accepts.
    expect(script).toMatch(/\|\| case "\$attached" in \*'already in effect'\*\) ;;/);
  });

  it('the init script is valid shell once Compose has interpolated it', () => {
    const run = spawnSync('sh', ['-n', '-c', minioInitScript()], { encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('Prometheus looks up the api and worker services on the ports they listen on', () => {
    expect(dnsSd('fathom-api')).toMatchObject({ names: ['api'], type: 'A', port: Number(env('api')['API_METRICS_PORT']) });
    // Scraped from the compose network: the metrics port must not be loopback-only there.
    expect(env('api')['API_METRICS_HOST']).toBe('0.0.0.0');
    expect(dnsSd('fathom-worker')).toMatchObject({ names: ['worker'], type: 'A', port: Number(env('worker')['WORKER_METRICS_PORT']) });
    expect(service(base, 'api')['expose']).toEqual([env('api')['PORT'], env('api')['API_METRICS_PORT']]);
    expect(service(base, 'worker')['expose']).toEqual([env('worker')['WORKER_METRICS_PORT']]);
  });

  it('the worker keeps the model cache volume and the models folder, and has time to finish its jobs', () => {
    const mounts = serviceMounts(service(base, 'worker'), COMPOSE_DIR);
    expect(mounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'model-cache', target: env('worker')['MODELS_CACHE_DIR'] }),
        expect.objectContaining({ target: env('worker')['MODELS_DIR'], readOnly: true }),
      ]),
    );
    expect(service(base, 'worker')['stop_grace_period']).toBe('60s');
  });

  it('healthchecks probe the port each app listens on', () => {
    expect(listAt(service(base, 'api'), 'healthcheck', 'test').join(' ')).toContain(`127.0.0.1:${env('api')['PORT']}/healthz`);
    expect(listAt(service(base, 'worker'), 'healthcheck', 'test').join(' ')).toContain(
      `127.0.0.1:${env('worker')['WORKER_METRICS_PORT']}/metrics`,
    );
  });
});

describe('deploy/compose/nginx.conf: one entry point for every api replica', () => {
  const conf = readText('deploy', 'compose', 'nginx.conf');

  it('is mounted into the proxy and listens on the published port', () => {
    expect(serviceMounts(service(base, 'proxy'), COMPOSE_DIR)).toEqual([
      expect.objectContaining({ source: './nginx.conf', target: '/etc/nginx/nginx.conf', readOnly: true }),
    ]);
    expect(conf).toMatch(/^\s*listen 8080;/m);
  });

  it('balances over the api service re-resolved by DNS, sticky by client address for socket.io', () => {
    const upstream = /upstream fathom_api \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(upstream).toMatch(/^\s*ip_hash;/m);
    expect(upstream).toMatch(/^\s*zone \S+ \d+k;/m);
    expect(upstream).toMatch(new RegExp(`^\\s*server api:${env('api')['PORT']} resolve;`, 'm'));
    expect(conf).toMatch(/^\s*resolver 127\.0\.0\.11\b/m);
    expect(conf).toMatch(/proxy_pass http:\/\/fathom_api;/);
  });

  it('passes WebSocket upgrades and uploads as large as the API accepts', () => {
    expect(conf).toMatch(/proxy_http_version 1\.1;/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    const [, size = '0'] = /client_max_body_size (\d+)m;/.exec(conf) ?? [];
    // API_MAX_UPLOAD_BYTES defaults to 25 MiB.
    expect(Number(size)).toBeGreaterThanOrEqual(25);
  });
});

describe('deploy: Prometheus, Alertmanager, the collector and Grafana get the files they are given', () => {
  const flagValue = (name: string, flag: string) =>
    listAt(service(base, name), 'command')
      .map(String)
      .find((arg) => arg.startsWith(`${flag}=`))
      ?.slice(flag.length + 1);
  const mountTarget = (name: string, repoFile: string) => {
    for (const mount of serviceMounts(service(base, name), COMPOSE_DIR)) {
      if (!mount.hostPath) continue;
      const from = fromRoot(mount.hostPath);
      if (from === repoFile) return mount.target;
      if (repoFile.startsWith(`${from}/`)) return `${mount.target}/${repoFile.slice(from.length + 1)}`;
    }
    throw new Error(`${name} does not mount ${repoFile}`);
  };

  it('Prometheus reads deploy/prometheus/prometheus.yml, with alerts.yml beside it', () => {
    expect(flagValue('prometheus', '--config.file')).toBe(mountTarget('prometheus', 'deploy/prometheus/prometheus.yml'));
    expect(mountTarget('prometheus', 'deploy/prometheus/alerts.yml')).toBe('/etc/prometheus/alerts.yml');
  });

  it('Alertmanager reads its config; every route goes to a receiver that exists', () => {
    expect(flagValue('alertmanager', '--config.file')).toBe(mountTarget('alertmanager', 'deploy/alertmanager/alertmanager.yml'));
    const config = readYaml('deploy', 'alertmanager', 'alertmanager.yml');
    const receivers = listAt(config, 'receivers').map((r) => stringAt(r, 'name'));
    const routeReceivers = (route: unknown): string[] => [
      ...(isDict(route) && typeof route['receiver'] === 'string' ? [route['receiver']] : []),
      ...(isDict(route) && Array.isArray(route['routes']) ? (route['routes'] as unknown[]).flatMap(routeReceivers) : []),
    ];
    const used = routeReceivers(dictAt(config, 'route'));
    expect(used.length).toBeGreaterThan(0);
    for (const receiver of used) expect(receivers).toContain(receiver);
    expect(receivers).toEqual(expect.arrayContaining(['fathom-page', 'fathom-ticket']));
  });

  it('the collector reads its config: OTLP gRPC 4317 and HTTP 4318 in, traces out to Jaeger', () => {
    const command = listAt(service(base, 'otel-collector'), 'command').map(String);
    expect(command).toContain(`--config=${mountTarget('otel-collector', 'deploy/otel-collector/otel-collector.yml')}`);
    const config = readYaml('deploy', 'otel-collector', 'otel-collector.yml');
    expect(stringAt(config, 'receivers', 'otlp', 'protocols', 'grpc', 'endpoint')).toBe('0.0.0.0:4317');
    expect(stringAt(config, 'receivers', 'otlp', 'protocols', 'http', 'endpoint')).toBe('0.0.0.0:4318');
    const pipelines = dictAt(config, 'service', 'pipelines');
    expect(Object.keys(pipelines)).toContain('traces');
    for (const [pipeline, spec] of Object.entries(pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const component of isDict(spec) && Array.isArray(spec[kind]) ? (spec[kind] as string[]) : []) {
          expect({ pipeline, kind, component, defined: isDict(dictAt(config)[kind]) && component in dictAt(config, kind) }).toEqual({
            pipeline,
            kind,
            component,
            defined: true,
          });
        }
      }
    }
    const exporter = dictAt(config, 'exporters', 'otlp/jaeger');
    expect(hostPort(stringAt(exporter, 'endpoint'))).toEqual({ host: 'jaeger', port: 4317 });
    expect(listAt(pipelines, 'traces', 'exporters')).toEqual(['otlp/jaeger']);
  });

  it('Grafana: admin password from the environment, anonymous access off, provisioning mounted', () => {
    const grafanaEnv = dictAt(baseRaw, 'services', 'grafana', 'environment');
    expect(grafanaEnv['GF_SECURITY_ADMIN_PASSWORD']).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}$/);
    expect(serviceEnv(service(base, 'grafana'))['GF_SECURITY_ADMIN_PASSWORD']).toBe(ENV.GRAFANA_ADMIN_PASSWORD);
    expect(grafanaEnv['GF_AUTH_ANONYMOUS_ENABLED']).toBe('false');
    expect(mountTarget('grafana', 'deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
  });

  it('Grafana datasources: Prometheus (default), Jaeger for traces, Alertmanager — each a compose service', () => {
    const config = readYaml('deploy', 'grafana', 'provisioning', 'datasources', 'datasources.yml');
    expect(dictAt(config)['apiVersion']).toBe(1);
    const datasources = listAt(config, 'datasources').map((d) => dictAt(d));
    expect(datasources.map((d) => [d['type'], d['uid']])).toEqual([
      ['prometheus', 'prometheus'],
      ['jaeger', 'jaeger'],
      ['alertmanager', 'alertmanager'],
    ]);
    expect(datasources.filter((d) => d['isDefault'] === true).map((d) => d['uid'])).toEqual(['prometheus']);
    const ports: Record<string, number> = { prometheus: 9090, jaeger: 16686, alertmanager: 9093 };
    for (const d of datasources) {
      const { host, port } = hostPort(stringAt(d, 'url'));
      expect({ uid: d['uid'], host, port, isService: host in services(base) }).toEqual({
        uid: d['uid'],
        host,
        port: ports[String(d['uid'])],
        isService: true,
      });
    }
  });

  it('Grafana dashboards: the file provider loads deploy/grafana/dashboards, mounted read-only where it looks', () => {
    const config = readYaml('deploy', 'grafana', 'provisioning', 'dashboards', 'fathom.yml');
    expect(dictAt(config)['apiVersion']).toBe(1);
    const providers = listAt(config, 'providers').map((p) => dictAt(p));
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: 'file', folder: 'Fathom', allowUiUpdates: false });
    const dashboards = serviceMounts(service(base, 'grafana'), COMPOSE_DIR).find(
      (m) => m.hostPath && fromRoot(m.hostPath) === 'deploy/grafana/dashboards',
    );
    expect(dashboards).toMatchObject({ readOnly: true });
    expect(stringAt(providers[0], 'options', 'path')).toBe(dashboards?.target);
    if (exists(repoPath('deploy', 'grafana', 'dashboards')))
      expect(statSync(repoPath('deploy', 'grafana', 'dashboards')).isDirectory()).toBe(true);
  });
});

describe('deploy/compose/docker-compose.gpu.yml: the GPU worker', () => {
  const worker = () => service(withGpu, 'worker');

  it('builds the worker-gpu target and asks for CUDA, then CPU', () => {
    expect(dictAt(worker(), 'build')['target']).toBe('worker-gpu');
    expect(serviceEnv(worker())['ORT_EXECUTION_PROVIDERS']).toBe('cuda,cpu');
    // What the base file sets still holds.
    expect(serviceEnv(worker())['REDIS_URL']).toBe(env('worker')['REDIS_URL']);
  });

  it('reserves an NVIDIA GPU for each replica', () => {
    expect(listAt(worker(), 'deploy', 'resources', 'reservations', 'devices')).toEqual([
      expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] }),
    ]);
  });
});

describe('Dockerfile: small, unprivileged images for api, worker and the GPU worker', () => {
  const { stages } = parseDockerfile(readText('Dockerfile'));
  const instructions = (target: string) => stageChain(stages, target).flatMap((s) => s.instructions);

  it('has the api, worker and worker-gpu targets; a plain build gives the API', () => {
    for (const target of ['api', 'worker', 'worker-gpu']) expect(stages.map((s) => s.name)).toContain(target);
    expect(stages.at(-1)?.name).toBe('api');
  });

  it.each(['api', 'worker', 'worker-gpu'])('%s runs as a non-root user and starts its app', (target) => {
    const chain = stageChain(stages, target);
    const user = chain.flatMap((s) => s.instructions.filter((i) => i.keyword === 'USER'))[0]?.args;
    expect({ target, user }).toEqual({ target, user: expect.stringMatching(/^(?!root\b|0\b)\S+$/) });
    const cmd = chain.flatMap((s) => s.instructions.filter((i) => i.keyword === 'CMD'))[0]?.args ?? '';
    const app = target === 'api' ? 'api' : 'worker';
    expect(JSON.parse(cmd)).toEqual(['node', `dist/apps/${app}/src/main.js`]);
  });

  it('every base image is pinned to a version', () => {
    for (const stage of stages) {
      if (stages.some((s) => s.name === stage.from)) continue;
      expect({ from: stage.from, pinned: isPinnedImage(stage.from) }).toEqual({ from: stage.from, pinned: true });
    }
  });

  it('the runtime images copy production dependencies only, and the compiled code', () => {
    for (const target of ['api', 'worker', 'worker-gpu']) {
      const copies = instructions(target).filter((i) => i.keyword === 'COPY' && i.args.includes('node_modules'));
      expect({ target, copies: copies.map((c) => /--from=(\S+)/.exec(c.args)?.[1]) }).toEqual({
        target,
        copies: [target === 'worker-gpu' ? 'prod-deps-cuda' : 'prod-deps'],
      });
    }
    for (const deps of ['prod-deps', 'prod-deps-cuda']) {
      const run =
        stageChain(stages, deps)
          .flatMap((s) => s.instructions)
          .find((i) => i.keyword === 'RUN')?.args ?? '';
      expect(run).toMatch(/npm ci --omit=dev/);
    }
  });

  it('the GPU worker: NVIDIA CUDA 12 runtime with cuDNN, Node 20, onnxruntime-node with its cuda12 binaries, cuda then cpu', () => {
    const gpu = stageChain(stages, 'worker-gpu');
    expect(gpu.at(-1)?.from).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn\d*-runtime-ubuntu\d+\.\d+$/);
    const nodeCopy = gpu[0]?.instructions.find((i) => i.keyword === 'COPY' && i.args.includes('/usr/local/bin/node'));
    const nodeStage = stages.find((s) => s.name === /--from=(\S+)/.exec(nodeCopy?.args ?? '')?.[1]);
    expect(nodeStage?.from).toMatch(/^node:20\.\d+\.\d+-/);
    const cudaDeps = stageChain(stages, 'prod-deps-cuda').flatMap((s) => s.instructions);
    expect(cudaDeps.find((i) => i.keyword === 'RUN')?.args).toMatch(/npm ci [^&]*--onnxruntime-node-install=cuda12/);
    expect(
      gpu[0]?.instructions
        .filter((i) => i.keyword === 'ENV')
        .map((i) => i.args)
        .join(' '),
    ).toMatch(/ORT_EXECUTION_PROVIDERS=cuda,cpu/);
  });

  it('the build stage gets everything npm run build reads, and .dockerignore keeps none of it out', () => {
    const copied = stageChain(stages, 'build')
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const ignore = dockerIgnorePatterns();
    // tsconfig's sources, and what tools/copy-assets.js copies into dist/.
    for (const needed of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'tsconfig.json',
      'nest-cli.json',
      'apps',
      'libs',
      'tools',
      'tools/copy-assets.js',
      'libs/models/manifests',
      'apps/api/src/web/public',
    ]) {
      const covered = copied.some((c) => needed === c || needed.startsWith(`${c}/`));
      expect({ needed, covered, ignored: dockerIgnored(ignore, needed), exists: exists(repoPath(needed)) }).toEqual({
        needed,
        covered: true,
        ignored: false,
        exists: true,
      });
    }
    for (const kept of ['node_modules', 'dist', '.git', 'test', 'apps/api/src/jobs/jobs.controller.spec.ts'])
      expect({ kept, ignored: dockerIgnored(ignore, kept) }).toEqual({ kept, ignored: true });
    expect(exists(join(COMPOSE_DIR, '..', '..', 'Dockerfile'))).toBe(true);
  });
});
