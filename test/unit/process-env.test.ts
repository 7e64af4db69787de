// A guard on the design that closes the environment leak (SECURITY.md): no code that can act for a
// visitor reads `process.env`. The CLI gets its caller's environment as `cli.env`; the server reads
// its own environment only at start-up. Any new read of `process.env` under engine/ or server/ fails
// here until it is added, with its reason, to the short list below.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');

/** Files allowed to read the process environment, and why none of them runs for a visitor. */
const ALLOWED: Readonly<Record<string, string>> = {
  'engine/cli/main.ts': 'runProcess(): the real `layerlab` process passes its own caller’s environment',
  'engine/config.ts':
    'configuration defaults (LAYERLAB_ROOT, LAYERLAB_REGISTRY_PORT), read by setup and start-up',
  'engine/runtime/runtime-cache.ts': 'PATH, to find crun or runc on the host',
  'engine/daemon/daemon.ts':
    'the resident engine compares its own PATH and LAYERLAB_REGISTRY_PORT with each client’s (never passed to a command)',
  'engine/layer/unpack.ts': 'the environment of a host decompressor it spawns, not of a container',
  'server/serve-command.ts': '`layerlab serve` start-up: port, limits file, workshop secrets (then deleted)',
};

/** `process.env`, `process['env']`, `const { env } = process`, ignoring comments. */
const READS = [
  /\bprocess\s*(?:\?\.|\.)\s*env\b/,
  /\bprocess\s*\[\s*['"`]env['"`]\s*\]/,
  /\{[^}]*\benv\b[^}]*\}\s*=\s*(?:globalThis\.)?process\b/,
];

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => relative(REPO, join(e.parentPath, e.name)));
}

/** The code of a file without its comments (line and block), so a comment may name what it avoids. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

describe('process.env', () => {
  it('is read under engine/ and server/ only by the start-up files on the allow-list', () => {
    const readers = [...sources('engine'), ...sources('server')].filter((file) =>
      READS.some((re) => re.test(code(readFileSync(join(REPO, file), 'utf8')))),
    );
    expect(readers.filter((file) => !Object.hasOwn(ALLOWED, file))).toEqual([]);
    // The list stays short and true: every entry still reads it.
    expect(Object.keys(ALLOWED).filter((file) => !readers.includes(file))).toEqual([]);
  });

  it('is not read by the engine CLI’s commands, the terminal, the workshop or the checks', () => {
    for (const file of [
      ...sources('engine/cli'),
      ...sources('server/terminal'),
      ...sources('server/workshop'),
    ]) {
      if (file === 'engine/cli/main.ts') continue;
      expect(
        READS.some((re) => re.test(code(readFileSync(join(REPO, file), 'utf8')))),
        file,
      ).toBe(false);
    }
  });
});
