import {
  dictAt,
  expectSuccess,
  isDict,
  listAt,
  markdownAnchors,
  headingAnchor,
  promtool,
  readText,
  readYaml,
  repoPath,
  stringAt,
} from './deploy-files';

/**
 * The Prometheus config and alert rules the compose stack loads, checked by Prometheus's own tool
 * (Debian package `prometheus`; .ci/run installs it), and the rules' contract with the runbooks
 * and the metric names in docs/metrics.md.
 */
const PROMETHEUS_DIR = repoPath('deploy', 'prometheus');

interface AlertRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const groups = listAt(readYaml('deploy', 'prometheus', 'alerts.yml'), 'groups');
  return groups.flatMap((group) =>
    listAt(group, 'rules')
      .filter((rule) => isDict(rule) && typeof rule['alert'] === 'string')
      .map((rule) => ({
        alert: stringAt(rule, 'alert'),
        expr: stringAt(rule, 'expr'),
        labels: (isDict(rule) && isDict(rule['labels']) ? rule['labels'] : {}) as Record<string, string>,
        annotations: (isDict(rule) && isDict(rule['annotations']) ? rule['annotations'] : {}) as Record<string, string>,
      })),
  );
}

describe('Prometheus config and alert rules (promtool)', () => {
  it('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const result = promtool(['check', 'config', 'prometheus.yml'], PROMETHEUS_DIR);
    expectSuccess('promtool check config deploy/prometheus/prometheus.yml', result);
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('promtool check rules accepts alerts.yml', () => {
    const result = promtool(['check', 'rules', 'alerts.yml'], PROMETHEUS_DIR);
    expectSuccess('promtool check rules deploy/prometheus/alerts.yml', result);
    expect(result.output).toMatch(new RegExp(`SUCCESS: ${alertRules().length} rules found`));
  });

  it('promtool test rules passes every case in alerts.test.yml', () => {
    const result = promtool(['test', 'rules', 'alerts.test.yml'], PROMETHEUS_DIR);
    expectSuccess('promtool test rules deploy/prometheus/alerts.test.yml', result);
    expect(result.output).toMatch(/SUCCESS/);
  });
});

describe('alert rules: what an operator gets with each alert', () => {
  const rules = alertRules();

  it('cover every alert the observability and drift issues ask for, and the ones review added (a full queue, HTTP 5xx)', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'FathomDriftMonitorStalled',
        'FathomExecutionProviderFallback',
        'FathomFailureSpike',
        'FathomHighErrorRatio',
        'FathomHighHttpErrorRatio',
        'FathomInputDrift',
        'FathomJobLatencyHigh',
        'FathomNoInstanceUp',
        'FathomNoWorkerForModel',
        'FathomOutputDrift',
        'FathomPredictionLogBacklog',
        'FathomPredictionsDropped',
        'FathomQueueBacklogGrowing',
        'FathomQueueFull',
        'FathomQueueOldestJobTooOld',
        'FathomScrapeTargetDown',
        'FathomUnusualInputSize',
        'FathomWorkerRestarting',
      ].sort(),
    );
  });

  it('each has a severity, a summary, a description and a runbook_url into docs/runbooks.md that exists', () => {
    const anchors = markdownAnchors(readText('docs', 'runbooks.md'));
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels['severity'] }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect({ alert: rule.alert, summary: rule.annotations['summary'], description: rule.annotations['description'] }).toEqual({
        alert: rule.alert,
        summary: expect.stringMatching(/\S/),
        description: expect.stringMatching(/\S{10}/),
      });
      const anchor = headingAnchor(rule.alert);
      expect({ alert: rule.alert, runbook_url: rule.annotations['runbook_url'] }).toEqual({
        alert: rule.alert,
        runbook_url: `docs/runbooks.md#${anchor}`,
      });
      expect({ alert: rule.alert, sectionInRunbooks: anchors.has(anchor) }).toEqual({ alert: rule.alert, sectionInRunbooks: true });
    }
  });

  it('every runbook section for an alert has its rule (no stale runbooks)', () => {
    const headings = [...readText('docs', 'runbooks.md').matchAll(/^## (Fathom\w+)\s*$/gm)].map((m) => m[1]);
    expect(headings.sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('every alert has a unit test where it fires and one where it stays quiet', () => {
    const cases = listAt(readYaml('deploy', 'prometheus', 'alerts.test.yml'), 'tests').flatMap((test) =>
      listAt(test, 'alert_rule_test').map((c) => ({ alert: stringAt(c, 'alertname'), expected: listAt(c, 'exp_alerts').length })),
    );
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alert === rule.alert);
      expect({ alert: rule.alert, fires: mine.some((c) => c.expected > 0), quiet: mine.some((c) => c.expected === 0) }).toEqual({
        alert: rule.alert,
        fires: true,
        quiet: true,
      });
    }
  });

  it('use only metrics that docs/metrics.md defines, and the scrape jobs prometheus.yml defines', () => {
    const metricsDoc = readText('docs', 'metrics.md');
    const jobs = listAt(readYaml('deploy', 'prometheus', 'prometheus.yml'), 'scrape_configs').map((c) => stringAt(c, 'job_name'));
    for (const rule of rules) {
      for (const [name] of rule.expr.matchAll(/\b(?:fathom|process|nodejs)_[a-z0-9_]+\b/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        expect({ alert: rule.alert, metric: name, inMetricsDoc: metricsDoc.includes(base) }).toEqual({
          alert: rule.alert,
          metric: name,
          inMetricsDoc: true,
        });
      }
      for (const [, job] of rule.expr.matchAll(/\bjob="([^"]+)"/g)) {
        expect({ alert: rule.alert, job, scraped: jobs.includes(job!) }).toEqual({ alert: rule.alert, job, scraped: true });
      }
    }
  });

  it('aggregate the API’s shared queue and worker gauges with max by, never summing replicas', () => {
    const shared = ['fathom_queue_jobs', 'fathom_queue_oldest_waiting_age_seconds', 'fathom_workers_online'];
    for (const rule of rules) {
      for (const metric of shared) {
        const uses = rule.expr.split(metric).length - 1;
        const underMax = [...rule.expr.matchAll(new RegExp(`max by \\([\\w, ]+\\) \\((?:\\s*deriv\\()?\\s*${metric}\\{`, 'g'))].length;
        expect({ alert: rule.alert, metric, uses, underMax }).toEqual({ alert: rule.alert, metric, uses, underMax: uses });
      }
    }
  });
  it('count dropped prediction-log records once: the stream’s cluster-wide total under max by, the workers’ own summed', () => {
    const dropped = rules.find((r) => r.alert === 'FathomPredictionsDropped')!.expr;
    const stream = 'fathom_predictions_dropped_total{job="fathom-api", stage="stream"}';
    expect(dropped.split(stream).length - 1).toBe(1);
    expect(dropped).toContain(`max by (stage) (increase(${stream}[10m]))`);
    expect(dropped).toMatch(/sum by \(stage\) \(\s*\(\s*fathom_predictions_dropped_total\{job="fathom-worker", stage="worker"\}/);
  });
});

describe('prometheus.yml discovers the replicas and loads the rules', () => {
  const config = readYaml('deploy', 'prometheus', 'prometheus.yml');
  const scrape = (job: string) => {
    const found = listAt(config, 'scrape_configs').find((c) => isDict(c) && c['job_name'] === job);
    if (!found) throw new Error(`no scrape config ${job}`);
    return found;
  };

  it.each([
    ['fathom-api', 'api', 9463],
    ['fathom-worker', 'worker', 9464],
  ])('%s: DNS service discovery (type A) on the compose service %s, port %d', (job, service, port) => {
    const sd = listAt(scrape(job), 'dns_sd_configs');
    expect(sd).toEqual([expect.objectContaining({ names: [service], type: 'A', port })]);
    expect(dictAt(scrape(job))['static_configs']).toBeUndefined();
  });

  it('loads alerts.yml and sends alerts to Alertmanager', () => {
    expect(listAt(config, 'rule_files')).toEqual(['alerts.yml']);
    const targets = listAt(config, 'alerting', 'alertmanagers').flatMap((am) =>
      listAt(am, 'static_configs').flatMap((sc) => listAt(sc, 'targets')),
    );
    expect(targets).toEqual(['alertmanager:9093']);
  });
});
