// Escape probes from inside a real container: what a hostile reader would try from the lesson shell
// (busybox's own tools, plus a static C probe built into an image with a setuid-root copy), each
// refused or harmless, with the host side checked directly: uids, processes, files and sockets.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../engine/builder/build.ts';
import { removeContainer, runContainer } from '../../engine/container/index.ts';
import { imageLayers } from '../../engine/oci/types.ts';
import { closeRoot, openRoot } from '../../engine/recover.ts';
import { DENIED_SYSCALLS } from '../../engine/runtime/spec.ts';
import { loadImage } from '../../engine/store/images.ts';
import { layerDiffDir } from '../../engine/store/layers.ts';
import { containerPath } from '../../engine/store/paths.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import { type TestContext, testRegistryHost } from '../support/context.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const EPERM = 1;
const ECONNREFUSED = 111;
const PROBE_SOURCE = join(import.meta.dirname, '..', 'support', 'escape-probe.c');

let t: TestContext;
let base: number;
let srv: TestServer;
let contextDir: string;
/** The host process every "outside" probe aims at: a sleep with an argument nothing else uses. */
let outsider: ChildProcess;
const OUTSIDER_MARK = '8765431';

beforeAll(async () => {
  t = await busyboxContext();
  base = t.ctx.config.usernsBase;
  contextDir = mkdtempSync(join(tmpdir(), 'layerlab-probe-'));
  execFileSync('gcc', ['-static', '-O1', '-o', join(contextDir, 'escape-probe'), PROBE_SOURCE]);
  await build(t.ctx, {
    contextDir,
    dockerfileText: [
      'FROM busybox',
      'COPY escape-probe /bin/escape-probe',
      'RUN cp /bin/escape-probe /bin/suid-probe && chown 0:0 /bin/suid-probe && chmod 4755 /bin/suid-probe && mkdir /mnt',
    ].join('\n'),
    tags: ['probe'],
  });
  srv = await startTestServer();
  outsider = spawn('sleep', [OUTSIDER_MARK], { stdio: 'ignore' });
});

afterAll(async () => {
  outsider?.kill('SIGKILL');
  await srv?.close();
  await disposeContainers(t);
  if (contextDir) rmSync(contextDir, { recursive: true, force: true });
});

/** Runs `cmd` in a fresh probe container (removed afterwards); all its output, and its exit code. */
async function inside(cmd: string[], opts: { user?: string } = {}): Promise<{ out: string; code: number }> {
  const run = await runContainer(t.ctx, { image: 'probe', cmd, autoRemove: true, ...opts });
  let out = '';
  run.connection!.onData((_stream, data) => {
    out += data.toString();
  });
  const closed = new Promise<void>((resolve) => run.connection!.onExit(() => resolve()));
  const code = await run.exited;
  await closed;
  return { out, code };
}

/** A shell script, its stderr on stdout so that lines keep their order (two pipes would interleave). */
const sh = (script: string, opts: { user?: string } = {}) =>
  inside(['sh', '-c', `exec 2>&1; ${script}`], opts);

/** `name result` lines of escape-probe as a map. */
function probeResults(out: string): Map<string, string> {
  return new Map(
    out
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter((f): f is [string, string] => f.length === 2)
      .map(([k, v]) => [k, v]),
  );
}

/** A detached probe container's init pid on the host, and a way to remove it. */
async function detached(cmd: string[], opts: { user?: string } = {}) {
  const run = await runContainer(t.ctx, { image: 'probe', cmd, detach: true, ...opts });
  return {
    id: run.record.id,
    pid: run.record.state.pid,
    remove: () => removeContainer(t.ctx, run.record.id, { force: true }),
  };
}

/** Host pids whose command line contains `mark` as an argument. */
function hostPidsWith(mark: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      if (!zombie && args.includes(mark)) found.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `rc=N` lines a script printed after each attempt. */
const exitCodes = (out: string) => [...out.matchAll(/^rc=(\d+)$/gm)].map((m) => Number(m[1]));

describe('the kernel’s global state', () => {
  it('refuses every mount, remount and unmount (the masked /proc paths stay masked)', async () => {
    const attempts = [
      'mount -t tmpfs none /mnt',
      'mount -t proc proc /mnt',
      'mount -t sysfs sysfs /mnt',
      'mount -t cgroup -o memory cgroup /mnt',
      'mount --bind / /mnt',
      'mount -o remount,rw /proc/sys',
      'mount -o remount,rw /sys',
      'umount /proc/kcore',
      'umount -l /proc/sys',
    ];
    const script = `before=$(wc -l < /proc/self/mountinfo); ${attempts.map((a) => `${a}; echo rc=$?`).join('; ')}; echo mounts=$before/$(wc -l < /proc/self/mountinfo); cat /proc/kcore | wc -c`;
    const { out } = await sh(script);
    const codes = exitCodes(out);
    expect(codes).toHaveLength(attempts.length);
    for (const [i, code] of codes.entries()) expect(code, attempts[i]).not.toBe(0);
    const [, before, after] = out.match(/mounts=(\d+)\/(\d+)/)!;
    expect(after).toBe(before);
    expect(out).toMatch(/^0$/m); // /proc/kcore is still the masked, empty file
  });

  it('cannot write /proc/sys, /proc/sysrq-trigger or /sys; the host’s values are unchanged', async () => {
    // Each write puts back the value just read (or asks sysrq for its help text): harmless if it got through.
    const targets = ['/proc/sys/kernel/core_pattern', '/proc/sys/vm/swappiness', '/sys/kernel/mm/ksm/run'];
    const hostBefore = targets.map((p) => readFileSync(p, 'utf8'));
    const script = [
      ...targets.map((p) => `v=$(cat ${p}); echo "$v" > ${p}; echo rc=$?`),
      'echo h > /proc/sysrq-trigger; echo rc=$?',
      'echo 1 > /sys/class/net/lo/tx_queue_len; echo rc=$?',
      'ls /sys/fs/cgroup | wc -l',
    ].join('; ');
    const { out } = await sh(script);
    expect(exitCodes(out)).toEqual([1, 1, 1, 1, 1]);
    expect(out).toMatch(/Read-only file system/);
    expect(out).toMatch(/^0$/m); // no cgroup filesystem inside: no release_agent to write
    expect(targets.map((p) => readFileSync(p, 'utf8'))).toEqual(hostBefore);
  });

  it('cannot load or unload kernel modules', async () => {
    const { out } = await sh('insmod /bin/busybox; echo rc=$?; rmmod layerlab_no_such_module; echo rc=$?');
    expect(exitCodes(out)).toEqual([1, 1]);
    expect(out).toMatch(/insmod: can't insert '\/bin\/busybox': Operation not permitted/);
    // Refused before the kernel even looked for the module (which does not exist).
    expect(out).toMatch(/rmmod: can't unload module 'layerlab_no_such_module': Operation not permitted/);
  });

  it('gets EPERM from every syscall of the seccomp deny-list it calls', async () => {
    const { out } = await inside(['escape-probe', 'syscalls']);
    const results = probeResults(out);
    expect(results.size).toBeGreaterThanOrEqual(24);
    for (const [name, result] of results) {
      expect(result, `${name} returned ${result}`).toBe(String(EPERM));
      if (name !== 'unshare') expect(DENIED_SYSCALLS).toContain(name);
    }
  });

  it('cannot set the clock or the hostname, read the kernel log, make device nodes or reach /dev/mem', async () => {
    const hostName = readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const { out } = await sh(
      [
        'dmesg >/dev/null; echo rc=$?',
        'mknod /tmp/sda b 8 0; echo rc=$?',
        'devmem 0x0; echo rc=$?',
        'hostname evil-probe; echo rc=$?; hostname',
        // busybox's date exits 0 even when it cannot set the clock: its message says what happened.
        'date -s 2001-01-01 >/dev/null',
      ].join('; '),
    );
    // Even the hostname, which is the container's own (UTS namespace), needs CAP_SYS_ADMIN it lacks.
    expect(exitCodes(out)).toEqual([1, 1, 1, 1]);
    expect(out).toMatch(/date: can't set date: Operation not permitted/);
    expect(out).not.toMatch(/^evil-probe$/m);
    expect(readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(hostName);
    expect(new Date().getFullYear()).toBeGreaterThan(2001);
  });
});

describe('other processes', () => {
  it('sees only its own processes, not the host’s', async () => {
    const { out } = await sh(
      `ps -o pid,args; ls /proc | grep -c '^[0-9]'; cat /proc/${outsider.pid}/cmdline; echo rc=$?`,
    );
    expect(out).not.toContain(OUTSIDER_MARK);
    expect(out).toMatch(/^\s*1 sh -c exec/m); // its own shell is pid 1
    const count = Number(out.match(/^(\d+)$/m)![1]);
    expect(count).toBeLessThan(10);
    expect(exitCodes(out).at(-1)).not.toBe(0);
  });

  it('cannot ptrace a process outside, by its host pid or through its own pid 1', async () => {
    const outsiderPid = String(outsider.pid);
    const { out } = await sh(
      `escape-probe ptrace ${outsiderPid}; escape-probe ptrace 1; kill -0 ${outsiderPid}; echo rc=$?`,
    );
    expect(out.match(/^ptrace_attach (\S+)$/gm)).toEqual([
      `ptrace_attach ${EPERM}`,
      `ptrace_attach ${EPERM}`,
    ]);
    expect(exitCodes(out)).toEqual([1]);
    // The outsider is untouched.
    expect(readFileSync(`/proc/${outsiderPid}/status`, 'utf8')).toMatch(/^State:\s+S/m);
  });

  it('leaves no process behind after rm -f, not even a daemonised, double-forked one', async () => {
    const marks = ['7650001', '7650002', '7650003'];
    const c = await detached([
      'sh',
      '-c',
      `setsid sh -c "sleep ${marks[0]} </dev/null >/dev/null 2>&1 &"; (sleep ${marks[1]} &); ` +
        `start-stop-daemon -S -b -x /bin/sleep -- ${marks[2]}; exec sleep 600`,
    ]);
    await until(() => marks.every((m) => hostPidsWith(m).length === 1), 10_000, 'the daemons to start');
    await c.remove();
    await until(() => marks.every((m) => hostPidsWith(m).length === 0), 5000, 'the daemons to die');
    expect(hostPidsWith(marks[0]!)).toEqual([]);
  });
});

describe('the network', () => {
  let wildcard: Server;
  beforeAll(async () => {
    wildcard = createServer((s) => s.end('hello from the host\n'));
    await new Promise<void>((resolve) => wildcard.listen(0, '0.0.0.0', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => wildcard.close(() => resolve())));

  it('cannot reach the registry, the Layerlab server or any host address', async () => {
    const registry = testRegistryHost();
    expect(registry).toBeDefined();
    const registryPort = registry!.split(':').at(-1)!;
    const serverPort = new URL(srv.url).port;
    const wildcardPort = (wildcard.address() as { port: number }).port;
    const hostAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    // From the host, every one of them answers: what fails inside fails because of the sandbox.
    // The registry answers the host (401: it asks every client for its credential).
    expect((await fetch(`http://127.0.0.1:${registryPort}/v2/`)).status).toBe(401);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    const targets = [
      `127.0.0.1:${registryPort}`,
      `127.0.0.1:${serverPort}`,
      `127.0.0.1:${wildcardPort}`,
      ...hostAddresses.map((a) => `${a}:${wildcardPort}`),
    ];
    const script = targets
      .map((hp) => `nc -w 3 ${hp.replace(':', ' ')} </dev/null 2>&1; echo rc=$?`)
      .join('; ');
    const { out } = await sh(`${script}; ip -o link | wc -l`);
    expect(exitCodes(out)).toEqual(targets.map(() => 1));
    expect(out).toMatch(/Connection refused/);
    if (hostAddresses.length > 0) expect(out).toMatch(/Network is unreachable/);
    expect(out).not.toContain('hello from the host');
    expect(out).toMatch(/^1$/m); // one interface: its own loopback
  });

  it('cannot connect to the host’s abstract unix sockets', async () => {
    const name = `layerlab-probe-${process.pid}`;
    const abstract = createServer((s) => s.end('hello\n'));
    await new Promise<void>((resolve) => abstract.listen(`\0${name}`, resolve));
    try {
      const { out } = await inside(['escape-probe', 'abstract', name]);
      expect(probeResults(out).get('abstract_connect')).toBe(String(ECONNREFUSED));
    } finally {
      await new Promise<void>((resolve) => abstract.close(() => resolve()));
    }
  });

  it('has raw sockets only inside its own network namespace: they reach nothing of the host', async () => {
    const hostAddress = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    const { out } = await sh(
      `escape-probe rawsock; ping -c 1 -W 1 127.0.0.1 >/dev/null; echo rc=$?; ${hostAddress ? `ping -c 1 -W 1 ${hostAddress}; echo rc=$?` : ''}`,
    );
    // CAP_NET_RAW is in Docker's default set: the socket opens, in a namespace holding only `lo`.
    expect(probeResults(out).get('af_packet')).toBe('ok');
    const codes = exitCodes(out);
    expect(codes[0]).toBe(0);
    if (hostAddress) {
      expect(codes[1]).not.toBe(0);
      expect(out).toMatch(/Network is unreachable/);
    }
  });
});

describe('users and setuid files', () => {
  it('runs container root as the unprivileged host uid base, in its own user namespace', async () => {
    const root = await detached(['escape-probe', 'hold']);
    const alice = await detached(['escape-probe', 'hold'], { user: 'alice' });
    try {
      const status = readFileSync(`/proc/${root.pid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${base}\\s+${base}\\s+${base}\\s+${base}$`, 'm'));
      expect(status).toMatch(new RegExp(`^Gid:\\s+${base}\\s+${base}\\s+${base}\\s+${base}$`, 'm'));
      expect(readFileSync(`/proc/${root.pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual([
        '0',
        String(base),
        String(t.ctx.config.usernsSize),
      ]);
      expect(readFileSync(`/proc/${root.pid}/gid_map`, 'utf8').trim().split(/\s+/)).toEqual([
        '0',
        String(base),
        String(t.ctx.config.usernsSize),
      ]);
      expect(readlinkSync(`/proc/${root.pid}/ns/user`)).not.toBe(readlinkSync('/proc/self/ns/user'));
      const aliceUid = base + 1000;
      expect(readFileSync(`/proc/${alice.pid}/status`, 'utf8')).toMatch(
        new RegExp(`^Uid:\\s+${aliceUid}\\s+${aliceUid}\\s+${aliceUid}\\s+${aliceUid}$`, 'm'),
      );
    } finally {
      await root.remove();
      await alice.remove();
    }
  });

  it('does not honour a setuid-root binary from the image, which the host sees owned by the shifted uid', async () => {
    // Host side: the unpacked layer holds the setuid file, owned by container root = host uid base.
    const image = await loadImage(t.ctx, 'probe');
    const top = imageLayers(image).at(-1)!;
    const file = lstatSync(join(layerDiffDir(t.ctx, top.diffId), 'bin', 'suid-probe'));
    expect(file.uid).toBe(base);
    expect(file.gid).toBe(base);
    expect(file.mode & 0o4000).toBe(0o4000);

    // Inside, run by nobody: no_new_privs ignores the setuid bit, and setuid(0) is refused.
    const { out } = await inside(['suid-probe', 'ids'], { user: 'nobody' });
    expect(out).toMatch(/^uid 65534 euid 65534 gid 65534 egid 65534$/m);
    expect(probeResults(out).get('setuid0')).toBe(String(EPERM));

    // And from the host: the process is the shifted nobody, never uid 0.
    const held = await detached(['suid-probe', 'hold'], { user: 'nobody' });
    try {
      const nobody = base + 65534;
      expect(readFileSync(`/proc/${held.pid}/status`, 'utf8')).toMatch(
        new RegExp(`^Uid:\\s+${nobody}\\s+${nobody}\\s+${nobody}\\s+${nobody}$`, 'm'),
      );
    } finally {
      await held.remove();
    }
  });

  it('keeps unpacked layers, setuid files and all, out of reach of the host’s other users', async () => {
    // Opening a root (every CLI command, the server at start) makes layers/ root-only: a local user
    // who could run an image's setuid file there would become the namespace's root uid on the host.
    await openRoot(t.ctx);
    closeRoot(t.ctx);
    expect(lstatSync(t.ctx.paths.layers).mode & 0o777).toBe(0o700);
    const image = await loadImage(t.ctx, 'probe');
    const probe = join(layerDiffDir(t.ctx, imageLayers(image).at(-1)!.diffId), 'bin', 'suid-probe');
    // Through a shell: setpriv given the path itself looks it up before it drops its rights.
    const asNobody = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `${probe} ids`],
      { encoding: 'utf8' },
    );
    expect(asNobody.status, asNobody.stdout).not.toBe(0);
    expect(asNobody.stderr).toMatch(/Permission denied/);
    // Containers still see their layers: the overlay reaches them with the engine's own rights.
    expect((await inside(['ls', '/bin/suid-probe'])).code).toBe(0);
  });

  it('keeps setuid files made at run time on a nosuid tmpfs, owned by the shifted uid', async () => {
    const c = await detached([
      'sh',
      '-c',
      'cp /bin/escape-probe /made-suid && chmod 4755 /made-suid && exec sleep 600',
    ]);
    try {
      const rw = join(containerPath(t.ctx.paths, c.id), 'rw');
      await until(
        () => {
          try {
            return (lstatSync(join(rw, 'upper', 'made-suid')).mode & 0o4000) !== 0;
          } catch {
            return false;
          }
        },
        10_000,
        'the setuid file in the upper dir',
      );
      expect(lstatSync(join(rw, 'upper', 'made-suid')).uid).toBe(base);
      const mountLine = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === rw);
      expect(mountLine?.split(' ')[5]?.split(',')).toContain('nosuid');
    } finally {
      await c.remove();
    }
  });
});
