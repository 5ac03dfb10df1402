import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { IncomingImage } from './incoming-image';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A file part as busboy hands it over: 64 KiB chunks; `truncated` set once the limit cut it. */
function filePart(bytes: Buffer, { cutAt }: { cutAt?: number } = {}): Readable & { truncated?: boolean } {
  const chunks: Buffer[] = [];
  const end = cutAt ?? bytes.length;
  for (let at = 0; at < end; at += 64 * 1024) chunks.push(bytes.subarray(at, Math.min(at + 64 * 1024, end)));
  const part: Readable & { truncated?: boolean } = new Readable({ read() {} });
  for (const chunk of chunks) part.push(chunk);
  if (cutAt !== undefined) part.truncated = true; // busboy flags it as it pushes the last bytes it keeps
  part.push(null);
  return part;
}

async function concat(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const all: Buffer[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return Buffer.concat(all);
}

describe('an incoming image', () => {
  it('shows its head, then streams the whole file from its first byte, and knows its length and SHA-256', async () => {
    const bytes = randomBytes(3 * MiB + 5);
    const image = new IncomingImage(filePart(bytes), 'photo.png', 25 * MiB);
    const { head, whole } = await image.peek(MiB);
    expect(whole).toBe(false);
    expect(head.equals(bytes.subarray(0, MiB))).toBe(true);
    expect((await concat(image.stream())).equals(bytes)).toBe(true);
    expect(image.digest()).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
  });

  it('says a file shorter than the peek is whole', async () => {
    const bytes = randomBytes(100_000);
    const image = new IncomingImage(filePart(bytes), undefined, 25 * MiB);
    const { head, whole } = await image.peek(MiB);
    expect(whole).toBe(true);
    expect(head.equals(bytes)).toBe(true);
  });

  it('reads a refused file to its end without keeping it, and still knows what it was', async () => {
    const bytes = randomBytes(2 * MiB);
    const image = new IncomingImage(filePart(bytes), undefined, 25 * MiB);
    await image.peek(1000);
    await image.discard();
    expect(image.digest()).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
  });

  it('is image_too_large, with the limit, when busboy cut it at the upload limit', async () => {
    const image = new IncomingImage(filePart(randomBytes(2 * MiB), { cutAt: MiB }), undefined, MiB);
    await expect(concat(image.stream())).rejects.toMatchObject({ code: 'image_too_large', details: { limitBytes: MiB } });
  });
});
