import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import {
  ErrorCode,
  FathomError,
  predictionPurposeSchema,
  predictionRecordSchema,
  predictionStatusSchema,
  feedbackRatingSchema,
} from '@fathom/contracts';

export const EXPORT_FORMATS = ['json', 'ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Rows per JSON page unless `limit` says otherwise, and the most one page holds. */
export const DEFAULT_PAGE_ROWS = 100;
export const MAX_PAGE_ROWS = 1000;

const isoTime = z.iso.datetime({ offset: true });

/** GET /v1/predictions's query: the filter, a JSON page's size and cursor, the format. */
const predictionQueryShape = {
  model: z.string().min(1).max(200),
  version: z.string().min(1).max(200),
  from: isoTime,
  to: isoTime,
  status: predictionStatusSchema,
  purpose: predictionPurposeSchema,
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_ROWS),
  cursor: z.string().min(1).max(1000),
  format: z.enum(EXPORT_FORMATS),
};
type QueryParameter = keyof typeof predictionQueryShape;
const predictionQuerySchema = z.object(predictionQueryShape).partial().strict();
export type PredictionQuery = z.infer<typeof predictionQuerySchema>;

/** What to send instead, per parameter: the message of a 400 names the parameter and this. */
const EXPECTED: Record<QueryParameter, string> = {
  model: 'a model name, once',
  version: 'a version string, once',
  from: 'an ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00Z (encode "+" as %2B)',
  to: 'an ISO 8601 time with its offset, e.g. 2026-12-08T00:00:00Z (encode "+" as %2B)',
  status: `one of ${predictionStatusSchema.options.join(', ')}`,
  purpose: `one of ${predictionPurposeSchema.options.join(', ')} (leave it out for all)`,
  limit: `a whole number of rows per page, 1 to ${MAX_PAGE_ROWS} (default ${DEFAULT_PAGE_ROWS})`,
  cursor: 'the `next` of the previous page',
  format: `one of ${EXPORT_FORMATS.join(', ')} (or an Accept header: application/json, application/x-ndjson, text/csv)`,
};

const invalid = (message: string, details?: unknown) => new FathomError(ErrorCode.InvalidRequest, message, details);

/**
 * Reads the query, or throws 400 invalid_request naming the parameter and what to send instead:
 * unknown parameters too (a misspelt filter would otherwise export the whole log), and a window
 * whose `from` is not before its `to`.
 */
export function parsePredictionQuery(query: unknown): PredictionQuery {
  const parsed = predictionQuerySchema.safeParse(query ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const details = parsed.error.issues.map(({ path, message }) => ({ path, message }));
    if (issue.code === 'unrecognized_keys') {
      throw invalid(
        `Unknown query parameter ${issue.keys.map((key) => `"${key}"`).join(', ')}: send only ${Object.keys(predictionQueryShape).join(', ')}.`,
        details,
      );
    }
    const parameter = String(issue.path[0]) as QueryParameter;
    throw invalid(`Query parameter "${parameter}" is not valid (${issue.message}): send ${EXPECTED[parameter]}.`, details);
  }
  const { from, to } = parsed.data;
  if (from !== undefined && to !== undefined && new Date(from).getTime() >= new Date(to).getTime()) {
    throw invalid(`"from" (${from}) must be before "to" (${to}): the window holds rows that finished at or after "from" and before "to".`);
  }
  return parsed.data;
}

const MEDIA_TYPES: Record<string, ExportFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'text/csv': 'csv',
};

/** `format` when given, else the Accept header's most wanted of JSON, NDJSON and CSV (by q), else JSON. */
export function negotiateFormat(format: ExportFormat | undefined, accept: string | undefined): ExportFormat {
  if (format !== undefined) return format;
  let best: { format: ExportFormat; q: number } | undefined;
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const candidate = MEDIA_TYPES[type];
    if (candidate === undefined) continue;
    const q = Number(params.find((param) => param.startsWith('q='))?.slice(2) ?? 1);
    if (q > 0 && (best === undefined || q > best.q)) best = { format: candidate, q };
  }
  return best?.format ?? 'json';
}

/** A row of the log as the export sends it. */
const predictionRowSchema = predictionRecordSchema.extend({
  feedback: z
    .object({ rating: feedbackRatingSchema, comment: z.string().nullable(), correction: z.unknown(), at: z.string(), by: z.string() })
    .nullable(),
});

export class PredictionPageDto extends createZodDto(
  z.object({
    items: z.array(predictionRowSchema),
    next: z.string().nullable().describe('Send as `cursor` for the next page; null on the last.'),
  }),
) {}

/** The OpenAPI text of each parameter. */
export const QUERY_DOCS: Record<QueryParameter, string> = {
  ...EXPECTED,
  model: 'Only this model',
  version: 'Only this version',
  from: 'Rows that finished at or after this ISO 8601 time',
  to: 'Rows that finished before this ISO 8601 time (after `from`)',
  status: EXPECTED.status,
  purpose: `${EXPECTED.purpose}; production is clients' jobs`,
  limit: `JSON only: rows per page, 1–${MAX_PAGE_ROWS} (default ${DEFAULT_PAGE_ROWS})`,
  cursor: 'JSON only: the `next` of the previous page',
  format: `json (a page, the default), ndjson or csv (the whole filtered log, streamed); or ask with Accept`,
};
