/** The largest JSON body (the admin API's); uploads have their own limits (jobs/uploads/upload-form.reader.ts). */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;
/** The longest path parameter; job ids (UUIDs) and model names are far shorter. */
export const MAX_PATH_PARAM_LENGTH = 100;
