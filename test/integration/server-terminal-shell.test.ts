// The browser terminal as a shell, against a real server over its WebSocket: keys typed while a
// command runs are kept and run after it, a pasted block runs line by line, Ctrl-C on a container
// whose PID 1 ignores SIGINT is explained (and a second one leaves it running, as documented in
// docs/COMPATIBILITY.md), `$(…)` substitutes the output of the prompt's own commands, and a resize
// reaches a container's terminal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShell, startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});

afterAll(async () => {
  await srv.close();
});

/** Terminal output without colour and cursor sequences, CRs dropped. */
function strip(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

/** A pattern the client's waitForOutput tests against the output with its escapes stripped. */
class Plain extends RegExp {
  override test(text: string): boolean {
    this.lastIndex = 0;
    return super.test(strip(text));
  }
}

async function waitPlain(client: TestClient, channel: number, pattern: RegExp, timeoutMs = 60_000) {
  return strip(await client.waitForOutput(channel, new Plain(pattern.source, pattern.flags), timeoutMs));
}

/** The exit status the shell recorded (its `terminal.command` event) for a line matching `command`. */
async function commandEvent(client: TestClient, command: RegExp, timeoutMs = 60_000): Promise<number> {
  const m = await client.next(
    'event',
    (m) => m.event.type === 'terminal.command' && command.test(String(m.event.command)),
    timeoutMs,
  );
  return Number(m.event.exitCode);
}

async function newShell() {
  const { token } = await srv.newSession();
  const client = await srv.connect(token);
  const channel = await openShell(client);
  return { client, channel };
}

describe('typing ahead and pasting', () => {
  let client: TestClient;
  let channel: number;
  beforeAll(async () => {
    ({ client, channel } = await newShell());
  });
  afterAll(() => client.close());

  it('keeps a command typed while another runs, echoes it, and runs it afterwards', async () => {
    client.sendInput(channel, 'docker run --rm busybox sleep 2\r');
    // The Enter's echo is written as the command starts: what is typed from now on arrives while it runs.
    await waitPlain(client, channel, /busybox sleep 2\n/);
    client.sendInput(channel, 'docker run --rm busybox echo typed-ahead\r');
    expect(await commandEvent(client, /sleep 2$/)).toBe(0);
    expect(await commandEvent(client, /echo typed-ahead$/)).toBe(0);
    const text = await waitPlain(client, channel, /^typed-ahead$/m);
    const run = text.slice(text.indexOf('busybox sleep 2\n'));
    // Echoed as typed (before the next prompt), then read by the prompt and run.
    const echoAt = run.indexOf('docker run --rm busybox echo typed-ahead\n');
    const promptAt = run.indexOf('reader@layerlab:~$ docker run --rm busybox echo typed-ahead\n');
    expect(echoAt).toBeGreaterThan(-1);
    expect(promptAt).toBeGreaterThan(echoAt);
    expect(run.indexOf('\ntyped-ahead\n')).toBeGreaterThan(promptAt);
  });

  it('runs a pasted block of two lines in order', async () => {
    client.sendInput(
      channel,
      'docker run --rm busybox echo paste-one\rdocker run --rm busybox echo paste-two\r',
    );
    const one = await commandEvent(client, /echo paste-one$/);
    const two = await commandEvent(client, /echo paste-two$/);
    expect([one, two]).toEqual([0, 0]);
    const text = await waitPlain(client, channel, /^paste-two$/m);
    expect(text.indexOf('\npaste-one\n')).toBeGreaterThan(-1);
    expect(text.indexOf('\npaste-two\n')).toBeGreaterThan(text.indexOf('\npaste-one\n'));
  });
});

describe('Ctrl-C on a container whose PID 1 ignores it', () => {
  let client: TestClient;
  let channel: number;
  beforeAll(async () => {
    ({ client, channel } = await newShell());
  });
  afterAll(() => client.close());

  /** The container the command created has started (the engine's event, forwarded to the page). */
  const started = () => client.next('event', (m) => m.event.type === 'container.started', 60_000);

  it('passes SIGINT on, says why nothing happened, and leaves it running on a second Ctrl-C', async () => {
    client.sendInput(channel, 'docker run --name sleepy busybox sleep 100\r');
    await started();
    client.sendInput(channel, '\x03');
    const note = await waitPlain(client, channel, /SIGINT was passed on to container sleepy/);
    expect(note).toContain('^C');
    expect(note).toMatch(/PID 1[\s\S]*no default signal handlers/);
    expect(note).toContain('docker stop sleepy');
    // Docker's CLI stays attached after the first Ctrl-C: no prompt yet.
    expect(note.slice(note.lastIndexOf('sleep 100'))).not.toMatch(/reader@layerlab/);
    client.sendInput(channel, '\x03');
    const left = await waitPlain(
      client,
      channel,
      /keeps running in the background[^\n]*\n[\s\S]*reader@layerlab:~\$ $/,
    );
    expect(left).toContain('`docker stop sleepy` stops it');
    client.sendInput(channel, "docker inspect -f '{{.State.Status}}' sleepy\r");
    await waitPlain(client, channel, /^running$/m);
    client.sendInput(channel, 'docker rm -f sleepy\r');
    expect(await commandEvent(client, /rm -f sleepy$/)).toBe(0);
  });

  it('with -it, Ctrl-C goes to the container’s tty; the note says to detach with Ctrl-P Ctrl-Q', async () => {
    client.sendInput(channel, 'docker run -it --name sleepy-tty busybox sleep 100\r');
    await client.next('terminal.mode', (m) => m.mode === 'container', 60_000);
    client.sendInput(channel, '\x03');
    const note = await waitPlain(client, channel, /Ctrl-C reached container sleepy-tty/);
    expect(note).toMatch(/Detach with Ctrl-P Ctrl-Q/);
    client.sendInput(channel, '\x10\x11');
    await client.next('terminal.mode', (m) => m.mode === 'shell', 30_000);
    client.sendInput(channel, "docker inspect -f '{{.State.Status}}' sleepy-tty\r");
    await waitPlain(client, channel, /inspect[^\n]*sleepy-tty\nrunning\n/);
    client.sendInput(channel, 'docker rm -f sleepy-tty\r');
    expect(await commandEvent(client, /rm -f sleepy-tty$/)).toBe(0);
  });
});

describe('$(…) command substitution', () => {
  let client: TestClient;
  let channel: number;
  beforeAll(async () => {
    ({ client, channel } = await newShell());
  });
  afterAll(() => client.close());

  it('docker rm $(docker ps -aq) removes every container; docker rmi $(docker images -q) every image', async () => {
    client.sendInput(channel, 'docker create --name sub-one busybox true\r');
    expect(await commandEvent(client, /sub-one/)).toBe(0);
    client.sendInput(channel, 'docker create --name sub-two busybox true\r');
    expect(await commandEvent(client, /sub-two/)).toBe(0);
    client.sendInput(channel, 'docker ps -aq\r');
    const listed = await waitPlain(client, channel, /ps -aq\n[0-9a-f]{12}\n[0-9a-f]{12}\n/);
    const ids = listed.slice(listed.lastIndexOf('ps -aq\n') + 7).match(/^[0-9a-f]{12}$/gm)!;
    expect(ids).toHaveLength(2);

    client.sendInput(channel, 'docker rm $(docker ps -aq)\r');
    expect(await commandEvent(client, /^docker rm \$\(docker ps -aq\)$/)).toBe(0);
    const removed = await waitPlain(client, channel, new RegExp(`^${ids[1]}$`, 'm'));
    // docker rm prints each argument it removed: the ids the inner command wrote, one word each.
    expect(removed.slice(removed.lastIndexOf('docker rm $('))).toMatch(
      new RegExp(`\n${ids[0]}\n${ids[1]}\n`),
    );

    client.sendInput(channel, 'docker rmi $(docker images -q)\r');
    expect(await commandEvent(client, /^docker rmi \$\(docker images -q\)$/)).toBe(0);
    await waitPlain(client, channel, /Untagged: busybox:latest/);
    client.sendInput(channel, 'docker images -q\r');
    expect(await commandEvent(client, /^docker images -q$/)).toBe(0);
    const after = await waitPlain(client, channel, /images -q\nreader@layerlab/);
    expect(after.endsWith('images -q\nreader@layerlab:~$ ')).toBe(true);
  });

  it('keeps a quoted substitution one word, and refuses what it cannot run', async () => {
    client.sendInput(
      channel,
      'docker run --rm busybox echo "[$(docker version --format x)]" $(docker version --format "a b")\r',
    );
    await commandEvent(client, /echo "\[/);
    const text = await waitPlain(client, channel, /^\[.*\] a b$/m);
    expect(text).toMatch(/^\[[^\n]*\] a b$/m);
    client.sendInput(channel, 'docker rm $(ls)\r');
    await waitPlain(
      client,
      channel,
      /\$\(ls\): only docker, podman and layerlab commands run inside \$\(…\) here/,
    );
    client.sendInput(channel, 'docker rm `docker ps -q`\r');
    await waitPlain(
      client,
      channel,
      /backquote substitution `…` is not supported here: write \$\(…\) instead/,
    );
  });
});

describe('$NAME at the prompt', () => {
  it('expands an exported variable, and $REGISTRY names the registry the session may push to', async () => {
    const { client, channel } = await newShell();
    try {
      client.sendInput(channel, 'export GREETING="hello there"\r');
      await commandEvent(client, /^export GREETING/);
      client.sendInput(channel, 'docker run --rm busybox echo "[$GREETING]" \'$GREETING\'\r');
      await commandEvent(client, /echo "\[\$GREETING\]"/);
      await waitPlain(client, channel, /^\[hello there\] \$GREETING$/m);
      client.sendInput(channel, 'docker tag busybox $REGISTRY/mine:v1\r');
      expect(await commandEvent(client, /^docker tag busybox \$REGISTRY/)).toBe(0);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${NAME}, typed at the prompt
      client.sendInput(channel, 'docker push ${REGISTRY}/mine:v1\r');
      expect(await commandEvent(client, /^docker push \$\{REGISTRY\}/)).toBe(0);
      await waitPlain(
        client,
        channel,
        /The push refers to repository \[127\.0\.0\.1:\d+\/mine\][\s\S]*v1: digest: sha256:/,
      );
    } finally {
      client.close();
    }
  });
});

describe('width', () => {
  it('gives a container’s terminal the size the page reports, and a resize reaches it', async () => {
    const { client, channel } = await newShell();
    try {
      client.send({ type: 'terminal.resize', terminal: 'main', cols: 160, rows: 40 });
      client.sendInput(channel, 'docker run -it --rm busybox stty size\r');
      await waitPlain(client, channel, /^40 160$/m);
      await commandEvent(client, /stty size$/);
      // The table lines are written whole; the page's terminal, not the server, decides where they wrap.
      client.sendInput(channel, 'docker create --name a-container-with-a-long-name busybox sleep 3600\r');
      await commandEvent(client, /a-container-with-a-long-name/);
      client.sendInput(channel, 'docker ps -a\r');
      const text = await waitPlain(
        client,
        channel,
        /ps -a\n[^\n]*NAMES\n[^\n]*a-container-with-a-long-name\n/,
      );
      const row = text.split('\n').find((l) => l.endsWith('a-container-with-a-long-name'))!;
      expect(row).toMatch(/^[0-9a-f]{12} {3}busybox/);
      expect(row).toContain('"sleep 3600"');
      expect(row.length).toBeGreaterThan(100);
    } finally {
      await client.close();
    }
  });
});
