import sharp from 'sharp';
import type { ComparisonView, EvaluationView, SampleResult } from '@fathom/contracts';
import { formatNumber, MAX_SAMPLE_ROWS, renderReport, worstFirst, type WorstSample } from './render-report';
import { renderPanels } from './sample-panels';

const HOSTILE_ID = '<script>alert("owned")</script>&\'';

function depthEvaluation(overrides: Partial<EvaluationView> = {}): EvaluationView {
  return {
    id: 'ev_123',
    state: 'completed',
    dataset: { id: 'ds_1', name: 'middlebury-2014', version: '1', task: 'depth', samples: 3 },
    model: { reference: 'depth@canary', name: 'depth', version: '2.1.0' },
    executionProviders: ['cpu'],
    progress: { total: 3, done: 3, failed: 1 },
    metrics: {
      absRel: 0.08123456,
      sqRel: 0.5,
      rmse: 1.23456,
      rmseLog: 0.1,
      log10: 0.03,
      silog: 9.87654,
      delta1: 0.9,
      delta2: 0.97,
      delta3: 0.99,
    },
    details: null,
    latency: { queueWait: { p50: 12.34, p95: 250.6 }, total: { p50: 180, p95: 420 } },
    throughput: 5.4321,
    error: null,
    createdAt: '2026-12-07T10:00:00.000Z',
    createdBy: 'key:ops',
    startedAt: '2026-12-07T10:00:01.000Z',
    finishedAt: '2026-12-07T10:01:31.000Z',
    links: { self: '/v1/evaluations/ev_123', report: '/v1/evaluations/ev_123/report', samples: '/v1/evaluations/ev_123/samples' },
    ...overrides,
  };
}

function sample(index: number, name: string, absRel: number | null, state: SampleResult['state'] = 'scored'): SampleResult {
  return {
    index,
    sample: name,
    jobId: `job-${index}`,
    state,
    metrics: absRel === null ? null : { absRel, delta1: 1 - absRel },
    error: state === 'failed' ? 'the worker could not decode <the image>' : null,
    timings: null,
  };
}

async function depthWorst(result: SampleResult): Promise<WorstSample> {
  const width = 16;
  const height = 12;
  const depth = Float32Array.from({ length: width * height }, (_, i) => 1 + (i % width) / 4);
  const image = await sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const values = Float32Array.from(depth, (d, i) => 1 / d + 0.02 * Math.sin(i));
  return {
    sample: result,
    panels: await renderPanels('depth', { image, prediction: { width, height, values }, truth: { width, height, depth }, options: {} }),
  };
}

describe('the evaluation report', () => {
  const samples = [sample(0, 'motorcycle-left', 0.05), sample(1, HOSTILE_ID, 0.31), sample(2, 'broken', null, 'failed')];

  it('shows the run and its aggregate metrics, labelled, formatted, with which direction is better', async () => {
    const html = renderReport({
      evaluation: depthEvaluation(),
      samples,
      worst: [await depthWorst(samples[1]!)],
      generatedAt: new Date('2026-12-07T10:02:00Z'),
    });
    expect(html).toContain('<h1>depth@2.1.0 on middlebury-2014@1</h1>');
    expect(html).toContain('<th scope="row">AbsRel</th><td class="num">0.08123</td><td class="hint">↓ lower is better</td>');
    expect(html).toContain('<th scope="row">δ&lt;1.25</th><td class="num">0.9</td><td class="hint">↑ higher is better</td>');
    expect(html).toContain('<th scope="row">RMSE</th><td class="num">1.235</td>');
    expect(html).toContain('<th scope="row">SILog</th><td class="num">9.877</td>');
    expect(html).toContain('<dt>execution providers</dt><dd>cpu</dd>');
    expect(html).toContain('<dt>samples</dt><dd>3 of 3 done, 1 failed</dd>');
    expect(html).toContain('<dt>took</dt><dd>1 min 30 s</dd>');
    expect(html).toContain('<th scope="row">queueWait</th><td class="num">12.3</td><td class="num">251</td>');
    expect(html).toContain('<strong>5.432</strong> images per second');
    expect(html).toContain('report generated</dt><dd>2026-12-07 10:02:00 UTC</dd>');
  });

  it('escapes every text from outside: a sample named <script> stays text', async () => {
    const html = renderReport({ evaluation: depthEvaluation(), samples, worst: [await depthWorst(samples[1]!)], generatedAt: new Date() });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<the image>');
    expect(html).toContain('&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;&amp;&#39;');
    expect(html).toContain('the worker could not decode &lt;the image&gt;');
  });

  it('is self-contained: every picture is a data: URI and nothing points at http(s)', async () => {
    const worst = [await depthWorst(samples[1]!), await depthWorst(samples[0]!)];
    const html = renderReport({ evaluation: depthEvaluation(), samples, worst, generatedAt: new Date() });
    const sources = [...html.matchAll(/<img[^>]* src="([^"]*)"/g)].map((m) => m[1]!);
    expect(sources).toHaveLength(8); // two samples × input, prediction, truth, error
    for (const src of sources) expect(src).toMatch(/^data:image\/(png|jpeg);base64,[A-Za-z0-9+/]+=*$/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(script|link|iframe)\b/);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">`,
    );
  });

  it('lists every sample worst first — failed, then the highest AbsRel — and caps the table with a note', () => {
    expect(worstFirst('depth', samples).map((s) => s.index)).toEqual([2, 1, 0]);
    const many = Array.from({ length: MAX_SAMPLE_ROWS + 100 }, (_, i) => sample(i, `s${i}`, i / 1000));
    const html = renderReport({ evaluation: depthEvaluation(), samples: many, worst: [], generatedAt: new Date() });
    const rows = html.slice(html.indexOf('id="samples-table"')).match(/<tr class="state-/g) ?? [];
    expect(rows).toHaveLength(MAX_SAMPLE_ROWS);
    expect(html).toContain("The 500 worst of 600 samples; every sample is in the evaluation's samples.jsonl.");
    // The worst (AbsRel 0.599) leads; the best 100 are left out.
    expect(html.match(/id="samples-table">.*?<td class="id">([^<]*)<\/td>/s)?.[1]).toBe('s599');
    expect(html).not.toContain('<td class="id">s99</td>');
  });

  it('draws segmentation details: IoU per class and a confusion matrix with its labels', () => {
    const evaluation = depthEvaluation({
      dataset: { id: 'ds_2', name: 'shapes', version: '1', task: 'segmentation', samples: 2 },
      metrics: { mIoU: 0.625, pixelAccuracy: 0.875 },
      details: {
        perClassIoU: { background: 0.75, cat: 0.5 },
        confusionMatrix: {
          labels: ['background', 'cat'],
          matrix: [
            [30, 2],
            [4, 12],
          ],
        },
      },
    });
    const html = renderReport({ evaluation, samples: [], worst: [], generatedAt: new Date() });
    expect(html).toContain('<th scope="row">mIoU</th><td class="num">0.625</td>');
    expect(html).toContain('<h3>per class IoU</h3>');
    expect(html).toContain('<th scope="row">cat</th><td class="num">0.5</td>');
    expect(html).toContain('<th scope="row">cat</th><td class="num">4</td><td class="num diagonal">12</td>');
  });

  it('shows a comparison with its interval and verdict', () => {
    const comparison: ComparisonView = {
      dataset: { name: 'middlebury-2014', version: '1', task: 'depth' },
      a: { evaluation: 'ev_1', model: 'depth@1.0.0', failed: 0 },
      b: { evaluation: 'ev_123', model: 'depth@2.1.0', failed: 0 },
      pairs: 3,
      resamples: 2000,
      metrics: [{ metric: 'absRel', better: 'lower', a: 0.1, b: 0.08123456, delta: -0.01876544, ci95: [-0.03, -0.005], verdict: 'better' }],
    };
    const html = renderReport({ evaluation: depthEvaluation(), samples, worst: [], comparison, generatedAt: new Date() });
    expect(html).toContain(
      '<th scope="row">AbsRel</th><td class="verdict verdict-better">better</td><td class="num">0.1</td><td class="num">0.08123</td><td class="num">-0.01877</td><td class="num">[-0.03, -0.005]</td>',
    );
  });

  it('says so when the run has no metrics yet', () => {
    const html = renderReport({
      evaluation: depthEvaluation({ state: 'running', metrics: null, finishedAt: null }),
      samples: [],
      worst: [],
      generatedAt: new Date(),
    });
    expect(html).toContain('No metrics yet: the evaluation has not finished.');
    expect(html).toContain('<dt>finished</dt><dd>not yet</dd>');
  });

  it('formats numbers to four significant figures', () => {
    expect([0.08123456, 1.23456, 31.2345, 1234.5, 7, 0.00001234, NaN, Infinity].map(formatNumber)).toEqual([
      '0.08123',
      '1.235',
      '31.23',
      '1235',
      '7',
      '1.23e-5',
      'n/a',
      '∞',
    ]);
  });
});
