import type { Migration } from 'kysely';

/**
 * Every migration, in order. A name is `NNNN_what` and, once released, never changes (the
 * database records which names it ran); a migration's `up` never changes either — a later one
 * alters what an earlier one made. Kept as a list in code, not read from a folder, so the built
 * service carries its migrations wherever it runs.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {};
