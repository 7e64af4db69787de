// The configuration's defaults and enumerations, without zod: the schema (config.ts) builds on them,
// and so does the quick reader (config-quick.ts) that `version` uses to skip loading zod.

/** Container root's host id: above every host user, as in the usual /etc/subuid allocation. */
export const DEFAULT_USERNS_BASE = 100_000;

/** The OCI runtimes `runtime` may name; `auto` picks crun, then runc, whichever works here. */
export const RUNTIMES = ['auto', 'crun', 'runc'] as const;
export type RuntimeChoice = (typeof RUNTIMES)[number];
export const DEFAULT_RUNTIME: RuntimeChoice = 'auto';

/** The name of the configuration file in a state root. */
export const CONFIG_FILE = 'config.json';
