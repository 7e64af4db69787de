// The `layerlab` executable loads setup's esbuild bundle (dist/cli/) when it is fresh: the bundle must
// behave exactly as the TypeScript sources do, and a bundle whose inputs changed must not be used.
// Each command here runs twice, as separate processes on separate fresh roots, once through a bundle
// built for this test and once through the sources, and the two answers are compared.

import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRootOf } from '../../engine/store/paths.ts';
import { type BundleManifest, bundleCli } from '../../scripts/setup/bundle.ts';
import { BUNDLE_FORMAT, cliModule } from '../../server/cli-bundle.js';
import { testRegistryHost, writeTestCredentials } from '../support/context.ts';

const REPO = join(import.meta.dirname, '..', '..');
// Inside the repository, as dist/cli/ is: the bundle finds koffi and esbuild in node_modules from there.
const BUNDLE_DIR = join(REPO, 'dist', `cli-test-${process.pid}`);
const scratch = mkdtempSync(join(tmpdir(), 'layerlab-bundle-'));

interface Answer {
  status: number;
  stdout: string;
  stderr: string;
}

/** A launcher that loads the CLI from `moduleUrl` as server/bin.js does. */
function launcher(name: string, moduleUrl: string): string {
  const file = join(scratch, `${name}.mjs`);
  writeFileSync(
    file,
    `import { enableCompileCache } from 'node:module';\nenableCompileCache();\nconst cli = await import(${JSON.stringify(moduleUrl)});\nawait cli.runLayerlab();\n`,
  );
  return file;
}

function freshRoot(name: string): string {
  const root = join(scratch, name);
  mkdirSync(root);
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({ mirrors: { 'docker.io': [`http://${testRegistryHost()}`] } }),
  );
  writeTestCredentials(root);
  return root;
}

function run(script: string, args: string[]): Promise<Answer> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

let bundled: string;
let sources: string;
const roots: Record<'bundle' | 'sources', string> = { bundle: '', sources: '' };

beforeAll(async () => {
  if (!testRegistryHost())
    throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  const manifest = await bundleCli(REPO, BUNDLE_DIR);
  if (!manifest) throw new Error('the sources kept changing while the test bundled them');
  bundled = launcher('bundle', pathToFileURL(join(BUNDLE_DIR, manifest.entry)).href);
  sources = launcher('sources', pathToFileURL(join(REPO, 'server', 'cli.ts')).href);
  roots.bundle = freshRoot('bundle-root');
  roots.sources = freshRoot('sources-root');
});

afterAll(() => {
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  for (const root of Object.values(roots)) {
    if (root) rmSync(runRootOf(root), { recursive: true, force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
});

/** The same command through the bundle and the sources, each on its own root (named alike in the output). */
async function both(args: string[]): Promise<{ bundle: Answer; sources: Answer }> {
  const [bundle, source] = await Promise.all([
    run(bundled, ['--root', roots.bundle, ...args]),
    run(sources, ['--root', roots.sources, ...args]),
  ]);
  const same = (a: Answer, root: string) => ({
    ...a,
    stdout: a.stdout.replaceAll(root, '<root>'),
    stderr: a.stderr.replaceAll(root, '<root>'),
  });
  return { bundle: same(bundle, roots.bundle), sources: same(source, roots.sources) };
}

describe('the CLI bundle answers as the sources do', () => {
  const commands: [string, string[], number][] = [
    ['help', ['--help'], 0],
    ['version', ['version'], 0],
    ['an unknown command', ['frobnicate'], 1],
    ['a usage error', ['run'], 1],
    ['serve --help (the server part)', ['serve', '--help'], 0],
    ['pull', ['pull', 'busybox'], 0],
    ['images', ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'], 0],
    ['run --rm', ['run', '--rm', 'busybox', 'sh', '-c', 'echo hello from $(hostname | wc -c) && exit 3'], 3],
    ['history', ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'busybox'], 0],
    ['an engine error', ['rmi', 'no-such-image'], 1],
  ];
  // In order: `images`, `run` and `history` need the pull before them.
  for (const [title, args, status] of commands) {
    it(title, async () => {
      const { bundle, sources } = await both(args);
      expect(sources.status, sources.stderr).toBe(status);
      expect(bundle).toEqual(sources);
    });
  }
});

describe('the bundle loads only what a command needs', () => {
  /**
   * The bundle's files a command loads, through a launcher that records each module Node resolves
   * (module.registerHooks) and writes the list when the process exits.
   */
  async function loadedFiles(args: string[]): Promise<string[]> {
    const list = join(scratch, `loaded-${args.join('-')}.json`);
    const entry = pathToFileURL(join(BUNDLE_DIR, manifestEntry())).href;
    const file = join(scratch, `trace-${args.join('-')}.mjs`);
    writeFileSync(
      file,
      [
        "import { enableCompileCache, registerHooks } from 'node:module';",
        "import { writeFileSync } from 'node:fs';",
        'enableCompileCache();',
        'const seen = [];',
        'registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });',
        `process.on('exit', () => writeFileSync(${JSON.stringify(list)}, JSON.stringify(seen)));`,
        `const cli = await import(${JSON.stringify(entry)});`,
        'await cli.runLayerlab();',
      ].join('\n'),
    );
    const answer = await run(file, ['--root', roots.bundle, ...args]);
    expect(answer.status, answer.stderr).toBe(0);
    const urls: string[] = JSON.parse(readFileSync(list, 'utf8'));
    return urls.filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname);
  }
  function manifestEntry(): string {
    return (JSON.parse(readFileSync(join(BUNDLE_DIR, 'manifest.json'), 'utf8')) as BundleManifest).entry;
  }
  /** The bundle's files that hold zod (esbuild marks each bundled module with a `// path` line). */
  function zodFiles(): string[] {
    const dir = join(BUNDLE_DIR, manifestEntry(), '..');
    return readdirSync(dir)
      .map((name) => join(dir, name))
      .filter((path) => readFileSync(path, 'utf8').includes('\n// node_modules/zod/'));
  }

  it('--version, --help and `version` never load the config schema (zod), nor koffi', async () => {
    const zod = zodFiles();
    expect(zod.length).toBeGreaterThan(0);
    const koffi = (f: string) => f.includes('/node_modules/koffi/');
    // `version` reads the runtime that the commands above proved on this root from its caches.
    for (const args of [['--version'], ['--help'], ['image', '--help'], ['version']]) {
      const loaded = await loadedFiles(args);
      expect(loaded.length, args.join(' ')).toBeGreaterThan(0);
      expect(
        loaded.filter((f) => zod.includes(f) || koffi(f)),
        args.join(' '),
      ).toEqual([]);
    }
    // The tracer does see zod and koffi where a command needs the engine's context.
    const images = await loadedFiles(['images']);
    expect(images.some((f) => zod.includes(f))).toBe(true);
    expect(images.some(koffi)).toBe(true);
  });

  it('keeps only the English zod locale, and words a bad config.json as the sources do', async () => {
    const zod = zodFiles().map((f) => readFileSync(f, 'utf8'));
    expect(zod.some((text) => text.includes('// node_modules/zod/v4/locales/en.js'))).toBe(true);
    expect(zod.some((text) => text.includes('// node_modules/zod/v4/locales/fr.js'))).toBe(false);
    const bad = (name: string) => {
      const root = join(scratch, name);
      mkdirSync(root);
      writeFileSync(join(root, 'config.json'), JSON.stringify({ usernsBase: 'high', runtime: 'kata' }));
      return root;
    };
    const [bundle, source] = await Promise.all([
      run(bundled, ['--root', bad('bad-config-bundle'), 'images']),
      run(sources, ['--root', bad('bad-config-sources'), 'images']),
    ]);
    expect(source.status).toBe(1);
    expect(source.stderr).toMatch(/config\.json: \w+: Invalid/);
    expect(bundle.stderr.replace('bad-config-bundle', 'X')).toBe(
      source.stderr.replace('bad-config-sources', 'X'),
    );
    expect(bundle.status).toBe(source.status);
  });
});

describe('the compile cache', () => {
  const CACHE = join(REPO, 'node_modules', '.cache', 'layerlab-compile');

  it('bin.js keeps it in node_modules/.cache/, and an edited module is compiled afresh', async () => {
    const answer = await run(join(REPO, 'server', 'bin.js'), ['--version']);
    expect(answer.stdout).toMatch(/^Layerlab version /);
    expect(readdirSync(CACHE).length).toBeGreaterThan(0);
    // The same cache, a module edited in place with its size and mtime kept: a cache keyed on those
    // would serve the old code.
    const dir = mkdtempSync(join(scratch, 'cache-'));
    const mod = join(dir, 'value.mjs');
    const stamp = new Date('2026-01-02T03:04:05Z');
    const write = (text: string) => {
      writeFileSync(mod, text);
      utimesSync(mod, stamp, stamp);
    };
    const main = join(dir, 'main.mjs');
    writeFileSync(
      main,
      `import { enableCompileCache } from 'node:module';\nenableCompileCache(${JSON.stringify(CACHE)});\nconst { value } = await import('./value.mjs');\nprocess.stdout.write(value);\n`,
    );
    write("export const value = 'old';\n");
    expect((await run(main, [])).stdout).toBe('old');
    expect((await run(main, [])).stdout).toBe('old');
    write("export const value = 'new';\n");
    expect((await run(main, [])).stdout).toBe('new');
  });
});

describe('server/bin.js takes the bundle only while it is fresh', () => {
  /** A fake repository of two inputs and a bundle of them, in the layout bundleCli writes. */
  function fakeRepo(): { repo: string; dir: string } {
    const repo = mkdtempSync(join(scratch, 'repo-'));
    mkdirSync(join(repo, 'server'));
    mkdirSync(join(repo, 'engine'));
    const dir = join(repo, 'dist', 'cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(repo, 'server', 'cli.ts'), 'export {};\n');
    writeFileSync(join(repo, 'engine', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'layerlab.js'), 'export {};\n');
    const stamp = new Date('2026-01-02T03:04:05Z');
    utimesSync(join(repo, 'server', 'cli.ts'), stamp, stamp);
    utimesSync(join(repo, 'engine', 'a.ts'), stamp, stamp);
    const inputs = { 'server/cli.ts': [11, stamp.getTime()], 'engine/a.ts': [20, stamp.getTime()] };
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ format: BUNDLE_FORMAT, entry: 'layerlab.js', inputs }),
    );
    return { repo, dir };
  }

  it('uses a bundle whose inputs are as recorded', () => {
    const { repo, dir } = fakeRepo();
    expect(cliModule(repo, dir)).toEqual({ url: pathToFileURL(join(dir, 'layerlab.js')).href, bundle: true });
  });

  it('falls back to the sources when an input was edited, touched, removed, or the bundle is missing', () => {
    const sourcesOf = (repo: string) => pathToFileURL(join(repo, 'server', 'cli.ts')).href;
    const edited = fakeRepo();
    writeFileSync(join(edited.repo, 'engine', 'a.ts'), 'export const a = 2;\n'); // same size, new mtime
    expect(cliModule(edited.repo, edited.dir)).toEqual({
      url: sourcesOf(edited.repo),
      bundle: false,
      stale: 'engine/a.ts changed',
    });
    const touched = fakeRepo();
    utimesSync(join(touched.repo, 'engine', 'a.ts'), new Date(), new Date());
    expect(cliModule(touched.repo, touched.dir).bundle).toBe(false);
    const removed = fakeRepo();
    rmSync(join(removed.repo, 'engine', 'a.ts'));
    expect(cliModule(removed.repo, removed.dir).stale).toBe('engine/a.ts is gone');
    const none = fakeRepo();
    rmSync(join(none.dir, 'manifest.json'));
    expect(cliModule(none.repo, none.dir).stale).toBe('no bundle');
    const older = fakeRepo();
    writeFileSync(
      join(older.dir, 'manifest.json'),
      JSON.stringify({ format: BUNDLE_FORMAT + 1, inputs: {} }),
    );
    expect(cliModule(older.repo, older.dir).stale).toBe('bundle of another format');
  });

  it('the bundle lists the modules the CLI loads, zod with them', () => {
    const manifest: BundleManifest = JSON.parse(readFileSync(join(BUNDLE_DIR, 'manifest.json'), 'utf8'));
    for (const input of [
      'server/cli.ts',
      'engine/cli/main.ts',
      'engine/cli/commands/run.ts',
      'server/serve.ts',
    ]) {
      expect(Object.keys(manifest.inputs)).toContain(input);
    }
    expect(Object.keys(manifest.inputs).some((i) => i.startsWith('node_modules/zod/'))).toBe(true);
  });
});
