// Click-to-run over the WebSocket: a `terminal.run` with an id is answered `started` or `queued`, then
// `done` once the terminal is idle; inside a container's shell it is refused (`container`) and is not
// run later, after `exit`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../server/protocol.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: TestClient;
let channel: number;

beforeAll(async () => {
  server = await startTestServer();
  const { token } = await server.newSession();
  client = await server.connect(token);
  client.send({ type: 'terminal.open', terminal: 'main', cols: 100, rows: 30 });
  channel = (await client.next('terminal.opened')).channel;
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

const ran = (id: string, status?: ServerMessageOf<'terminal.ran'>['status']) =>
  client.next('terminal.ran', (m) => m.id === id && (status === undefined || m.status === status), 120_000);

/** The commands the terminal ran so far, from its `terminal.command` events. */
const commands = () =>
  client.messages.flatMap((m) =>
    m.type === 'event' && m.event.type === 'terminal.command' ? [String(m.event.command)] : [],
  );

describe('terminal.run with an id', () => {
  it('says when a run starts and when the terminal is idle again', async () => {
    client.send({ type: 'terminal.run', terminal: 'main', command: 'docker pull busybox', id: 'pull' });
    expect((await ran('pull')).status).toBe('started');
    await ran('pull', 'done');
    expect(commands()).toContain('docker pull busybox');
  });

  it('queues a run behind the command in progress and says so', async () => {
    client.send({
      type: 'terminal.run',
      terminal: 'main',
      command: 'docker run --rm busybox sleep 1',
      id: 'slow',
    });
    client.send({ type: 'terminal.run', terminal: 'main', command: 'docker images', id: 'after' });
    expect((await ran('slow')).status).toBe('started');
    expect((await ran('after')).status).toBe('queued');
    await ran('after', 'done');
    const done = commands();
    expect(done.indexOf('docker images')).toBeGreaterThan(done.indexOf('docker run --rm busybox sleep 1'));
  });

  it('refuses a run while the terminal is inside a container’s shell, and does not run it after exit', async () => {
    client.sendInput(channel, 'docker run -it --rm busybox sh\r');
    await client.next('terminal.mode', (m) => m.mode === 'container', 60_000);
    client.send({ type: 'terminal.run', terminal: 'main', command: 'docker ps --no-trunc', id: 'inside' });
    expect(await ran('inside')).toMatchObject({ status: 'refused', reason: 'container' });
    client.sendInput(channel, 'exit\r');
    await client.next('terminal.mode', (m) => m.mode === 'shell', 60_000);
    // A run after the exit goes through; the refused one never ran, before it or after it.
    client.send({ type: 'terminal.run', terminal: 'main', command: 'docker ps -a', id: 'outside' });
    await ran('outside', 'done');
    expect(commands()).toContain('docker ps -a');
    expect(commands()).not.toContain('docker ps --no-trunc');
    expect(client.output(channel)).not.toContain('docker ps --no-trunc');
  });

  it('answers `closed` for a terminal that is not open', async () => {
    client.send({ type: 'terminal.run', terminal: 'other', command: 'docker images', id: 'nowhere' });
    expect(await ran('nowhere')).toMatchObject({ status: 'refused', reason: 'closed' });
  });
});
