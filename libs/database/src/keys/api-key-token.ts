import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An API key as a client holds it: `fth_<id>_<secret>`. The id (16 base32 characters, 80 random
 * bits) is public — it names the key in logs, job records and the audit log; the secret (43
 * base64url characters, 256 random bits) is shown once and stored only as its SHA-256 digest.
 * The `fth_` prefix lets secret scanners recognise a leaked key.
 */
const TOKEN = /^fth_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;

export interface ApiKeyToken {
  id: string;
  secret: string;
  /** What the client sends. */
  token: string;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function generateApiKey(): ApiKeyToken {
  const id = base32(randomBytes(10));
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `fth_${id}_${secret}` };
}

/** The id and secret of a well-formed key; undefined for anything else. */
export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/**
 * SHA-256 of the secret, hex. A fast hash suffices: the secret is 256 random bits, so there is
 * no dictionary to try, unlike a password (ADR 0010).
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares a presented secret with a stored digest in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
