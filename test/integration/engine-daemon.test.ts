// The resident engine (engine/daemon/) and its client (native/client.c), as `layerlab` runs them: a
// command handed to the engine answers exactly as the in-process CLI does (stdout, stderr, status),
// with stdin, in parallel, only for the engine's own uid, and the engine goes when stale or idle.
// The engines here run a bundle built for this test; their log says which commands they served.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitFrame, FRAME, FrameReader, frame } from '../../engine/daemon/protocol.ts';
import { bundleCli } from '../../scripts/setup/bundle.ts';
import { buildNative } from '../../scripts/setup/native.ts';
import { cliModule } from '../../server/cli-bundle.js';
import { testRegistryHost, writeTestCredentials } from '../support/context.ts';

const REPO = join(import.meta.dirname, '..', '..');
const CLIENT = join(REPO, 'native', 'build', 'layerlab-client');
const BUNDLE_DIR = join(REPO, 'dist', `cli-daemon-test-${process.pid}`);
// Traversable by the unprivileged uid of the refusal tests (mkdtemp makes 0700).
const scratch = mkdtempSync(join(tmpdir(), 'layerlab-daemon-'));
chmodSync(scratch, 0o755);
// The engine and the clients share PATH (the engine hands back a client whose PATH differs), with
// this Node first: the client's fallback runs `node`.
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
const NOBODY = 65534;

interface Answer {
  status: number;
  stdout: string;
  stderr: string;
}

let bundleUrl: string;
const engines: ChildProcess[] = [];

function freshRoot(name: string): string {
  const root = join(scratch, name);
  mkdirSync(root, { mode: 0o755 });
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({ mirrors: { 'docker.io': [`http://${testRegistryHost()}`] } }),
  );
  writeTestCredentials(root);
  return root;
}

/**
 * Starts an engine for `root` on the test's bundle. Its code counts as current while `stale` does
 * not exist (so edits elsewhere in the shared tree cannot end it mid-test), or, with `manifestDir`,
 * while that bundle's manifest still matches the sources (the check server/bin.js makes).
 */
async function startEngine(
  root: string,
  options: { idleMs?: number; manifestDir?: string; url?: string } = {},
): Promise<{ child: ChildProcess; log: () => string; exited: Promise<number | null> }> {
  const logFile = join(root, 'engine-test.log');
  const script = join(scratch, `engine-${engines.length}.mjs`);
  const url = options.url ?? bundleUrl;
  // With a manifest, as server/bin.js decides: recheck cliModule after inotify saw a change.
  const current = options.manifestDir
    ? `(() => { let changed = false; watchBundleInputs(${JSON.stringify(REPO)}, () => { changed = true; }, ${JSON.stringify(options.manifestDir)}); return () => { if (!changed) return true; changed = false; return cliModule(${JSON.stringify(REPO)}, ${JSON.stringify(options.manifestDir)}).url === ${JSON.stringify(url)}; }; })()`
    : `() => !existsSync(${JSON.stringify(join(root, 'stale'))})`;
  writeFileSync(
    script,
    [
      `import { appendFileSync, existsSync } from 'node:fs';`,
      `import { cliModule, watchBundleInputs } from ${JSON.stringify(pathToFileURL(join(REPO, 'server', 'cli-bundle.js')).href)};`,
      `const cli = await import(${JSON.stringify(url)});`,
      `await cli.runLayerlabDaemon(${JSON.stringify(root)}, {`,
      `  idleMs: ${options.idleMs ?? 600_000},`,
      `  current: ${current},`,
      `  log: (line) => appendFileSync(${JSON.stringify(logFile)}, line + '\\n'),`,
      '});',
      'process.exit(0);',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [script], { env: ENV, stdio: ['ignore', 'ignore', 'inherit'] });
  engines.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => existsSync(join(root, 'engine.sock')), 'the engine socket');
  return { child, log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''), exited };
}

async function waitFor(ok: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** `layerlab ARGS` through the client, as bin/layerlab runs it. */
function client(
  args: string[],
  options: { env?: Record<string, string>; input?: string; asNobody?: boolean } = {},
): Promise<Answer> {
  const [file, argv] = options.asNobody
    ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', CLIENT, ...args]]
    : [CLIENT, args];
  return new Promise((resolve) => {
    const child = execFile(
      file,
      argv,
      { env: { ...ENV, ...options.env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ status, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

const served = (log: string) => log.split('\n').filter((l) => l.startsWith('served: '));

beforeAll(async () => {
  if (!testRegistryHost())
    throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  buildNative(REPO, { quiet: true });
  const manifest = await bundleCli(REPO, BUNDLE_DIR);
  if (!manifest) throw new Error('the sources kept changing while the test bundled them');
  bundleUrl = pathToFileURL(join(BUNDLE_DIR, manifest.entry)).href;
}, 300_000);

afterAll(async () => {
  for (const engine of engines) engine.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
});

describe('a command handed to the resident engine', () => {
  let root: string;
  let engine: Awaited<ReturnType<typeof startEngine>>;
  beforeAll(async () => {
    root = freshRoot('main');
    engine = await startEngine(root);
    const pulled = await client(['--root', root, 'pull', 'busybox']);
    expect(pulled.status, pulled.stderr).toBe(0);
  }, 300_000);

  const commands: string[][] = [
    ['version'],
    ['--version'],
    ['--help'],
    ['images'],
    ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
    ['rmi', 'no-such-image'], // an engine error
    ['images', '--bogus'], // a bad flag
    ['nosuchcommand'],
  ];

  it.each(commands)(
    'answers as the in-process CLI does: %s',
    async (...args) => {
      const before = served(engine.log()).length;
      const daemon = await client(['--root', root, ...args]);
      const inProcess = await client(['--root', root, ...args], { env: { LAYERLAB_NO_DAEMON: '1' } });
      expect(daemon).toEqual(inProcess);
      expect(served(engine.log()).slice(before)).toEqual([
        `served: ${JSON.stringify(['--root', root, ...args])}`,
      ]);
    },
    120_000,
  );

  it('gives the exit status, stdout and stderr of the container', async () => {
    const answer = await client([
      '--root',
      root,
      'run',
      '--rm',
      'busybox',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 3',
    ]);
    expect(answer).toEqual({ status: 3, stdout: 'out\n', stderr: 'err\n' });
  }, 120_000);

  it('passes stdin to `run -i`, and reads none for a command that does not ask', async () => {
    const piped = await client(['--root', root, 'run', '-i', '--rm', 'busybox', 'cat'], {
      input: 'hello through the engine\n',
    });
    expect(piped).toEqual({ status: 0, stdout: 'hello through the engine\n', stderr: '' });
    // `sh -c 'layerlab images; cat'`: images must leave the shell's stdin to cat.
    const shell = await new Promise<Answer>((resolve) => {
      const child = execFile(
        'sh',
        ['-c', `"$0" --root "$1" images -q >/dev/null; cat`, CLIENT, root],
        { env: ENV, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ status: err ? -1 : 0, stdout, stderr }),
      );
      child.stdin?.end('left for cat\n');
    });
    expect(shell).toEqual({ status: 0, stdout: 'left for cat\n', stderr: '' });
  }, 120_000);

  it('runs the caller’s environment and cwd, not its own', async () => {
    const before = served(engine.log()).length;
    const cwd = join(scratch, 'elsewhere');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, 'vars.env'), 'FROM_FILE=relative path read\n');
    const answer = await new Promise<Answer>((resolve) => {
      execFile(
        CLIENT,
        [
          '--root',
          root,
          'run',
          '--rm',
          '-e',
          'ONLY_CALLER',
          '--env-file',
          'vars.env',
          'busybox',
          'sh',
          '-c',
          'echo "$ONLY_CALLER / $FROM_FILE"',
        ],
        { env: { ...ENV, ONLY_CALLER: 'the caller’s' }, cwd, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ status: err ? -1 : 0, stdout, stderr }),
      );
    });
    expect(answer).toEqual({ status: 0, stdout: 'the caller’s / relative path read\n', stderr: '' });
    expect(served(engine.log()).length).toBe(before + 1);
  }, 120_000);

  it('forwards Ctrl-C as the in-process CLI handles it', async () => {
    const interrupted = (env: Record<string, string>) =>
      new Promise<Answer>((resolve) => {
        const script = 'trap "echo got INT; exit 5" INT; echo ready; sleep 30 & wait';
        const child = spawn(CLIENT, ['--root', root, 'run', '--rm', 'busybox', 'sh', '-c', script], {
          env: { ...ENV, ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout === 'ready\n') child.kill('SIGINT');
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      });
    const before = served(engine.log()).length;
    const daemon = await interrupted({});
    expect(served(engine.log()).length).toBe(before + 1);
    expect(daemon).toEqual({ status: 5, stdout: 'ready\ngot INT\n', stderr: '' });
    expect(await interrupted({ LAYERLAB_NO_DAEMON: '1' })).toEqual(daemon);
  }, 120_000);

  it('runs five clients at once', async () => {
    const before = served(engine.log()).length;
    const answers = await Promise.all(
      [0, 1, 2, 3, 4].map((n) =>
        client(['--root', root, 'run', '--rm', 'busybox', 'sh', '-c', `echo run ${n}; exit ${n}`]),
      ),
    );
    expect(answers).toEqual([0, 1, 2, 3, 4].map((n) => ({ status: n, stdout: `run ${n}\n`, stderr: '' })));
    expect(served(engine.log()).length).toBe(before + 5);
  }, 180_000);

  it('hands a terminal command back to the in-process CLI', async () => {
    // `script` gives the client a terminal; `run -t` on it needs the caller's terminal.
    const answer = await new Promise<Answer>((resolve) => {
      execFile(
        'script',
        ['-qec', `${CLIENT} --root ${root} run -t --rm busybox echo on-a-tty`, '/dev/null'],
        { env: ENV, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ status: err ? -1 : 0, stdout, stderr }),
      );
    });
    expect(answer.status).toBe(0);
    expect(answer.stdout).toContain('on-a-tty');
    expect(engine.log()).toContain(
      `fallback (terminal): ${JSON.stringify(['--root', root, 'run', '-t', '--rm', 'busybox', 'echo', 'on-a-tty'])}`,
    );
  }, 120_000);

  it('is not used with LAYERLAB_NO_DAEMON=1', async () => {
    const before = served(engine.log()).length;
    const answer = await client(['--root', root, 'images', '-q'], { env: { LAYERLAB_NO_DAEMON: '1' } });
    expect(answer.status).toBe(0);
    expect(served(engine.log()).length).toBe(before);
  }, 120_000);

  it('is not handed a command from another uid', async () => {
    const before = served(engine.log()).length;
    // The client refuses a socket that is not its uid's and runs the command itself (which then
    // fails as that user, as `layerlab` without the engine would).
    const answer = await client(['--root', root, 'images', '-q'], { asNobody: true });
    expect(answer.status).not.toBe(0);
    expect(served(engine.log()).length).toBe(before);

    // With the socket's mode opened up by mistake, the engine itself refuses the peer (SO_PEERCRED).
    const socketPath = join(root, 'engine.sock');
    chmodSync(socketPath, 0o666);
    try {
      const hello = Buffer.from(
        ['layerlab-1', '/', '22', '000', '0', '0', '2', '--root', root, 'images', ''].join('\0'),
      );
      const probe = [
        `const net = require('node:net');`,
        `const s = net.connect(${JSON.stringify(socketPath)}, () => s.write(Buffer.from(${JSON.stringify(
          frame(FRAME.hello, hello).toString('base64'),
        )}, 'base64')));`,
        `const parts = []; s.on('data', (d) => parts.push(d)); s.on('close', () => process.stdout.write(Buffer.concat(parts).toString('base64')));`,
      ].join('\n');
      const reply = await new Promise<string>((resolve, reject) => {
        execFile(
          'setpriv',
          [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', probe],
          { timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
        );
      });
      const frames = new FrameReader().push(Buffer.from(reply, 'base64'));
      expect(frames.map((f) => f.type)).toEqual([FRAME.stderr, FRAME.exit]);
      expect(frames[0]!.payload.toString()).toContain(`refuses uid ${NOBODY}`);
      expect(frames[1]!.payload).toEqual(exitFrame(1).subarray(5));
      expect(engine.log()).toContain(`refused uid ${NOBODY}`);
      expect(served(engine.log()).length).toBe(before);
    } finally {
      chmodSync(socketPath, 0o600);
    }
  }, 120_000);
});

describe('the resident engine’s life', () => {
  it('hands the command back and goes when its code is stale', async () => {
    const root = freshRoot('stale');
    // A bundle of its own, whose manifest the test edits as a changed source would make it wrong.
    const dir = join(REPO, 'dist', `cli-daemon-stale-${process.pid}`);
    cpSync(BUNDLE_DIR, dir, { recursive: true });
    try {
      const manifestPath = join(dir, 'manifest.json');
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      const url = pathToFileURL(join(dir, manifest.entry)).href;
      const engine = await startEngine(root, { manifestDir: dir, url });
      // Fresh (unless another change to the sources already made it stale: then it has gone too).
      if (cliModule(REPO, dir).bundle) {
        expect((await client(['--root', root, 'version'])).status).toBe(0);
        expect(served(engine.log())).toHaveLength(1);
      }
      const [first] = Object.keys(manifest.inputs);
      manifest.inputs[first!][1] += 1; // as if that input had been touched since bundling
      writeFileSync(manifestPath, JSON.stringify(manifest));
      const answer = await client(['--root', root, 'images', '-q']);
      expect(answer).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(engine.log()).toContain('stopping: stale');
      expect(await engine.exited).toBe(0);
      expect(existsSync(join(root, 'engine.sock'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('is started by the first client that finds none, which runs its own command meanwhile', async () => {
    const root = freshRoot('auto');
    // server/bin.js starts the engine only on a fresh dist/cli/ bundle: make sure it is one.
    expect(await bundleCli(REPO)).toBeDefined();
    const first = await client(['--root', root, 'images', '-q']);
    expect(first).toEqual({ status: 0, stdout: '', stderr: '' });
    await waitFor(() => existsSync(join(root, 'engine.sock')), 'the started engine');
    const pid = Number(readFileSync(join(root, 'engine.sock.lock'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    try {
      expect(await client(['--root', root, 'images', '-q'])).toEqual({ status: 0, stdout: '', stderr: '' });
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  }, 180_000);

  it('exits when idle, removing its socket', async () => {
    const root = freshRoot('idle');
    const engine = await startEngine(root, { idleMs: 1500 });
    expect((await client(['--root', root, 'images', '-q'])).status).toBe(0);
    expect(await engine.exited).toBe(0);
    expect(engine.log()).toContain('stopping: idle');
    expect(existsSync(join(root, 'engine.sock'))).toBe(false);
    // And the next command still works, in-process.
    expect(
      (await client(['--root', root, 'images', '-q'], { env: { LAYERLAB_NO_DAEMON: '1' } })).status,
    ).toBe(0);
  }, 120_000);
});
