// What the terminal says when Ctrl-C does not stop a container: Docker passes the signal on and
// waits, silently; a learner is told why nothing happened (PID 1 ignores signals it has no handler
// for) and how to get the prompt back.

/** After a Ctrl-C that was passed on as SIGINT (a `run` without -t) and changed nothing. */
export function ignoredInterruptNote(program: string, container: string): string {
  return (
    `${program}: SIGINT was passed on to container ${container}, and its main process goes on: as PID 1 in ` +
    'its container it gets no default signal handlers, so a signal it does not handle does nothing.\r\n' +
    `Press Ctrl-C again to leave it running in the background (then \`${program} stop ${container}\` ` +
    'stops it), or wait for it to end.\r\n'
  );
}

/** The second Ctrl-C: the prompt comes back and the container goes on. */
export function leftRunningNote(program: string, container: string): string {
  return (
    `${program}: container ${container} keeps running in the background: \`${program} stop ${container}\` ` +
    `stops it, \`${program} logs ${container}\` shows its output.\r\n`
  );
}

/** Ctrl-C typed into a container's terminal (`run -it`) that nothing answered. */
export function ttyInterruptNote(program: string, container: string): string {
  return (
    `\r\n${program}: Ctrl-C reached container ${container}, but its main process ignores SIGINT (PID 1 in a ` +
    'container gets no default signal handlers). Detach with Ctrl-P Ctrl-Q: the container keeps running, ' +
    `and \`${program} stop ${container}\` stops it.\r\n`
  );
}
