import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StreamedBlob } from './blob.store';
import { BlobTooLargeError } from './blob-store.errors';

/**
 * `source` passed through while its bytes are counted and hashed, refused past `maxBytes`. The
 * backend reads `chunks`; `failure()` then says who failed first: the source (its own error),
 * the limit (BlobTooLargeError), or neither — the store did.
 */
export function meteredSource(key: string, source: Readable | AsyncIterable<Buffer>, maxBytes: number) {
  const hash = createHash('sha256');
  let bytes = 0;
  let failure: Error | undefined;
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buffer.length;
        if (bytes > maxBytes) throw new BlobTooLargeError(key, maxBytes);
        hash.update(buffer);
        yield buffer;
      }
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }
  return {
    chunks: chunks(),
    /** The source's or the limit's error, when one of them ended the write. */
    failure: (): Error | undefined => failure,
    result: (): StreamedBlob => ({ bytes, sha256: hash.digest('hex') }),
  };
}
