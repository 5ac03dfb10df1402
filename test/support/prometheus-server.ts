import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '@fathom/testing';

/** One `/metrics` endpoint to scrape, under a Prometheus job name (`fathom-api`, `fathom-worker`). */
export interface ScrapeTarget {
  job: string;
  /** The endpoint, e.g. `http://127.0.0.1:40123/metrics`. */
  url: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The JSON of `GET /api/v1/query` for an instant vector, or an error (a parse error is `bad_data`). */
export interface PromQueryResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: PromSample[] };
  errorType?: string;
  error?: string;
}

export interface PrometheusServer {
  url: string;
  /** Instant query at now through the HTTP API. */
  query(expr: string): Promise<PromQueryResponse>;
  /** `GET /api/v1/label/<label>/values?match[]=<selector>`: what a Grafana `label_values()` variable lists. */
  labelValues(label: string, match: string): Promise<string[]>;
  output(): string;
  stop(): Promise<void>;
}

const PROMETHEUS_MISSING =
  'prometheus is not on the PATH. Install Debian\'s "prometheus" package (sudo apt-get install --no-install-recommends prometheus); ' +
  '.ci/run installs it when it is missing.';

/**
 * A real Prometheus server on a free port with a temporary config and TSDB, scraping `targets`
 * every `scrapeIntervalS` seconds. A missing binary is a failure that says how to install it, never
 * a skip.
 */
export async function startPrometheus(targets: ScrapeTarget[], opts: { scrapeIntervalS?: number } = {}): Promise<PrometheusServer> {
  if (spawnSync('sh', ['-c', 'command -v prometheus'], { stdio: 'ignore' }).status !== 0) throw new Error(PROMETHEUS_MISSING);
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  const dir = mkdtempSync(join(tmpdir(), 'fathom-prometheus-'));
  const jobs = [...new Set(targets.map((t) => t.job))];
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: jobs.map((job) => {
      const mine = targets.filter((t) => t.job === job).map((t) => new URL(t.url));
      const paths = [...new Set(mine.map((u) => u.pathname))];
      if (paths.length !== 1) throw new Error(`targets of job ${job} must share one metrics path, got ${paths.join(', ')}`);
      return { job_name: job, metrics_path: paths[0], static_configs: [{ targets: mine.map((u) => u.host) }] };
    }),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => (child.kill('SIGKILL'), resolve()), 10_000);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await pollUntil(
      'Prometheus to answer /-/ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}:\n${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    output: () => log,
    stop,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
      return (await response.json()) as PromQueryResponse;
    },
    async labelValues(label, match) {
      const response = await fetch(
        `${url}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match }).toString()}`,
      );
      const body = (await response.json()) as { status: string; data?: string[]; error?: string };
      if (body.status !== 'success') throw new Error(`label values of ${label} for ${match}: ${body.error ?? response.status}`);
      return body.data ?? [];
    },
  };
}

/**
 * Calls `check` every `intervalMs` until it returns true; fails after `timeoutMs` naming what it
 * waited for. For waiting on an outside process's state (Prometheus's scrapes), which sends no event.
 */
export async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
