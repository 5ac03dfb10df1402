import { inputFeaturesSchema, OUTPUT_FEATURE_SHAPES, stageTimingsSchema, HISTOGRAM_BINS } from '@fathom/contracts';
import type { PredictionRow } from '@fathom/database';

/** One CSV column: its header and how a row's cell is read. */
interface Column {
  header: string;
  value(row: PredictionRow): unknown;
}

const CHANNELS = ['r', 'g', 'b'] as const;

const ROW_FIELDS = [
  'jobId',
  'finishedAt',
  'submittedAt',
  'model',
  'version',
  'variant',
  'route',
  'task',
  'keyId',
  'status',
  'errorCode',
  'purpose',
  'evaluationId',
  'executionProvider',
  'traceId',
] as const satisfies readonly (keyof PredictionRow)[];

/**
 * The export's CSV columns (GET /v1/predictions?format=csv), derived from the contracts so a new
 * feature or task adds its column: the row's facts, `timings.<stage>` in milliseconds,
 * `input.<feature>`, the colour histogram as 24 columns `input.histogram.r0` … `b7` (bin b of a
 * channel holds values 32·b … 32·b + 31), `output.task` and the union of every task's output
 * features (`output.<feature>`, empty where the row's task has none; segmentation's `shares` as one
 * JSON cell), then the owner's feedback.
 */
export const PREDICTION_CSV_COLUMNS: readonly Column[] = [
  ...ROW_FIELDS.map((field) => ({ header: field, value: (row: PredictionRow) => row[field] })),
  ...Object.keys(stageTimingsSchema.shape).map((stage) => ({
    header: `timings.${stage}`,
    value: (row: PredictionRow) => row.timings?.[stage],
  })),
  ...Object.keys(inputFeaturesSchema.shape)
    .filter((feature) => feature !== 'histogram')
    .map((feature) => ({
      header: `input.${feature}`,
      value: (row: PredictionRow) => (row.inputFeatures as Record<string, unknown> | null)?.[feature],
    })),
  ...CHANNELS.flatMap((channel, c) =>
    Array.from({ length: HISTOGRAM_BINS }, (_, bin) => ({
      header: `input.histogram.${channel}${bin}`,
      value: (row: PredictionRow) => row.inputFeatures?.histogram[c * HISTOGRAM_BINS + bin],
    })),
  ),
  { header: 'output.task', value: (row: PredictionRow) => row.outputFeatures?.task },
  ...[...new Set(Object.values(OUTPUT_FEATURE_SHAPES).flatMap((shape) => Object.keys(shape)))].map((feature) => ({
    header: `output.${feature}`,
    value: (row: PredictionRow) => (row.outputFeatures as Record<string, unknown> | null)?.[feature],
  })),
  { header: 'feedback.rating', value: (row: PredictionRow) => row.feedback?.rating },
  { header: 'feedback.comment', value: (row: PredictionRow) => row.feedback?.comment },
  { header: 'feedback.correction', value: (row: PredictionRow) => row.feedback?.correction },
  { header: 'feedback.at', value: (row: PredictionRow) => row.feedback?.at },
  { header: 'feedback.by', value: (row: PredictionRow) => row.feedback?.by },
];

/** The header row, CRLF-terminated (RFC 4180). */
export function csvHeader(): string {
  return `${PREDICTION_CSV_COLUMNS.map((column) => csvCell(column.header)).join(',')}\r\n`;
}

/** One prediction as a CSV record, CRLF-terminated. */
export function csvRecord(row: PredictionRow): string {
  return `${PREDICTION_CSV_COLUMNS.map((column) => csvCell(column.value(row))).join(',')}\r\n`;
}

/** Cells a spreadsheet would run as a formula (OWASP's CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A value as a CSV cell: empty for null and undefined, numbers as JavaScript writes them, objects
 * as JSON; quoted when it holds a comma, quote or line break (quotes doubled). A text that a
 * spreadsheet would take for a formula (a feedback comment starting with "=") gets a leading "'".
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
