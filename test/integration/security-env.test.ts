// Issue #9, finding 1: the server's environment leaked into visitors' containers. `docker run -e
// NAME` and `docker build --build-arg NAME` copied the *server process's* variables, so a student
// could print the teacher and admin passwords and take the workshop over. Here the real `layerlab
// serve --workshop` runs as an operator starts it (passwords in its environment and in a file, plus
// another operator secret), a student joins with the code, and types the attack into the browser
// terminal. Also: the shell's own environment (`export`), and `docker info`/`inspect` without the
// server's host paths (a Low finding).

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  testRegistryHost,
  writeServerRegistryCredentials,
  writeTestCredentials,
} from '../support/context.ts';
import { openClient, openShell, type TestClient } from '../support/server.ts';

const BIN = join(import.meta.dirname, '..', '..', 'server', 'bin.js');
const TEACHER_PASSWORD = 'teacher-secret-7f3a9c';
const ADMIN_PASSWORD = 'admin-secret-4b81e2';
/** Any other secret an operator's environment may hold (a cloud token, a database password). */
const OPERATOR_SECRET = 'operator-secret-d0e5c1';
const SECRETS = [TEACHER_PASSWORD, ADMIN_PASSWORD, OPERATOR_SECRET];

let root: string;
let server: ChildProcessWithoutNullStreams;
let serverOut = '';
let url: string;
let code: string;
let student: { session: string; token: string; cookie: string };
let client: TestClient;
let channel: number;

/** Output without colours and cursor moves, for matching. */
const plain = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replaceAll('\r', '');

/** Waits (on socket messages, no sleeps) until the terminal's output after `from` matches `pattern`. */
async function outputAfter(from: number, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = plain(client.output(channel).slice(from));
    if (pattern.test(text)) return text;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${pattern} after:\n${text}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      client.ws.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

let marker = 0;
/** Runs a line in the student's terminal and returns its output once `until` shows up. */
async function type(command: string, until: RegExp): Promise<string> {
  const from = client.output(channel).length;
  client.send({ type: 'terminal.run', terminal: 'main', command });
  return outputAfter(from, until);
}

/** `docker run` of a script that ends by printing a marker the typed line cannot contain. */
async function runInContainer(flags: string, script: string): Promise<string> {
  const n = ++marker;
  return type(
    `docker run --rm ${flags} busybox sh -c '${script}; echo END-$((${n}*1000+1))'`,
    new RegExp(`END-${n * 1000 + 1}`),
  );
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'layerlab-env-'));
  const host = testRegistryHost();
  if (!host) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  writeFileSync(join(root, 'config.json'), JSON.stringify({ mirrors: { 'docker.io': [`http://${host}`] } }));
  // The test registry's credential where setup leaves the local registry's (the server's sessions
  // pull with it) and where the operator's CLI finds its own.
  writeServerRegistryCredentials(root);
  writeTestCredentials(root);
  const adminFile = join(root, 'admin-password');
  writeFileSync(adminFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
  // As an operator starts it: `LAYERLAB_TEACHER_PASSWORD=… layerlab serve --workshop …`.
  server = spawn(process.execPath, [BIN, '--root', root, 'serve', '-p', '0', '--workshop', 'Env Test'], {
    env: {
      ...process.env,
      LAYERLAB_TEACHER_PASSWORD: TEACHER_PASSWORD,
      LAYERLAB_ADMIN_PASSWORD_FILE: adminFile,
      OPERATOR_CLOUD_TOKEN: OPERATOR_SECRET,
    },
  });
  server.stderr.on('data', (d: Buffer) => (serverOut += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`layerlab serve did not start:\n${serverOut}`)), 60_000);
    server.stdout.on('data', (d: Buffer) => {
      serverOut += d.toString();
      const served = /Layerlab is serving (http:\/\/\S+?)\/\n/.exec(serverOut);
      const joined = /join code (\w+)/.exec(serverOut);
      if (served && joined) {
        url = served[1]!;
        code = joined[1]!;
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('exit', (status) => reject(new Error(`layerlab serve exited (${status}):\n${serverOut}`)));
  });

  // A student joins with the code the welcome frame gives every visitor.
  const res = await fetch(`${url}/join/${code}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ name: 'Mallory' }),
  });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const body = (await res.json()) as { session: string };
  student = { session: body.session, cookie, token: decodeURIComponent(cookie.split('=')[1] ?? '') };
  client = openClient(url, student.token, { cookie: true });
  await client.next('welcome', undefined, 30_000);
  channel = await openShell(client);
}, 120_000);

afterAll(async () => {
  await client?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (root) rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('the server’s environment never reaches a visitor', () => {
  it('docker run -e NAME of the server’s secrets passes nothing into the container', async () => {
    const out = await runInContainer(
      '-e LAYERLAB_TEACHER_PASSWORD -e LAYERLAB_ADMIN_PASSWORD -e LAYERLAB_ADMIN_PASSWORD_FILE -e OPERATOR_CLOUD_TOKEN',
      'env',
    );
    expect(out).toContain('HOSTNAME=');
    for (const secret of SECRETS) expect(out).not.toContain(secret);
    // Docker drops a name its caller has not set: the container has no such variable at all.
    expect(out.split('\n').filter((l) => /^(LAYERLAB_|OPERATOR_)/.test(l))).toEqual([]);
  });

  it('docker build --build-arg NAME takes only the shell’s value', async () => {
    // A build context in the student's workspace whose RUN prints the args it gets.
    const context = join(root, 'sessions', student.session, 'workspace', 'argctx');
    mkdirSync(context, { recursive: true });
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        'FROM busybox',
        'ARG LAYERLAB_TEACHER_PASSWORD',
        'ARG OPERATOR_CLOUD_TOKEN',
        'ARG FOO',
        'RUN echo "got [$LAYERLAB_TEACHER_PASSWORD] [$OPERATOR_CLOUD_TOKEN] [$FOO]"',
        '',
      ].join('\n'),
    );
    const leak = await type(
      'docker build --no-cache --build-arg LAYERLAB_TEACHER_PASSWORD --build-arg OPERATOR_CLOUD_TOKEN -t leak argctx',
      /no value and not set in the environment|naming to/,
    );
    for (const secret of SECRETS) expect(leak).not.toContain(secret);
    expect(leak).toContain('build-arg LAYERLAB_TEACHER_PASSWORD: no value and not set in the environment');

    await type('export FOO=from-the-shell', /\n[^\n]*\$ $/);
    const ok = await type('docker build --no-cache --build-arg FOO -t ok argctx', /naming to|rror/);
    expect(ok).toContain('got [] [] [from-the-shell]');
  });

  it('export sets what -e NAME passes; unset removes it; env lists the shell’s own environment', async () => {
    await type('export GREETING=hello-from-export', /\n[^\n]*\$ $/);
    expect(await runInContainer('-e GREETING', 'env')).toContain('GREETING=hello-from-export');

    const env = await type('env', /PATH=\/usr\/local\/sbin/);
    expect(env).toContain('HOME=/home/reader');
    expect(env).toContain('GREETING=hello-from-export');
    for (const secret of SECRETS) expect(env).not.toContain(secret);
    expect(env).not.toMatch(/LAYERLAB_|OPERATOR_/);

    await type('unset GREETING', /\n[^\n]*\$ $/);
    expect(await runInContainer('-e GREETING', 'env')).not.toContain('GREETING=');
  });

  it('the takeover fails: what a student can print does not sign in as the teacher', async () => {
    // The password did reach the workshop (taken from the environment at start-up) …
    const teacher = await fetch(`${url}/teacher/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ code, password: TEACHER_PASSWORD }),
    });
    expect(teacher.status).toBe(200);
    // … and the admin password from its file.
    const wrongAdmin = await fetch(`${url}/api/workshop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url },
      body: JSON.stringify({ adminPassword: 'not-it', name: 'Other', seats: 2 }),
    });
    expect(wrongAdmin.status).toBe(401);
    // Every line the student saw in the terminal, tried as the password, fails.
    const seen = new Set(
      plain(client.output(channel))
        .split(/[\s=[\]]+/)
        .filter((w) => w.length >= 8),
    );
    for (const secret of SECRETS) expect(seen.has(secret)).toBe(false);
  });

  it('processes the server starts after start-up (shims, runtimes) do not inherit the passwords', async () => {
    const started = await type('docker run -d --name sleeper busybox sleep 600', /[0-9a-f]{64}/);
    const id = /[0-9a-f]{64}/.exec(started)![0];
    const pidOut = await type(`docker inspect -f 'PID-{{.State.Pid}}' ${id.slice(0, 12)}`, /PID-\d+/);
    // The container's init and its ancestors up to the server (or init, for a shim that detached):
    // the shim the server started after start-up holds no password, nor does the container.
    const chain: number[] = [];
    for (let pid = Number(/PID-(\d+)/.exec(pidOut)![1]); pid > 1 && pid !== server.pid; ) {
      chain.push(pid);
      pid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    }
    expect(chain.length).toBeGreaterThan(1);
    for (const p of chain) {
      const environ = readFileSync(`/proc/${p}/environ`, 'utf8');
      for (const name of [
        'LAYERLAB_TEACHER_PASSWORD=',
        'LAYERLAB_ADMIN_PASSWORD',
        TEACHER_PASSWORD,
        ADMIN_PASSWORD,
      ]) {
        expect(environ, `process ${p}`).not.toContain(name);
      }
    }
    await type('docker rm -f sleeper', /\nsleeper\n/);
  });
});

describe('the browser terminal shows no host paths', () => {
  it('docker info and docker version name no directory of the server', async () => {
    const info = await type('docker info', /Layerlab Root Dir: .*\n/);
    const version = await type('docker version', /Storage driver/);
    for (const text of [info, version]) {
      expect(text).not.toContain(root);
      expect(text).not.toMatch(/\/var\/lib\/layerlab|\/run\/layerlab|\/usr\/(local\/)?s?bin\/(crun|runc)/);
    }
    expect(info).toContain('Layerlab Root Dir: (not shown in the browser terminal)');
  });

  it('docker inspect leaves the layer, container and run dirs empty', async () => {
    await type('docker create --name paths busybox true', /[0-9a-f]{64}/);
    const container = await type(
      "docker inspect -f '{{json .GraphDriver}} {{json .LogPath}} {{json .Layerlab}} END-INSPECT' paths",
      /END-INSPECT\n/,
    );
    const image = await type(
      "docker inspect --type image -f '{{json .GraphDriver}}' busybox",
      /"Name":"overlay2".*\n/,
    );
    for (const text of [container, image]) {
      expect(text).not.toContain(root);
      expect(text).not.toContain('/run/layerlab');
    }
    expect(container).toContain('"UpperDir":""');
    await type('docker rm paths', /\npaths\n/);
  });
});

describe('the operator’s own `layerlab` keeps Docker’s behaviour', () => {
  it('-e NAME copies NAME from the shell that ran it', async () => {
    const child = spawn(
      process.execPath,
      [BIN, '--root', root, 'run', '--rm', '-e', 'FOO', 'busybox', 'env'],
      {
        env: { ...process.env, FOO: 'from-the-operator' },
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    const status = await new Promise((resolve) => child.on('close', resolve));
    expect(status, stdout).toBe(0);
    expect(stdout).toContain('FOO=from-the-operator');
  }, 120_000);
});
