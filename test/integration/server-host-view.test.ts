// The host view (`state.host`) through a real server and a real container: the overlay mount as the
// kernel reports it (one lower per image layer plus the init layer, the upper dir where a file
// written inside lands), the process tree with host and container pids and uids as /proc has them,
// paths shown relative to the state root, and another session's container out of reach.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostView } from '../../server/pictures/host-view.ts';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import type { SessionEvent } from '../../server/protocol.ts';
import { openShell, startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let srv: TestServer;
let a: { session: string; token: string; cookie: string };
let b: { session: string; token: string; cookie: string };
let client: TestClient;
let channel: number;
let id: string;

async function http(path: string, who = a) {
  const res = await fetch(`${srv.url}${path}`, { headers: { cookie: who.cookie, origin: srv.url } });
  return { status: res.status, text: await res.text() };
}

async function host(container: string, who = a): Promise<HostView> {
  const res = await http(`/api/state/host?container=${encodeURIComponent(container)}`, who);
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text) as HostView;
}

/** Asks until `probe` accepts the view (a process just started may take a moment to show). */
async function hostUntil(container: string, probe: (v: HostView) => boolean): Promise<HostView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await host(container);
    if (probe(view)) return view;
    if (Date.now() > deadline) throw new Error(`host view never matched: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs one command line in the session's shell and waits for the shell to report it done. */
async function run(command: string): Promise<void> {
  client.send({ type: 'terminal.run', terminal: 'main', command });
  const done = await client.next(
    'event',
    (m) => {
      const e = m.event as SessionEvent;
      return e.type === 'terminal.command' && e.command === command;
    },
    120_000,
  );
  const event = done.event as SessionEvent;
  expect(event.type === 'terminal.command' && event.exitCode, client.output(channel)).toBe(0);
}

function nsPidOf(hostPid: number): number {
  const status = readFileSync(`/proc/${hostPid}/status`, 'utf8');
  return Number(/^NSpid:\s+(.*)$/m.exec(status)![1]!.trim().split(/\s+/).at(-1));
}

beforeAll(async () => {
  srv = await startTestServer();
  a = await srv.newSession();
  b = await srv.newSession();
  client = await srv.connect(a.token);
  channel = await openShell(client);
  await run('docker run -d --name hv busybox sleep 3600');
  const snap = JSON.parse((await http('/api/state')).text) as SessionSnapshot;
  id = snap.containers.find((c) => c.name === 'hv')!.id;
}, 180_000);

afterAll(async () => {
  await client?.close();
  await srv?.close();
});

describe('state.host', () => {
  it('shows the overlay mount: one lower per image layer, the init layer, upper and work dirs', async () => {
    const view = await host('hv');
    const snap = JSON.parse((await http('/api/state')).text) as SessionSnapshot;
    const container = snap.containers.find((c) => c.id === id)!;
    const image = snap.images.find((i) => i.id === container.imageId)!;
    expect(view.container).toEqual({ id, name: 'hv', state: 'running' });
    expect(view.overlay).not.toBeNull();
    const overlay = view.overlay!;
    const layers = overlay.lowerdir.filter((l) => l.source === 'layer');
    expect(layers).toHaveLength(image.layers.length);
    // Top first, as lowerdir lists them, named by the same diff_ids the layer stack shows.
    expect(layers.map((l) => l.diffId)).toEqual(container.lowerLayers);
    for (const l of layers) expect(l.path).toBe(`<root>/layers/${l.diffId!.slice(7)}/diff`);
    expect(overlay.lowerdir[0]).toMatchObject({ source: 'init' });
    expect(overlay.lowerdir.filter((l) => l.source === 'other')).toEqual([]);
    const dir = `<root>/sessions/<session>/containers/${id}`;
    expect(overlay.upperdir).toBe(`${dir}/rw/upper`);
    expect(overlay.workdir).toBe(`${dir}/rw/work`);
    expect(overlay.mountPoint).toBe(`${dir}/merged`);
    // The kernel lists only the options that differ from its defaults.
    expect(overlay.options).toContain('rw');
    expect(view.runtime).toMatch(/^(crun|runc)$/);
  });

  it('names no directory of the server and not the session id', async () => {
    const res = await http('/api/state/host?container=hv');
    expect(res.text).not.toContain(srv.root);
    expect(res.text).not.toContain(a.session);
    expect(res.text).not.toContain('/run/layerlab');
  });

  it('a file written inside lands in the upper dir the view names', async () => {
    await run("docker exec hv sh -c 'echo hi > /from-inside.txt'");
    const view = await host('hv');
    const real = view.overlay!.upperdir!.replace(
      '<root>/sessions/<session>',
      join(srv.root, 'sessions', a.session),
    );
    expect(readFileSync(join(real, 'from-inside.txt'), 'utf8')).toBe('hi\n');
    expect(existsSync(join(real, 'etc'))).toBe(false);
  });

  it('maps PID 1 inside to its host pid, container root to the host uid, under the shim', async () => {
    const view = await host('hv');
    const init = view.processes.find((p) => p.role === 'container' && p.containerPid === 1);
    expect(init, JSON.stringify(view.processes)).toBeDefined();
    expect(init!.command).toBe('sleep 3600');
    expect(init!.hostPid).toBeGreaterThan(1);
    // What the kernel itself says of that host pid.
    expect(nsPidOf(init!.hostPid)).toBe(1);
    expect(init!.containerUid).toBe(0);
    expect(init!.hostUid).toBe(view.rootUid);
    expect(view.rootUid).toBeGreaterThan(0);
    const shim = view.processes.find((p) => p.hostPid === init!.ppid);
    expect(shim).toMatchObject({ role: 'shim', command: 'layerlab-shim', depth: 0, hostUid: 0 });
    expect(init!.depth).toBe(1);
    expect(readFileSync(`/proc/${shim!.hostPid}/cmdline`, 'utf8')).toContain(id);
  });

  it('follows a process started with exec, under a shim of its own', async () => {
    await run('docker exec -d hv sleep 2345');
    const view = await hostUntil('hv', (v) => v.processes.some((p) => p.command === 'sleep 2345'));
    const exec = view.processes.find((p) => p.command === 'sleep 2345')!;
    expect(exec.containerPid).toBeGreaterThan(1);
    expect(nsPidOf(exec.hostPid)).toBe(exec.containerPid);
    expect(exec.containerUid).toBe(0);
    const parent = view.processes.find((p) => p.hostPid === exec.ppid);
    expect(parent?.role).toBe('shim');
    expect(view.processes.filter((p) => p.role === 'shim')).toHaveLength(2);
  });

  it("docker inspect prints GraphDriver in Docker's form (Data's keys sorted), paths blank in the browser", async () => {
    const before = client.output(channel).length;
    await run("docker inspect -f '{{json .GraphDriver}}' hv");
    expect(client.output(channel).slice(before)).toContain(
      '{"Data":{"LowerDir":"","MergedDir":"","UpperDir":"","WorkDir":""},"Name":"overlay2"}',
    );
  });

  it('has no overlay and no processes once the container stops', async () => {
    await run('docker stop -t 0 hv');
    const view = await host('hv');
    expect(view.container.state).toBe('exited');
    expect(view.overlay).toBeNull();
    expect(view.processes).toEqual([]);
    await run('docker start hv');
    const again = await hostUntil('hv', (v) => v.processes.some((p) => p.containerPid === 1));
    expect(again.overlay?.upperdir).toBe(`<root>/sessions/<session>/containers/${id}/rw/upper`);
  });

  it("does not show another session's container, by name or id", async () => {
    for (const name of ['hv', id, id.slice(0, 12)]) {
      const res = await http(`/api/state/host?container=${encodeURIComponent(name)}`, b);
      expect(res.status, res.text).toBe(404);
      expect(res.text).not.toContain('sleep');
    }
  });

  it('refuses a container name that is too long, as every request refuses bad input', async () => {
    const res = await http(`/api/state/host?container=${'x'.repeat(300)}`);
    expect(res.status).toBe(400);
  });
});
