// The classroom pages' browser scripts: TypeScript in site/src/workshop/ (type-checked with the site's
// DOM types), bundled by esbuild once per process, in memory, into what `/workshop/<name>.js` serves
// (and `/workshop/<name>.css` for a script that imports CSS: the wall's xterm.js).

import { basename, join } from 'node:path';
import { build } from 'esbuild';

/** Where the sources live: in the site's tsc project, which has the DOM types the root one lacks. */
export const WORKSHOP_SCRIPTS_DIR = join(import.meta.dirname, '..', '..', 'site', 'src', 'workshop');

/** The scripts the pages load (`/workshop/forms.js`, …): one source file and one bundle each. */
export const WORKSHOP_SCRIPTS = ['theme', 'forms', 'dashboard', 'watch', 'wall'] as const;

let bundles: Promise<ReadonlyMap<string, Buffer>> | undefined;

/**
 * The bundles by served file name (`forms.js`, `wall.css`, …). Built on the first call and kept for the process's
 * life (the sources do not change under a running server); a failed build is tried again next call.
 */
export function workshopScripts(): Promise<ReadonlyMap<string, Buffer>> {
  bundles ??= bundle().catch((err: unknown) => {
    bundles = undefined;
    throw err;
  });
  return bundles;
}

async function bundle(): Promise<ReadonlyMap<string, Buffer>> {
  const result = await build({
    entryPoints: WORKSHOP_SCRIPTS.map((name) => join(WORKSHOP_SCRIPTS_DIR, `${name}.ts`)),
    bundle: true,
    write: false,
    outdir: WORKSHOP_SCRIPTS_DIR,
    // The pages load them as classic deferred scripts, so each is one self-contained function scope.
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    // The pages' CSP allows no eval and no inline script; a bundle needs neither. UTF-8 as served.
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  return new Map(result.outputFiles.map((file) => [basename(file.path), Buffer.from(file.contents)]));
}
