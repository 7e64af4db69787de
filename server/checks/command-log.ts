// The commands a session's terminals ran, for `command-ran` checks: kept on the session, oldest
// first, fed by `terminal.command` events and bounded, since a check looks back a few steps only.

import type { Session } from '../sessions/session.ts';

/** Commands kept per session. */
export const MAX_COMMANDS = 200;

/** Starts recording into `session.commands`; stops with the session, or sooner by the returned function. */
export function recordCommands(session: Session): () => void {
  const unsubscribe = session.events.on((event) => {
    if (event.type !== 'terminal.command') return;
    session.commands.push({ command: event.command, exitCode: event.exitCode });
    if (session.commands.length > MAX_COMMANDS)
      session.commands.splice(0, session.commands.length - MAX_COMMANDS);
  });
  session.onDispose(unsubscribe);
  return unsubscribe;
}
