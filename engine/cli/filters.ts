// Docker's `--filter key=value` lists (ps, images): parsed into key → values, keys checked against
// what the command supports, with the daemon's wording for the rest ("invalid filter 'x'").

import { InvalidArgumentError } from '../errors.ts';
import { UsageError } from './args.ts';

export type Filters = ReadonlyMap<string, readonly string[]>;

/** Parses `--filter` values of `command`; `allowed` are the keys it knows. */
export function parseFilters(
  command: string,
  values: readonly string[],
  allowed: readonly string[],
): Filters {
  const filters = new Map<string, string[]>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === -1) {
      throw new UsageError(
        `invalid argument "${value}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
        command,
      );
    }
    const key = value.slice(0, eq).trim().toLowerCase();
    if (!allowed.includes(key)) throw new InvalidArgumentError(`invalid filter '${key}'`, value);
    const list = filters.get(key) ?? [];
    list.push(value.slice(eq + 1));
    filters.set(key, list);
  }
  return filters;
}

/** Docker's label filter: `key` (present) or `key=value` (equal); every one given must match. */
export function matchLabels(filters: Filters, labels: Readonly<Record<string, string>>): boolean {
  return (filters.get('label') ?? []).every((want) => {
    const eq = want.indexOf('=');
    if (eq === -1) return Object.hasOwn(labels, want);
    const key = want.slice(0, eq);
    return Object.hasOwn(labels, key) && labels[key] === want.slice(eq + 1);
  });
}

/** A boolean filter value as Docker reads it (`dangling=true|false|1|0`). */
export function boolFilter(filters: Filters, key: string): boolean | undefined {
  const values = filters.get(key);
  if (!values || values.length === 0) return undefined;
  const last = values.at(-1)!.toLowerCase();
  if (last === 'true' || last === '1') return true;
  if (last === 'false' || last === '0') return false;
  throw new InvalidArgumentError(`invalid filter '${key}=${values.at(-1)}'`, values.at(-1)!);
}
