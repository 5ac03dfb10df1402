/**
 * The tables of Fathom's PostgreSQL database, as Kysely sees them. Each migration in
 * ./migrations that adds or changes a table changes its interface here in the same commit;
 * libs/database's migration spec checks that every table declared here exists after migrating.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- tables are added by the migrations that create them
export interface DatabaseSchema {}
