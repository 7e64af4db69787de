// The engine's default state root, alone in a module so the CLI can name it without loading the
// config schema (zod), which `--version` and `--help` never need.
export const DEFAULT_ROOT = '/var/lib/layerlab';
