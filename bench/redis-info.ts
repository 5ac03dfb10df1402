/** Parsers for the sections of Redis's INFO the capacity scenario reads. */

/** INFO's `name:value` lines as numbers (non-numeric values dropped). */
export function infoFields(info: string): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of info.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    const value = Number(line.slice(colon + 1));
    if (Number.isFinite(value)) fields[line.slice(0, colon)] = value;
  }
  return fields;
}

/** INFO commandstats as calls and microseconds per command (`cmdstat_evalsha:calls=3,usec=120,...`). */
export function commandStats(info: string): Record<string, { calls: number; usec: number }> {
  const stats: Record<string, { calls: number; usec: number }> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    stats[match[1]!] = { calls: Number(match[2]), usec: Number(match[3]) };
  return stats;
}
