import { ErrorCode, FathomError, HISTOGRAM_LENGTH } from '@fathom/contracts';
import type { PredictionRow } from '@fathom/database';
import { negotiateFormat, parsePredictionQuery } from './dto/prediction-query.dto';
import { csvCell, csvHeader, csvRecord, PREDICTION_CSV_COLUMNS } from './prediction-csv';

const row: PredictionRow = {
  jobId: 'j1',
  finishedAt: '2026-12-07T12:00:00.000Z',
  submittedAt: null,
  model: 'segment',
  version: '1.0.0',
  variant: null,
  route: 'stable',
  task: 'segmentation',
  keyId: 'k1',
  status: 'completed',
  errorCode: null,
  timings: { queueWait: 5, inference: 40.5, total: 60 },
  executionProvider: 'cpu',
  traceId: null,
  inputFeatures: null,
  outputFeatures: { task: 'segmentation', shares: { sky: 0.75, road: 0.25 }, topLabel: 'sky', topShare: 0.75, classesPresent: 2 },
  evaluationId: null,
  purpose: 'production',
  feedback: { rating: 'down', comment: '=HYPERLINK("x"), wrong', correction: { label: 'road' }, at: '2026-12-07T12:01:00.000Z', by: 'k1' },
};

describe('the CSV export', () => {
  it('quotes what RFC 4180 needs quoted and leaves the rest as is', () => {
    expect([null, undefined, 0, 1.5, true, 'plain', 'a,b', 'say "hi"', 'two\nlines'].map(csvCell)).toEqual([
      '',
      '',
      '0',
      '1.5',
      'true',
      'plain',
      '"a,b"',
      '"say ""hi"""',
      '"two\nlines"',
    ]);
  });

  it('writes text a spreadsheet would run as a formula with a leading quote, never a number', () => {
    expect(['=1+1', '+1', '-x', '@SUM(A1)', 'fine=1'].map(csvCell)).toEqual(["'=1+1", "'+1", "'-x", "'@SUM(A1)", 'fine=1']);
    expect(csvCell(-2)).toBe('-2');
  });

  it('has one header per column, the histogram as 24 of them, and a record as wide as the header', () => {
    const headers = PREDICTION_CSV_COLUMNS.map((column) => column.header);
    expect(new Set(headers).size).toBe(headers.length);
    expect(headers.filter((header) => header.startsWith('input.histogram.'))).toHaveLength(HISTOGRAM_LENGTH);
    expect(csvHeader()).toBe(`${headers.join(',')}\r\n`);
    const cells = Object.fromEntries(
      PREDICTION_CSV_COLUMNS.map((column) => [column.header, csvCell(column.value(row))] as [string, string]),
    );
    expect(cells).toMatchObject({
      jobId: 'j1',
      submittedAt: '',
      'timings.inference': '40.5',
      'timings.decode': '',
      'input.meanLuma': '',
      'output.task': 'segmentation',
      'output.shares': '"{""sky"":0.75,""road"":0.25}"',
      'output.topLabel': 'sky',
      'output.range': '',
      'feedback.rating': 'down',
      'feedback.comment': `"'=HYPERLINK(""x""), wrong"`,
      'feedback.correction': '"{""label"":""road""}"',
    });
    expect(csvRecord(row)).toBe(`${Object.values(cells).join(',')}\r\n`);
  });
});

describe('GET /v1/predictions query', () => {
  const refusal = (query: unknown) => {
    try {
      parsePredictionQuery(query);
    } catch (error) {
      if (error instanceof FathomError) return [error.code, error.message];
    }
    return undefined;
  };

  it('reads the filter and coerces the limit', () => {
    expect(parsePredictionQuery({ model: 'depth', from: '2026-12-01T00:00:00+01:00', limit: '10', purpose: 'production' })).toEqual({
      model: 'depth',
      from: '2026-12-01T00:00:00+01:00',
      limit: 10,
      purpose: 'production',
    });
    expect(parsePredictionQuery(undefined)).toEqual({});
  });

  it('refuses with invalid_request naming the parameter and what to send', () => {
    expect(refusal({ limit: '0' })).toEqual([ErrorCode.InvalidRequest, expect.stringMatching(/^Query parameter "limit" .* 1 to 1000/)]);
    expect(refusal({ to: '2026-12-01' })).toEqual([
      ErrorCode.InvalidRequest,
      expect.stringMatching(/"to" .*ISO 8601 time with its offset/),
    ]);
    expect(refusal({ model: ['a', 'b'] })).toEqual([ErrorCode.InvalidRequest, expect.stringMatching(/"model" .*a model name, once/)]);
    expect(refusal({ stats: 'failed' })).toEqual([
      ErrorCode.InvalidRequest,
      expect.stringMatching(/Unknown query parameter "stats": send only model, version/),
    ]);
    expect(refusal({ from: '2026-12-01T00:00:00Z', to: '2026-12-01T00:00:00Z' })).toEqual([
      ErrorCode.InvalidRequest,
      expect.stringMatching(/"from" .* must be before "to"/),
    ]);
  });

  it('takes the format from the query, else the most wanted of JSON, NDJSON and CSV in Accept, else JSON', () => {
    expect(negotiateFormat('csv', 'application/x-ndjson')).toBe('csv');
    expect(negotiateFormat(undefined, 'text/csv')).toBe('csv');
    expect(negotiateFormat(undefined, 'application/json;q=0.5, application/x-ndjson')).toBe('ndjson');
    expect(negotiateFormat(undefined, 'text/csv;q=0.2, application/json;q=0.9')).toBe('json');
    expect(negotiateFormat(undefined, 'text/csv;q=0')).toBe('json');
    expect(negotiateFormat(undefined, 'text/html,*/*;q=0.8')).toBe('json');
    expect(negotiateFormat(undefined, undefined)).toBe('json');
  });
});
