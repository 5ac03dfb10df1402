import { ErrorCode, FathomError } from '@fathom/contracts';
import { parseDeadline } from './deadline';

const NOW = Date.parse('2026-03-01T10:00:00.000Z');
const RETENTION_SECONDS = 3600;
const parse = (field: string | undefined, header?: string) => parseDeadline({ field, header }, NOW, RETENTION_SECONDS);

function refusal(field: string | undefined, header?: string): FathomError {
  try {
    parse(field, header);
  } catch (error) {
    if (error instanceof FathomError) return error;
    throw error;
  }
  throw new Error(`"${field ?? header}" was accepted`);
}

describe('parseDeadline', () => {
  it('reads seconds from now, whole or fractional, from the field or the header', () => {
    expect(parse('30')).toBe(NOW + 30_000);
    expect(parse(undefined, '2.5')).toBe(NOW + 2_500);
    expect(parse(' 1 ')).toBe(NOW + 1_000);
  });

  it('reads an ISO 8601 instant with its zone', () => {
    expect(parse('2026-03-01T10:05:00Z')).toBe(NOW + 300_000);
    expect(parse('2026-03-01T11:05:00.500+01:00')).toBe(NOW + 300_500);
  });

  it('means no deadline when neither is sent, or one is empty', () => {
    expect(parse(undefined)).toBeUndefined();
    expect(parse('', '  ')).toBeUndefined();
  });

  it('cuts a deadline past the retention time to it', () => {
    expect(parse(String(RETENTION_SECONDS * 10))).toBe(NOW + RETENTION_SECONDS * 1000);
    expect(parse('2030-01-01T00:00:00Z')).toBe(NOW + RETENTION_SECONDS * 1000);
  });

  it.each(['tomorrow', '-5', '1e3', '2026-03-01T10:05:00', '2026-03-01', '2026-13-45T99:00:00Z'])(
    'refuses "%s" as unreadable, naming both formats',
    (raw) => {
      const error = refusal(raw);
      expect(error.code).toBe(ErrorCode.InvalidRequest);
      expect(error.message).toMatch(/not readable.*seconds from now.*ISO 8601/);
    },
  );

  it('refuses a deadline now or past', () => {
    expect(refusal('0').message).toContain('already passed');
    expect(refusal(undefined, '2026-03-01T09:59:59Z').message).toContain('already passed');
  });

  it('refuses a deadline sent both ways', () => {
    expect(refusal('30', '30').message).toContain('either the `deadline` field or the X-Deadline header');
  });
});
