import { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { PredictionStore, type PredictionFilter, type PredictionRow } from '@fathom/database';
import { csvHeader, csvRecord } from './prediction-csv';
import { DEFAULT_PAGE_ROWS, type ExportFormat, type PredictionQuery } from './dto/prediction-query.dto';

/** Rows per statement while an export streams; one page is what an export holds in memory, besides the socket's buffer. */
const EXPORT_PAGE_ROWS = 500;
/** Bytes the export's stream holds before it waits for the client to read. */
const EXPORT_BUFFER_BYTES = 64 * 1024;

export interface PredictionPageView {
  items: PredictionRow[];
  next: string | null;
}

/** An export about to be sent: its first page is read already, so a failure before it is an error response, not a cut stream. */
export interface PredictionExport {
  contentType: string;
  filename: string;
  body: Readable;
}

/** Reads the prediction log for GET /v1/predictions: a JSON page, or the whole filtered log as NDJSON or CSV. */
@Injectable()
export class PredictionExportService {
  private readonly logger = new Logger(PredictionExportService.name);

  constructor(@Inject(PredictionStore) private readonly store: PredictionStore) {}

  async page(query: PredictionQuery): Promise<PredictionPageView> {
    try {
      const { rows, next } = await this.store.page({ ...filterOf(query), after: query.cursor, limit: query.limit ?? DEFAULT_PAGE_ROWS });
      return { items: rows, next: next ?? null };
    } catch (error) {
      if (error instanceof RangeError) {
        throw new FathomError(
          ErrorCode.InvalidRequest,
          'Query parameter "cursor" is not a cursor of this log: send the `next` of the previous page, or leave it out to start from the oldest row.',
          { parameter: 'cursor' },
        );
      }
      throw error;
    }
  }

  /**
   * The whole filtered log, oldest first, one page of EXPORT_PAGE_ROWS at a time: the next page is
   * read only when the client has taken the last one (the stream's buffer is small), so an export
   * of any size holds about one page in memory.
   */
  async export(query: PredictionQuery, format: Exclude<ExportFormat, 'json'>): Promise<PredictionExport> {
    if (query.cursor !== undefined || query.limit !== undefined) {
      const parameter = query.cursor !== undefined ? 'cursor' : 'limit';
      throw new FathomError(
        ErrorCode.InvalidRequest,
        `Query parameter "${parameter}" pages the JSON format; format=${format} sends the whole filtered log: leave "${parameter}" out (narrow the export with from and to), or ask for format=json.`,
        { parameter },
      );
    }
    const pages = this.store.stream(filterOf(query), EXPORT_PAGE_ROWS);
    const first = await pages.next();
    const line = format === 'csv' ? csvRecord : (row: PredictionRow) => `${JSON.stringify(row)}\n`;
    const logger = this.logger;
    async function* text(): AsyncGenerator<string> {
      if (format === 'csv') yield csvHeader();
      if (first.done) return;
      let rows = first.value.length;
      yield first.value.map(line).join('');
      try {
        for await (const page of pages) {
          rows += page.length;
          yield page.map(line).join('');
        }
      } catch (error) {
        // Headers are gone: the response is cut short (the client sees an incomplete transfer) and the log says why.
        logger.warn({ msg: 'prediction export cut short', rows, error: error instanceof Error ? error.message : String(error) });
        throw error;
      }
    }
    return {
      contentType: format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson; charset=utf-8',
      filename:
        `predictions${query.model === undefined ? '' : `-${query.model}`}${query.version === undefined ? '' : `-${query.version}`}.${format}`.replace(
          /[^A-Za-z0-9._-]/g,
          '_',
        ),
      body: Readable.from(text(), { objectMode: false, highWaterMark: EXPORT_BUFFER_BYTES }),
    };
  }
}

function filterOf(query: PredictionQuery): PredictionFilter {
  const { model, version, from, to, status, purpose } = query;
  return { model, version, from, to, status, purpose };
}
