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
