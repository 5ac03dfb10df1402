import { NotFoundException } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { BLOB_STORE_RETRY_AFTER_SECONDS, BlobStoreUnavailableError } from '@fathom/storage';
import { mapError } from './api-exception.filter';

describe('mapError: everything a client sees is {error:{code,message}} with the right status', () => {
  it('maps domain codes to statuses and keeps Retry-After', () => {
    expect(mapError(new FathomError(ErrorCode.QueueFull, 'full', undefined, 5))).toEqual({
      status: 503,
      body: { error: { code: 'queue_full', message: 'full' } },
      retryAfterSeconds: 5,
    });
    expect(mapError(new FathomError(ErrorCode.ImageTooManyPixels, 'big', { width: 1 })).status).toBe(413);
    expect(mapError(new FathomError(ErrorCode.UnsupportedImageFormat, 'svg')).status).toBe(415);
    expect(mapError(new FathomError(ErrorCode.JobExpired, 'gone')).status).toBe(410);
  });

  it('maps every Redis failure to 503 store_unavailable with Retry-After, wrapped or not, never 500', () => {
    const storeUnavailable = { status: 503, body: { error: { code: 'store_unavailable' } }, retryAfterSeconds: 1 };
    // What ioredis and BullMQ reject with: a command timeout, a refused connection, a Redis loading its AOF, a closed connection.
    const failures = [
      new Error('Command timed out'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Reached the max retries per request limit (which is 1).'), { name: 'MaxRetriesPerRequestError' }),
      new Error('LOADING Redis is loading the dataset in memory'),
      new Error('Connection is closed.'),
      new FathomError(ErrorCode.ServiceUnavailable, 'The job could not be queued. Retry later.', undefined, 5, {
        cause: new Error('Command timed out'),
      }),
    ];
    for (const failure of failures) expect(mapError(failure)).toMatchObject(storeUnavailable);
    // Not Redis's fault: unchanged.
    expect(mapError(new FathomError(ErrorCode.ServiceUnavailable, 'shutting down', undefined, 5))).toMatchObject({
      body: { error: { code: 'service_unavailable' } },
    });
    expect(mapError(new Error('something else'))).toMatchObject({ status: 500, body: { error: { code: 'internal_error' } } });
  });

  it('maps an object-store failure to 503 store_unavailable with its Retry-After, also when a submission wrapped it', () => {
    const store = new BlobStoreUnavailableError(
      'put',
      'fathom/input/j1',
      Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }),
    );
    const expected = {
      status: 503,
      body: { error: { code: 'store_unavailable', message: expect.stringMatching(/object store is unavailable \(put failed: ENOSPC\)/) } },
      retryAfterSeconds: BLOB_STORE_RETRY_AFTER_SECONDS,
    };
    expect(mapError(store)).toMatchObject(expected);
    const wrapped = new FathomError(ErrorCode.ServiceUnavailable, 'The job could not be queued. Retry later.', undefined, 5, {
      cause: store,
    });
    expect(mapError(wrapped)).toMatchObject(expected);
  });

  it('maps multipart limit errors from Fastify', () => {
    expect(mapError(Object.assign(new Error('too large'), { code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 }))).toMatchObject({
      status: 413,
      body: { error: { code: 'image_too_large' } },
    });
  });

  it("maps @fastify/multipart's limit errors to the form's own codes, and a large JSON body to body_too_large", () => {
    const multipart = (code: string) => mapError(Object.assign(new Error('reach limit'), { code, statusCode: 413 }));
    expect(multipart('FST_FILES_LIMIT')).toMatchObject({ status: 400, body: { error: { code: 'too_many_files' } } });
    expect(multipart('FST_FIELDS_LIMIT')).toMatchObject({ status: 400, body: { error: { code: 'too_many_fields' } } });
    expect(multipart('FST_PARTS_LIMIT')).toMatchObject({ status: 400, body: { error: { code: 'too_many_fields' } } });
    expect(multipart('FST_ERR_CTP_BODY_TOO_LARGE')).toEqual({
      status: 413,
      body: { error: { code: 'body_too_large', message: 'The request body is larger than 1048576 bytes.' } },
    });
  });

  it('answers a client that went away mid-body as a bad request, not an internal error', () => {
    expect(mapError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
    // Not any ECONNRESET: a lost Redis connection's is the store's trouble, 503 store_unavailable.
    expect(mapError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toMatchObject({
      status: 503,
      body: { error: { code: 'store_unavailable' } },
    });
  });

  it('maps unknown routes and validation errors', () => {
    expect(mapError(new NotFoundException())).toMatchObject({ status: 404, body: { error: { code: 'route_not_found' } } });
    const zodError = z.object({ a: z.string() }).safeParse({}).error;
    expect(mapError(zodError)).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });

  it('hides the text of unexpected errors', () => {
    expect(mapError(new Error('ECONNREFUSED 10.0.0.3:6379 secret'))).toEqual({
      status: 500,
      body: { error: { code: 'internal_error', message: 'Internal error.' } },
    });
  });
});
