// Ctrl-C on a container session without a server: the first press is passed on (the command's
// signal aborts), and if the container still runs INTERRUPT_NOTE_MS later the terminal says why; a
// second press leaves it running and says how to stop it; in raw mode (`run -it`) the note comes only
// when nothing but the tty's own `^C` echo answered.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseDigest } from '../../engine/oci/digest.ts';
import {
  ForegroundCommand,
  type ForegroundHost,
  INTERRUPT_NOTE_MS,
  ModeSwitch,
} from '../../server/terminal/container-attach.ts';

function setup(running: boolean) {
  let screen = '';
  let abandoned = 0;
  const host: ForegroundHost = {
    write: (data) => {
      screen += data.toString();
      return true;
    },
    columns: () => 80,
    rows: () => 24,
    mode: new ModeSwitch(),
    abandoned: () => {
      abandoned++;
    },
    containerRunning: async () => running,
  };
  const job = new ForegroundCommand(host);
  job.session = { program: 'docker' };
  job.observe({
    type: 'container.created',
    id: 'f'.repeat(64),
    name: 'sleepy',
    imageId: parseDigest(`sha256:${'a'.repeat(64)}`),
  });
  return { job, screen: () => screen, abandoned: () => abandoned };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Ctrl-C on a container session', () => {
  it('passes the first press on, and explains once the container has not stopped', async () => {
    const t = setup(true);
    t.job.interrupt();
    expect(t.job.controller.signal.aborted).toBe(true);
    expect(t.screen()).toBe('^C\r\n');
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS - 100);
    expect(t.screen()).toBe('^C\r\n');
    await vi.advanceTimersByTimeAsync(200);
    expect(t.screen()).toContain('docker: SIGINT was passed on to container sleepy');
    expect(t.screen()).toContain('PID 1');
    expect(t.screen()).toContain('`docker stop sleepy`');
    expect(t.abandoned()).toBe(0);
  });

  it('says nothing when the container stopped (or the command ended) meanwhile', async () => {
    const stopped = setup(false);
    stopped.job.interrupt();
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(stopped.screen()).toBe('^C\r\n');
    const ended = setup(true);
    ended.job.interrupt();
    ended.job.detach();
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(ended.screen()).toBe('^C\r\n');
  });

  it('leaves the container running on a second press, saying how to stop it', async () => {
    const t = setup(true);
    t.job.interrupt();
    t.job.interrupt();
    expect(t.abandoned()).toBe(1);
    expect(t.screen()).toContain(
      'container sleepy keeps running in the background: `docker stop sleepy` stops it',
    );
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(t.screen()).not.toContain('SIGINT was passed on');
  });

  it('is the plain cancel of before for a command that is not a container session', async () => {
    const t = setup(true);
    t.job.session = undefined;
    t.job.interrupt();
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(t.screen()).toBe('^C\r\n');
  });
});

describe('Ctrl-C typed into a container’s tty (run -it)', () => {
  it('explains when only the tty’s echo answered, and only once', async () => {
    const t = setup(true);
    t.job.streams.stdin.setRawMode(true);
    t.job.input(Buffer.from('\x03'));
    t.job.streams.stdout.write('^C');
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(t.screen()).toContain('docker: Ctrl-C reached container sleepy');
    expect(t.screen()).toContain('Detach with Ctrl-P Ctrl-Q');
    t.job.input(Buffer.from('\x03'));
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(t.screen().match(/Ctrl-C reached/g)).toHaveLength(1);
  });

  it('says nothing when the container answered (a shell draws its prompt again)', async () => {
    const t = setup(true);
    t.job.streams.stdin.setRawMode(true);
    t.job.input(Buffer.from('\x03'));
    t.job.streams.stdout.write('^C\r\n/ # ');
    await vi.advanceTimersByTimeAsync(INTERRUPT_NOTE_MS + 100);
    expect(t.screen()).not.toContain('Ctrl-C reached');
  });
});
