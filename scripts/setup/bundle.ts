// Bundles the `layerlab` CLI (server/cli.ts and everything it loads) with esbuild into dist/cli/, so
// the executable loads a few prebuilt ES modules instead of ~200 TypeScript files and zod's ~100:
// most of a short command's start-up was module loading. server/bin.js uses the bundle only while
// the manifest written beside it still matches every input file (server/cli-bundle.js).

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { SetupError } from './log.ts';

/** Bumped when the way the bundle is made changes, so an older bundle is not taken for fresh. */
export const BUNDLE_FORMAT = 2;

/** Where server/bin.js looks for the bundle (keep in step with server/cli-bundle.js). */
export function bundleDir(repoRoot: string): string {
  return join(repoRoot, 'dist', 'cli');
}

/**
 * dist/cli/manifest.json: the entry file (relative to dist/cli/, in the build's own directory), and
 * each input (relative to the repository) with its size and mtime.
 */
export interface BundleManifest {
  format: number;
  entry: string;
  inputs: Record<string, [size: number, mtimeMs: number]>;
}

/** Native or binary-shipping packages stay outside: they must be loaded from node_modules. */
const EXTERNAL = ['koffi', 'esbuild'];

/**
 * `import.meta.url` and `import.meta.dirname` name the source file's own place in the sources (the
 * engine finds native/, content/ and package.json from them); in a bundle they would name dist/cli/.
 * They are rewritten relative to the output file, so the bundle keeps pointing at the sources' tree.
 * `import.meta.main` is false in a bundle (only bin.js is the main module).
 */
function importMetaPlugin(repoRoot: string, outDir: string): Plugin {
  return {
    name: 'layerlab-import-meta',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        if (!args.path.startsWith(repoRoot + sep)) return undefined;
        let text = readFileSync(args.path, 'utf8');
        const fileUrl = relative(outDir, args.path).split(sep).join('/');
        const dirUrl = relative(outDir, dirname(args.path)).split(sep).join('/') || '.';
        text = text
          .replaceAll('import.meta.url', `new URL(${JSON.stringify(fileUrl)}, import.meta.url).href`)
          .replaceAll(
            'import.meta.dirname',
            `__layerlabPath(new URL(${JSON.stringify(dirUrl)}, import.meta.url))`,
          )
          .replaceAll('import.meta.main', 'false');
        return { contents: text, loader: 'ts' };
      });
    },
  };
}

/**
 * zod's namespace export (`z.locales`) keeps its ~70 locale modules in the bundle, and evaluating them
 * was the better part of a short command's start-up. The engine only ever uses English messages (zod's
 * default, set by its own `en` import), so the bundle's `locales` holds `en` alone.
 */
function zodLocalesPlugin(): Plugin {
  return {
    name: 'layerlab-zod-locales',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        if (!args.importer.includes(`${sep}node_modules${sep}zod${sep}`)) return undefined;
        return {
          path: join(dirname(args.importer), '..', 'locales', 'en-only.js'),
          namespace: 'zod-locales',
        };
      });
      b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
        contents: "export { default as en } from './en.js';\n",
        resolveDir: dirname(args.path),
        loader: 'js',
      }));
    },
  };
}

/**
 * Builds the bundle into a directory of its own under `outDir` (default dist/cli/): one ES module per
 * command and chunks for what they share, then points `outDir/manifest.json` at it with an atomic
 * rename. A `layerlab` process already running keeps loading its command modules from the build it
 * started with, even while another setup or test run publishes a newer one; builds older than ten
 * minutes are removed. Returns the manifest, or undefined when the sources kept changing during three
 * builds (then no manifest is left, and bin.js loads the sources).
 */
export async function bundleCli(
  repoRoot: string,
  outDir = bundleDir(repoRoot),
): Promise<BundleManifest | undefined> {
  mkdirSync(outDir, { recursive: true });
  const manifestPath = join(outDir, 'manifest.json');
  // An input edited while esbuild read it would be recorded with its new mtime but bundled with its
  // old text, and taken for fresh: an input newer than the build's start means build again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = Date.now();
    const id = `${started.toString(36)}-${process.pid}`;
    const manifest = await bundleOnce(repoRoot, join(outDir, id));
    const newest = Math.max(...Object.values(manifest.inputs).map(([, mtimeMs]) => mtimeMs));
    if (newest >= started - 100) {
      rmSync(join(outDir, id), { recursive: true, force: true });
      continue;
    }
    const temp = `${manifestPath}.${process.pid}`;
    writeFileSync(temp, `${JSON.stringify(manifest)}\n`);
    renameSync(temp, manifestPath);
    pruneBuilds(outDir, id);
    return manifest;
  }
  rmSync(manifestPath, { force: true });
  return undefined;
}

/** Removes earlier builds no process is likely to be loading from any more. */
function pruneBuilds(outDir: string, current: string): void {
  const cutoff = Date.now() - 10 * 60_000;
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    // Builds are directories; loose .js files are what a bundle of the first layout left.
    const old = entry.isDirectory() ? entry.name !== current : entry.name.endsWith('.js');
    if (!old) continue;
    const path = join(outDir, entry.name);
    if (statSync(path).mtimeMs < cutoff) rmSync(path, { recursive: true, force: true });
  }
}

/** One esbuild run into `buildDir`; the manifest it returns names the entry relative to its parent. */
async function bundleOnce(repoRoot: string, buildDir: string): Promise<BundleManifest> {
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  try {
    const result = await build({
      entryPoints: { layerlab: join(repoRoot, 'server', 'cli.ts') },
      absWorkingDir: repoRoot,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      // Each command module stays its own file, loaded when the command runs, as in the sources.
      splitting: true,
      chunkNames: '[name]-[hash]',
      outdir: buildDir,
      external: EXTERNAL,
      metafile: true,
      logLevel: 'silent',
      legalComments: 'none',
      // The CommonJS packages bundled (ws, tar-stream, @xterm/headless) call require() for Node's
      // built-ins; the helper esbuild emits in an ES module needs a real require to hand them to.
      banner: {
        js: [
          "import { createRequire as __layerlabRequire } from 'node:module';",
          "import { fileURLToPath as __layerlabPath } from 'node:url';",
          'const require = __layerlabRequire(import.meta.url);',
        ].join('\n'),
      },
      plugins: [importMetaPlugin(repoRoot, buildDir), zodLocalesPlugin()],
    });
    const inputs: BundleManifest['inputs'] = {};
    for (const input of Object.keys(result.metafile.inputs)) {
      // The generated locale index is no file (its `en.js` is recorded as an input of its own).
      if (input.startsWith('zod-locales:')) continue;
      const st = statSync(join(repoRoot, input));
      inputs[input] = [st.size, st.mtimeMs];
    }
    return { format: BUNDLE_FORMAT, entry: `${basename(buildDir)}/layerlab.js`, inputs };
  } catch (err) {
    rmSync(buildDir, { recursive: true, force: true });
    throw new SetupError(`bundling the CLI with esbuild failed: ${(err as Error).message}`);
  }
}
