import { z } from 'zod';
import { isSecretVariable, redactUrlCredentials } from './redact';
import { RENAMED_VARIABLES, REPLACED_VARIABLES } from './renamed-variables';

/** A configuration problem, worded for the operator who has to fix the environment. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`${service}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses environment variables once, at start-up. Every problem names the variable and what was
 * given, so a bad deployment fails with a message instead of a stack trace minutes later. An old
 * name of a variable this schema reads (RENAMED_VARIABLES) is a problem too. What was given is
 * quoted without its secrets: a URL's password and a secret variable's value are redacted.
 */
export function loadConfig<S extends z.ZodObject>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const renamed = Object.entries(RENAMED_VARIABLES)
    .filter(([oldName, newName]) => env[oldName] !== undefined && env[oldName] !== '' && newName in schema.shape)
    .map(([oldName, newName]) => `${oldName}: renamed ${newName}; set ${newName} instead (got ${quoteGiven(oldName, env[oldName])})`)
    .concat(
      Object.entries(REPLACED_VARIABLES)
        .filter(([oldName, { reader }]) => env[oldName] !== undefined && env[oldName] !== '' && reader in schema.shape)
        .map(([oldName, { instead }]) => `${oldName}: ${instead}; unset ${oldName}`),
    );
  const result = schema.safeParse(env);
  if (result.success && renamed.length === 0) return result.data;
  const problems = (result.success ? [] : result.error.issues).map((issue) => {
    const variable = issue.path.join('.') || '(environment)';
    const given = issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
    return given === undefined ? `${variable}: ${issue.message}` : `${variable}: ${issue.message} (got ${quoteGiven(variable, given)})`;
  });
  throw new ConfigError(service, [...renamed, ...problems]);
}

function quoteGiven(variable: string, given: string | undefined): string {
  return isSecretVariable(variable) ? '[redacted]' : redactUrlCredentials(JSON.stringify(given));
}
