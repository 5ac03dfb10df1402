import { inspect } from 'node:util';

/*
 * Secrets never reach a log line, a config error or a crash log: a URL's password (REDIS_URL's
 * `redis://:secret@host`) and the values of variables that hold keys or passwords.
 */

const CENSOR = '[redacted]';

/** Variables whose whole value is secret (an API key in FATHOM_API_KEY, *_PASSWORD, *_TOKEN, *_SECRET). */
const SECRET_VARIABLE = /(^|_)(KEYS?|PASSWORD|TOKEN|SECRET)$/;

export function isSecretVariable(name: string): boolean {
  return SECRET_VARIABLE.test(name);
}

/** `scheme://user:password@host` → `scheme://user:[redacted]@host`, wherever it appears in the text. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, `$1${CENSOR}@`);
}

/**
 * The secret strings an environment holds: every URL's password (raw and percent-decoded) and
 * the values of secret variables (each `id:secret` pair's secret, for lists of keys).
 */
export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (isSecretVariable(name)) {
      secrets.add(value);
      for (const item of value.split(',')) {
        const secret = item.slice(item.indexOf(':') + 1).trim();
        if (secret) secrets.add(secret);
      }
    }
    for (const match of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:([^\s@/]+)@/gi)) {
      const raw = match[1]!;
      secrets.add(raw);
      try {
        secrets.add(decodeURIComponent(raw));
      } catch {
        // not percent-encoded: the raw form is enough
      }
    }
  }
  // Very short values would censor ordinary words; a secret that short is no secret anyway.
  return [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** The text with URL credentials and every secret of `env` replaced: for crash logs and config errors. */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let redacted = redactUrlCredentials(text);
  for (const secret of secretValues(env)) redacted = redacted.split(secret).join(CENSOR);
  return redacted;
}

/**
 * Crash logs without secrets: an uncaught exception or unhandled rejection is printed as Node
 * would print it, redacted, and the process exits 1 (Node's own behaviour, minus the leak).
 */
export function redactCrashLogs(env: NodeJS.ProcessEnv = process.env): void {
  const crash = (error: unknown) => {
    console.error(redactSecrets(inspect(error), env));
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}
