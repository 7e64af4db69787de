// The browser terminal against a real engine context: the prompt runs the CLI in-process, recalls
// history, completes names from engine state, cancels a pull with Ctrl-C, hands the keyboard to a
// container's PTY (with resize) and back, replays its screen, and stays bounded under a `yes` flood.
import xtermHeadless from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeContainer } from '../../engine/container/lifecycle.ts';
import { listContainers } from '../../engine/container/views.ts';
import type { SessionEvent } from '../../server/protocol.ts';
import { createTerminal, type TerminalSession } from '../../server/terminal/terminal.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let test: TestContext;
let session: TerminalSession & { emitted: SessionEvent[] };

beforeAll(() => {
  test = freshContext();
  const emitted: SessionEvent[] = [];
  const listeners = new Set<(e: SessionEvent) => void>();
  session = {
    ctx: test.ctx,
    emitted,
    events: {
      emit(event) {
        emitted.push(event);
        for (const l of listeners) l(event);
      },
      on(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
  };
});

afterAll(async () => {
  // Containers a failed test left behind hold mounts under the root: remove them before the root.
  for (const row of await listContainers(test.ctx, { all: true })) {
    await removeContainer(test.ctx, row.id, { force: true }).catch(() => {});
  }
  test.cleanup();
});

/** A page's view of one terminal: a headless xterm fed with the terminal's output. */
function open(cols = 100, rows = 30) {
  const terminal = createTerminal(session, {
    cols,
    rows,
    name: `t${Math.random().toString(16).slice(2, 8)}`,
  });
  const client = new xtermHeadless.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  client.write(terminal.replay()); // what the page is sent in terminal.opened
  let received = 0;
  const modes: [string, string | undefined][] = [];
  terminal.onOutput((data) => {
    received += data.length;
    client.write(data);
  });
  terminal.onMode((mode, container) => modes.push([mode, container]));
  const text = async () => {
    await new Promise<void>((resolve) => client.write('', resolve));
    const buffer = client.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)!.translateToString(true));
    return lines.join('\n');
  };
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await text();
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const type = (keys: string) => terminal.input(Buffer.from(keys));
  /** Types a command, presses Enter, and waits for the prompt to come back. */
  const command = async (line: string, timeoutMs = 60_000) => {
    type(`${line}\r`);
    await Promise.race([
      terminal.idle(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${line}: still running`)), timeoutMs)),
    ]);
    return text();
  };
  return { terminal, client, text, waitFor, type, command, modes, received: () => received };
}

const PROMPT_LINE = /reader@layerlab:~\$\s*$/;
const lastLine = (screen: string) => screen.trimEnd().split('\n').at(-1) ?? '';

describe('browser terminal', () => {
  let t: ReturnType<typeof open>;
  beforeAll(() => {
    t = open();
  });
  afterAll(() => t.terminal.dispose());

  it('shows a prompt and runs docker images in-process', async () => {
    expect(await t.text()).toMatch(/reader@layerlab:~\$/);
    const screen = await t.command('docker images');
    expect(screen).toMatch(/REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
    expect(session.emitted).toContainEqual({
      type: 'terminal.command',
      terminal: expect.any(String),
      command: 'docker images',
      exitCode: 0,
    });
  });

  it('speaks as the program typed and explains what is not here', async () => {
    let screen = await t.command('podman frobnicate');
    expect(screen).toContain("podman: 'frobnicate' is not a podman command.");
    screen = await t.command('cat -A notes.txt');
    expect(screen).toContain('cat: command not found');
    expect(screen).toContain('docker run -it busybox sh');
    screen = await t.command('docker images | head -1');
    expect(screen).toContain('`|` is not supported here');
    screen = await t.command('docker --root /tmp images');
    expect(screen).toContain('--root is not available in the browser terminal');
  });

  it('pulls busybox, then completes subcommands and image names', async () => {
    await t.command('docker pull busybox');
    expect(await t.text()).toContain('Status: Downloaded newer image for busybox:latest');
    t.type('docker ru\t');
    await t.waitFor(/\$ docker run $/m);
    t.type('busy\t');
    await t.waitFor(/\$ docker run busybox:latest $/m);
    t.type('\x03');
  });

  it('recalls the previous command with the up arrow', async () => {
    await t.command('docker image ls');
    t.type('\x1b[A');
    await t.waitFor(/\$ docker image ls$/m);
    const screen = await t.command('');
    expect(screen.match(/REPOSITORY/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('completes container names, listing several on a second Tab', async () => {
    await t.command('docker create --name hello-one busybox true');
    await t.command('docker create --name hello-two busybox true');
    t.type('docker rm hello-\t\t');
    const screen = await t.waitFor(/hello-one\s+hello-two/);
    expect(lastLine(screen)).toMatch(/\$ docker rm hello-$/);
    t.type('o\t');
    await t.waitFor(/\$ docker rm hello-one $/m);
    await t.command('');
    await t.command('docker rm hello-two');
  });

  it('cancels a pull with Ctrl-C and returns to the prompt', async () => {
    t.type('docker pull layerlab/big-layer\r');
    await t.waitFor(/Pulling fs layer|Downloading|Waiting/);
    t.type('\x03');
    await t.terminal.idle();
    const screen = await t.text();
    expect(screen).toMatch(/\^C/);
    expect(screen).toMatch(/cancel/i);
    expect(lastLine(screen)).toMatch(PROMPT_LINE);
    const after = await t.command('docker images');
    expect(after.split('docker images').at(-1)).not.toContain('big-layer');
  });

  it('runs -it busybox sh on the PTY, with resize, and comes back on exit', async () => {
    const modes = t.modes.length;
    t.type('docker run -it --rm busybox sh\r');
    await t.waitFor(/\/ # $/m);
    expect(t.modes.slice(modes)[0]?.[0]).toBe('container');
    expect(t.modes.slice(modes)[0]?.[1]).toMatch(/^[0-9a-f]{64}$/);
    t.type('echo $((6*7))\r');
    await t.waitFor(/^42$/m);
    t.terminal.resize(90, 27);
    t.client.resize(90, 27);
    t.type('stty size\r');
    await t.waitFor(/^27 90$/m);
    t.type('exit\r');
    await t.terminal.idle();
    expect(t.modes.slice(modes).map(([m]) => m)).toEqual(['container', 'shell']);
    expect(lastLine(await t.text())).toMatch(PROMPT_LINE);
  });

  it('comes back to the prompt after a container exits non-zero', async () => {
    const screen = await t.command("docker run --rm busybox sh -c 'exit 3'");
    expect(lastLine(screen)).toMatch(PROMPT_LINE);
    expect(session.emitted.at(-1)).toMatchObject({ type: 'terminal.command', exitCode: 3 });
  });

  it('types click-to-run commands at the prompt, queueing behind a running one', async () => {
    const first = t.terminal.run('docker run --rm busybox echo first-run');
    const second = t.terminal.run('docker run --rm busybox echo second-run');
    expect(first.status).toBe('started');
    expect(second.status).toBe('queued');
    await t.terminal.idle();
    const screen = await t.text();
    expect(screen).toMatch(/\$ docker run --rm busybox echo first-run\nfirst-run\n/);
    expect(screen).toMatch(/\$ docker run --rm busybox echo second-run\nsecond-run\n/);
  });

  it('replays the screen with the last lines of long output', async () => {
    await t.command('docker run --rm busybox seq 1 200');
    await t.terminal.settled();
    const replay = t.terminal.replay();
    const fresh = new xtermHeadless.Terminal({
      cols: 90,
      rows: 27,
      scrollback: 1000,
      allowProposedApi: true,
    });
    await new Promise<void>((resolve) => fresh.write(replay, resolve));
    const buffer = fresh.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)!.translateToString(true));
    const text = lines.join('\n');
    expect(text).toMatch(/^198\n199\n200\n/m);
    expect(lastLine(text)).toMatch(PROMPT_LINE);
  });
});

describe('back-pressure', () => {
  it('keeps a paused yes flood bounded and other terminals responsive', async () => {
    const flood = open(80, 24);
    const other = open(80, 24);
    try {
      // A slow consumer: after every 256 KiB it pauses the terminal for 30 ms, as a congested socket would.
      let budget = 256 * 1024;
      let throttling = true;
      flood.terminal.onOutput((data) => {
        budget -= data.length;
        if (!throttling || budget > 0) return;
        budget = 256 * 1024;
        flood.terminal.pause();
        setTimeout(() => flood.terminal.resume(), 30);
      });
      flood.type("docker run -it --rm --name flood busybox sh -c 'yes; true'\r");
      await flood.waitFor(/^y$/m);
      const rss0 = process.memoryUsage().rss;
      await new Promise((r) => setTimeout(r, 1500));
      // Another terminal in the same process still echoes keystrokes.
      other.type('echo-check');
      await other.waitFor(/\$ echo-check$/m, 5000);
      // Fully paused: nothing more reaches the page and memory stays flat. The slow consumer stops
      // first, and its last pending resume fires, so it cannot undo the pause below.
      throttling = false;
      await new Promise((r) => setTimeout(r, 100));
      flood.terminal.pause();
      await new Promise((r) => setTimeout(r, 200));
      const before = flood.received();
      const rss1 = process.memoryUsage().rss;
      await new Promise((r) => setTimeout(r, 1500));
      expect(flood.received()).toBe(before);
      const rss2 = process.memoryUsage().rss;
      expect(rss2 - rss1).toBeLessThan(32 * 1024 * 1024);
      expect(rss2 - rss0).toBeLessThan(128 * 1024 * 1024);
      flood.terminal.resume();
      await new Promise((r) => setTimeout(r, 300));
      expect(flood.received()).toBeGreaterThan(before);
      flood.type('\x03');
      await flood.terminal.idle();
      expect(lastLine(await flood.text())).toMatch(PROMPT_LINE);
    } finally {
      flood.terminal.dispose();
      other.terminal.dispose();
    }
  });
});
