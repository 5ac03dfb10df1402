import { ErrorCode, FathomError } from '@fathom/contracts';

/** What a deadline may be written as, for error messages and the docs. */
export const DEADLINE_FORMAT =
  'A deadline is a number of seconds from now (e.g. 30 or 2.5) or an ISO 8601 instant with its time zone (e.g. 2026-01-31T12:00:00Z)';

/** The X-Deadline header, for the interactive docs. */
export const DEADLINE_HEADER_DESCRIPTION = `Instead of the \`deadline\` field. ${DEADLINE_FORMAT}. A job still queued when it passes is dropped with deadline_exceeded; a running one is not interrupted.`;

const SECONDS = /^\d+(\.\d+)?$/;
// A date, a time and a zone: an instant, never a local time read in the server's zone.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The client's deadline (the `deadline` field, or the X-Deadline header; not both), as ms since
 * the epoch; undefined when none was sent. A deadline in the past or unreadable is refused; one
 * later than the retention time is cut to it (the job's input expires then anyway).
 */
export function parseDeadline(
  sources: { field: string | undefined; header: string | undefined },
  now: number,
  retentionSeconds: number,
): number | undefined {
  const field = sources.field?.trim() || undefined;
  const header = sources.header?.trim() || undefined;
  if (field !== undefined && header !== undefined) {
    throw new FathomError(ErrorCode.InvalidRequest, 'Send the deadline once: either the `deadline` field or the X-Deadline header.', {
      field: 'deadline',
    });
  }
  const raw = field ?? header;
  if (raw === undefined) return undefined;
  let at: number;
  if (SECONDS.test(raw)) at = now + Math.round(Number(raw) * 1000);
  else if (INSTANT.test(raw) && !Number.isNaN(Date.parse(raw))) at = Date.parse(raw);
  else
    throw new FathomError(ErrorCode.InvalidRequest, `The deadline "${raw.slice(0, 64)}" is not readable. ${DEADLINE_FORMAT}.`, {
      field: 'deadline',
    });
  if (at <= now) {
    throw new FathomError(ErrorCode.InvalidRequest, `The deadline ${new Date(at).toISOString()} has already passed. ${DEADLINE_FORMAT}.`, {
      field: 'deadline',
    });
  }
  return Math.min(at, now + retentionSeconds * 1000);
}
