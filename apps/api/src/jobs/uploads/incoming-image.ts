import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ErrorCode, FathomError } from '@fathom/contracts';

/** The image file of an upload form as busboy hands it over: a stream cut at the form's file limit. */
type FilePart = Readable & { truncated?: boolean };

/**
 * The `image` part of an upload while it arrives, read once from its first byte to its last: the
 * inspector peeks at its head, the store takes the whole (head, then the rest), and a refused
 * image is read to its end and dropped, so that busboy goes on to the fields after it. Its
 * length and SHA-256 are counted on the way, whichever of those read it.
 */
export class IncomingImage {
  private readonly parts: AsyncIterator<Buffer, undefined>;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private ended = false;
  private streamed = false;
  private readonly hash = createHash('sha256');
  private total = 0;
  private readonly truncated: () => boolean;

  constructor(
    file: FilePart,
    readonly filename: string | undefined,
    private readonly maxBytes: number,
  ) {
    this.parts = (file as AsyncIterable<Buffer, undefined>)[Symbol.asyncIterator]();
    this.truncated = () => file.truncated === true;
  }

  /** The first `bytes` (fewer when the file is shorter), and whether that is the whole file. */
  async peek(bytes: number): Promise<{ head: Buffer; whole: boolean }> {
    if (this.streamed) throw new Error('The image was already handed to the store.');
    while (this.headBytes < bytes && !this.ended) {
      const chunk = await this.next();
      if (!chunk) break;
      this.head.push(chunk);
      this.headBytes += chunk.length;
    }
    const head = Buffer.concat(this.head);
    this.head.splice(0, this.head.length, head);
    return { head: head.subarray(0, bytes), whole: this.ended && head.length <= bytes };
  }

  /** The whole file, what peek read first: for BlobStore.putStream. Once only. */
  async *stream(): AsyncGenerator<Buffer> {
    if (this.streamed) throw new Error('The image can be streamed once.');
    this.streamed = true;
    yield* this.head.splice(0);
    // Not a for-await over the parts: a consumer that stops early must not destroy the file
    // stream, which discard() then reads to its end.
    for (let chunk = await this.next(); chunk; chunk = await this.next()) yield chunk;
  }

  /** Reads what nobody took and drops it, so that the form's next parts arrive; past the limit it throws, as any read does. */
  async discard(): Promise<void> {
    this.head.splice(0);
    while (await this.next());
  }

  /** Length and SHA-256 (hex) of the file; only once it was read to its end. */
  digest(): { bytes: number; sha256: string } {
    if (!this.ended) throw new Error('The image was not read to its end.');
    return { bytes: this.total, sha256: this.hash.copy().digest('hex') };
  }

  private async next(): Promise<Buffer | undefined> {
    if (this.ended) return undefined;
    const { value, done } = await this.parts.next();
    // Busboy cuts the file at the form's limit and flags it: what came is not the image sent.
    if (this.truncated()) throw imageTooLarge(this.maxBytes);
    if (done) {
      this.ended = true;
      return undefined;
    }
    this.hash.update(value);
    this.total += value.length;
    return value;
  }
}

/** An upload past API_MAX_UPLOAD_BYTES, as the form reader and the inspector both say it. */
export function imageTooLarge(maxBytes: number): FathomError {
  return new FathomError(ErrorCode.ImageTooLarge, `The image is larger than ${maxBytes} bytes (the upload limit).`, {
    limitBytes: maxBytes,
  });
}
