/**
 * Variables that were renamed, and their new names. Setting an old name stops the process that
 * reads the new one (silently ignoring it would quietly change a limit). Renamed in issue 10: one
 * pixel limit for the API and the worker, and process prefixes for the job retry settings.
 */
export const RENAMED_VARIABLES: Readonly<Record<string, string>> = {
  API_MAX_PIXELS: 'IMAGE_MAX_PIXELS',
  WORKER_MAX_PIXELS: 'IMAGE_MAX_PIXELS',
  JOB_ATTEMPTS: 'API_JOB_ATTEMPTS',
  JOB_BACKOFF_MS: 'API_JOB_BACKOFF_MS',
};

/**
 * Variables that were removed in favour of something else, with what to do instead; `reader` is a
 * variable of the processes that used to read it. Setting one stops that process, like a rename.
 * Replaced in issue 11: admin keys are API keys with the models:admin scope.
 */
export const REPLACED_VARIABLES: Readonly<Record<string, { reader: string; instead: string }>> = {
  API_ADMIN_KEYS: {
    reader: 'API_AUTH',
    instead:
      'replaced by API keys with scopes: create one with `npm run keys -- create --owner ops --scopes models:admin` and send it as `Authorization: Bearer <key>`',
  },
};
