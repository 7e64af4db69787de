// The WebSocket edge's terminal routing with the real terminals: channels per socket, input by
// binary frame, click-to-run, reattaching from a second socket with the screen replayed, close.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('terminals over the socket', () => {
  it('opens, takes input, runs commands, reattaches with replay from another socket, and closes', async () => {
    const { token, session } = await srv.newSession();
    const first = await srv.connect(token);
    first.send({ type: 'terminal.open', terminal: 'main', cols: 80, rows: 24 });
    const opened = await first.next('terminal.opened');
    expect(opened.terminal).toBe('main');
    // The prompt is already on the screen the replay carries.
    expect(opened.replay).toMatch(/\$ /);

    first.sendInput(opened.channel, 'docker ps -a\r');
    await first.waitForOutput(opened.channel, 'CONTAINER ID');

    first.send({ type: 'terminal.run', terminal: 'main', command: 'docker images' });
    await first.waitForOutput(opened.channel, 'REPOSITORY');
    first.send({ type: 'terminal.resize', terminal: 'main', cols: 100, rows: 30 });

    // The page is dropped; a new socket of the same session gets the same terminal and its screen.
    await first.close();
    const second = await srv.connect(token);
    second.send({ type: 'terminal.open', terminal: 'main', cols: 100, rows: 30 });
    const reopened = await second.next('terminal.opened');
    expect(reopened.replay).toMatch(/REPOSITORY/);
    expect(srv.server.sessions.get(session)?.terminals.size).toBe(1);

    // Unknown terminals are named in the error.
    second.send({ type: 'terminal.run', terminal: 'other', command: 'docker ps' });
    expect(await second.next('error')).toMatchObject({ code: 'no_such_terminal' });

    second.send({ type: 'terminal.close', terminal: 'main' });
    await second.next('terminal.closed');
    expect(srv.server.sessions.get(session)?.terminals.size).toBe(0);
    // Its channel is gone with it.
    second.sendInput(reopened.channel, 'x');
    expect(await second.next('error')).toMatchObject({ code: 'bad_frame' });
    await second.close();
  });

  it('gives two sockets of one session their own channels on a shared terminal', async () => {
    const { token } = await srv.newSession();
    const a = await srv.connect(token);
    const b = await srv.connect(token);
    a.send({ type: 'terminal.open', terminal: 'left', cols: 80, rows: 24 });
    a.send({ type: 'terminal.open', terminal: 'right', cols: 80, rows: 24 });
    const left = await a.next('terminal.opened', (m) => m.terminal === 'left');
    const right = await a.next('terminal.opened', (m) => m.terminal === 'right');
    expect(left.channel).not.toBe(right.channel);
    b.send({ type: 'terminal.open', terminal: 'right', cols: 80, rows: 24 });
    const rightOnB = await b.next('terminal.opened');
    a.sendInput(right.channel, 'docker version\r');
    // Both sockets see the shared terminal's output.
    await a.waitForOutput(right.channel, 'Version');
    await b.waitForOutput(rightOnB.channel, 'Version');
    await Promise.all([a.close(), b.close()]);
  });
});
