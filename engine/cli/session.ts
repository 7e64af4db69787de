// Joins a container connection to this process: its output to our stdout/stderr, our stdin and window
// size to it, until it exits (resolving with its code) or the user detaches with Ctrl-P Ctrl-Q.

import type { ShimConnection } from '../runtime/shim.ts';
import type { Cli } from './cli.ts';
import { connectLocalTerminal } from './terminal.ts';

export type SessionEnd = { kind: 'exited'; code: number } | { kind: 'detached' };

/**
 * Runs the session. `exited` is when the container's exit is final (after `--rm`, for run);
 * `onSignal` lets a non-terminal session pass Ctrl-C on to the container, as Docker's sig-proxy does.
 */
export async function runSession(
  cli: Cli,
  connection: ShimConnection,
  options: {
    tty: boolean;
    interactive: boolean;
    exited?: Promise<number>;
    onSignal?: (signal: NodeJS.Signals) => void;
  },
): Promise<SessionEnd> {
  // Back-pressure: when our output cannot take more (a slow pipe, a slow browser), stop reading the
  // container; the shim then stops reading its output and the container blocks on write.
  let waiting = false;
  const unsubscribe = connection.onData((stream, data) => {
    const out = stream === 'stderr' ? cli.stderr : cli.stdout;
    if (out.write(data) || waiting || !connection.pause) return;
    waiting = true;
    connection.pause();
    out.once('drain', () => {
      waiting = false;
      connection.resume?.();
    });
  });
  const local = connectLocalTerminal(cli, connection, { tty: options.tty, interactive: options.interactive });
  const exited =
    options.exited ??
    new Promise<number>((resolve) => {
      connection.onExit(resolve);
    });
  const proxied: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];
  const proxy = (signal: NodeJS.Signals) => options.onSignal?.(signal);
  const onInterrupt = () => proxy('SIGINT');
  // In raw mode Ctrl-C is a byte for the container; otherwise it aborts the CLI's signal (the process's
  // SIGINT, or Ctrl-C in a browser terminal), which is passed on once, as Docker's sig-proxy does.
  const raw = options.tty && options.interactive && cli.stdin.isTTY === true;
  // Process signals are ours only when we are the process (not a command run inside the server).
  const ownsProcess = cli.stdin === process.stdin;
  if (options.onSignal && !raw) {
    cli.signal.addEventListener('abort', onInterrupt, { once: true });
    if (ownsProcess) for (const s of proxied) process.on(s, proxy);
  }
  try {
    const end = await Promise.race([
      exited.then((code): SessionEnd => ({ kind: 'exited', code })),
      local.detached.then((): SessionEnd => ({ kind: 'detached' })),
    ]);
    if (end.kind === 'exited') {
      // Output written just before the exit may still be in flight. The shim sends the exit frame
      // after the last output on the same socket, so once that frame is here everything is; it
      // hangs up only later, after the runtime has deleted the container (native/shim.c).
      let stopWaiting = () => {};
      await Promise.race([
        new Promise<void>((resolve) => {
          stopWaiting = connection.onExit(() => resolve());
        }),
        connection.closed,
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
      stopWaiting();
    }
    return end;
  } finally {
    local.dispose();
    unsubscribe();
    cli.signal.removeEventListener('abort', onInterrupt);
    for (const s of proxied) process.off(s, proxy);
    connection.close();
  }
}
