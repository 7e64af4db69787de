// Container I/O and the rest of the lifecycle against the real runtime: attached runs with and
// without a terminal, logs (tail, follow), kill, restart, prune, and a shim that dies.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containerLogs,
  inspectContainer,
  killContainer,
  pruneContainers,
  removeContainer,
  resolveContainer,
  restartContainer,
  runContainer,
  waitContainer,
} from '../../engine/container/index.ts';
import { runDir } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { ShimConnection } from '../../engine/runtime/shim.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
});

afterAll(() => disposeContainers(t));

/** A process's state letter from /proc (`Z` for a zombie nobody reaped yet), or `gone`. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

function collect(connection: ShimConnection): { text: () => string } {
  let text = '';
  connection.onData((_stream, data) => {
    text += data.toString();
  });
  return { text: () => text };
}

async function logText(idOrName: string, opts: { tail?: number; follow?: boolean } = {}): Promise<string> {
  let text = '';
  for await (const record of await containerLogs(ctx, idOrName, opts)) text += record.data.toString();
  return text;
}

describe('container I/O', () => {
  it('runs attached and delivers all output and the exit code', async () => {
    const run = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'],
    });
    const out = collect(run.connection!);
    expect(await run.exited).toBe(4);
    await run.connection!.closed;
    expect(out.text()).toContain('out\n');
    expect(out.text()).toContain('err\n');
  });

  it('gives a terminal with -t and takes input with -i', async () => {
    const run = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'tty; read line; echo "got $line"'],
      tty: true,
      openStdin: true,
      rows: 30,
      cols: 100,
    });
    const out = collect(run.connection!);
    run.connection!.write('hello\n');
    expect(await run.exited).toBe(0);
    await run.connection!.closed;
    expect(out.text()).toMatch(/\/dev\/pts\/\d+/);
    expect(out.text()).toContain('got hello');
  });

  it('reads the logs of a detached container, with tail and follow', async () => {
    const { record } = await runContainer(ctx, {
      image: 'busybox',
      name: 'chatty',
      cmd: ['sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.2; done'],
      detach: true,
    });
    expect(await logText('chatty', { follow: true })).toBe('line 1\nline 2\nline 3\n');
    expect(await waitContainer(ctx, record.id)).toBe(0);
    expect(await logText('chatty', { tail: 1 })).toBe('line 3\n');
  });

  it('kills with a signal and restarts', async () => {
    const { record, exited } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', "trap 'exit 9' USR1; echo started; while true; do sleep 0.1; done"],
      detach: true,
    });
    await new Promise((r) => setTimeout(r, 200));
    await killContainer(ctx, record.id, 'SIGUSR1');
    expect(await exited).toBe(9);
    await expect(killContainer(ctx, record.id)).rejects.toThrow(`Container ${record.id} is not running`);
    const restarted = await restartContainer(ctx, record.id, { timeout: 1 });
    expect(restarted.state.status).toBe('running');
    expect(restarted.state.restartCount).toBe(1);
    await killContainer(ctx, record.id);
    expect(await waitContainer(ctx, record.id)).toBe(137);
    expect(await logText(record.id)).toBe('started\nstarted\n');
  });

  it('marks a container whose shim died as exited', async () => {
    const { record } = await runContainer(ctx, { image: 'busybox', cmd: ['sleep', '60'], detach: true });
    const shimPid = Number(readFileSync(join(runDir(ctx, record.id), 'shim.pid'), 'utf8'));
    process.kill(shimPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const state = (await inspectContainer(ctx, record.id)).State as {
      Status: string;
      ExitCode: number;
      Error: string;
    };
    expect(state.Status).toBe('exited');
    expect(state.ExitCode).toBe(137);
    expect(state.Error).toContain('died without an exit status');
    // Nothing of the container is left running.
    await new Promise((r) => setTimeout(r, 100));
    expect(processState(record.state.pid)).toMatch(/^(gone|Z)$/);
    await removeContainer(ctx, record.id, { force: true });
  });

  it('waits for a container another process started', async () => {
    // A second engine process (as the CLI and the server are) runs a container and leaves.
    const script = `
      import { createContext } from './engine/context.ts';
      import { engineConfigSchema } from './engine/config.ts';
      import { runContainer } from './engine/container/index.ts';
      const ctx = createContext(${JSON.stringify(t.root)}, { config: engineConfigSchema.parse({}) });
      const { record } = await runContainer(ctx, { image: 'busybox', cmd: ['sh', '-c', 'sleep 0.5; exit 5'], detach: true });
      process.stdout.write(record.id);
      process.exit(0);
    `;
    const id = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect((await resolveContainer(ctx, id)).state.status).toBe('running');
    expect(await waitContainer(ctx, id)).toBe(5);
  });

  it('prunes stopped containers and reports the space', async () => {
    const keep = await runContainer(ctx, { image: 'busybox', cmd: ['sleep', '60'], detach: true });
    const gone = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'head -c 5000 /dev/zero > /f'],
      detach: true,
    });
    expect(await gone.exited).toBe(0);
    const result = await pruneContainers(ctx);
    expect(result.deleted).toContain(gone.record.id);
    expect(result.deleted).not.toContain(keep.record.id);
    expect(result.spaceReclaimed).toBeGreaterThanOrEqual(5000);
    await expect(resolveContainer(ctx, gone.record.id)).rejects.toThrow('No such container');
    expect((await resolveContainer(ctx, keep.record.id)).state.status).toBe('running');
  });
});
