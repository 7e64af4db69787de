// A zod-free reader of the few configuration fields a short command needs (`version`: the runtime),
// so it starts without evaluating zod (~60 ms of CPU). It is not a second schema: it accepts only
// what it can check to the schema's own rules (the defaults and enumerations come from
// config-defaults.ts, which config.ts builds on), and leaves everything else to `loadConfig`, which
// then returns the real reading or throws the real error. test/unit/config-quick.test.ts holds the
// two readers to the same answers.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FILE, DEFAULT_RUNTIME, RUNTIMES, type RuntimeChoice } from './config-defaults.ts';

/** The fields the quick reader answers for. */
export interface QuickConfig {
  readonly runtime: RuntimeChoice;
}

const isPositiveInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema's top-level fields the quick reader checks itself, each with the schema's rule. */
const CHECKED: Readonly<Record<string, (value: unknown) => boolean>> = {
  mirrors: (v) => isPlainObject(v) && Object.values(v).every(isStringArray),
  insecureRegistries: isStringArray,
  usernsBase: isPositiveInt,
  usernsSize: isPositiveInt,
  runtime: (v) => (RUNTIMES as readonly unknown[]).includes(v),
  registryTimeoutMs: isPositiveInt,
};

/** Fields whose rules it does not repeat: a config that sets one is read by the schema. */
const DEFERRED = ['limits'] as const;

/** Every top-level field of the schema, as the quick reader knows them (a test compares them). */
export const QUICK_KNOWN_FIELDS: readonly string[] = [...Object.keys(CHECKED), ...DEFERRED];

/**
 * The quick reading of a parsed config.json, or undefined when the schema must decide (a deferred
 * field, or anything the schema might reject). Fields the schema does not know are ignored, as the
 * schema (a non-strict zod object) ignores them.
 */
export function quickConfig(raw: unknown): QuickConfig | undefined {
  if (!isPlainObject(raw)) return undefined;
  for (const key of DEFERRED) if (Object.hasOwn(raw, key)) return undefined;
  for (const [key, valid] of Object.entries(CHECKED)) {
    if (Object.hasOwn(raw, key) && !valid(raw[key])) return undefined;
  }
  const runtime = Object.hasOwn(raw, 'runtime') ? (raw.runtime as RuntimeChoice) : DEFAULT_RUNTIME;
  return { runtime };
}

/** The root's quick config: its config.json read quickly when possible, else by `loadConfig`. */
export async function readQuickConfig(root: string): Promise<QuickConfig> {
  let text: string | undefined;
  try {
    text = readFileSync(join(root, CONFIG_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runtime: DEFAULT_RUNTIME };
  }
  if (text !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined; // loadConfig words the error
    }
    const quick = raw === undefined ? undefined : quickConfig(raw);
    if (quick) return quick;
  }
  const { loadConfig } = await import('./config.ts');
  return { runtime: loadConfig(root).runtime };
}
