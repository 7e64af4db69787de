// The words of the per-session container limit: which containers hold the places, and the one
// command that frees them. Shared by `create` (engine/container/lifecycle.ts) and the lesson checks'
// hint (server/checks/limit-note.ts), so the two say the same.

import type { ContainerRecord, ContainerStatus } from './record.ts';

/** What the message needs of a container record. */
export type HeldPlace = Pick<ContainerRecord, 'name' | 'external'> & { state: { status: ContainerStatus } };

/** Names listed before "…": the limit is small (10 by default), a config may raise it. */
const MAX_NAMES = 12;

function names(records: readonly HeldPlace[]): string {
  const shown = records.slice(0, MAX_NAMES).map((r) => r.name);
  return shown.join(', ') + (records.length > MAX_NAMES ? ', …' : '');
}

/**
 * What holds the places, and how to free them in one step: "10 containers (running: one, two;
 * stopped: first). Remove the ones you are done with: `docker rm -f one two first`, or only the
 * stopped ones: `docker container prune -f`".
 */
export function containerLimitAdvice(records: readonly HeldPlace[]): string {
  // By name: the records come in no useful order, and a sorted list is easy to scan.
  const own = records.filter((r) => !r.external).sort((a, b) => a.name.localeCompare(b.name));
  const running = own.filter((r) => r.state.status === 'running');
  const stopped = own.filter((r) => !running.includes(r));
  const held = [
    running.length > 0 ? `running: ${names(running)}` : '',
    stopped.length > 0 ? `stopped: ${names(stopped)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const all = [...running, ...stopped].map((r) => r.name);
  const rmAll = all.length > MAX_NAMES ? '$(docker ps -aq)' : all.join(' ');
  const prune = stopped.length > 0 ? `, or only the stopped ones: \`docker container prune -f\`` : '';
  return `${held ? `(${held}). ` : ''}Remove the ones you are done with in one step: \`docker rm -f ${rmAll}\`${prune}`;
}

/** The error `create` raises when the session already keeps `max` containers. */
export function containerLimitMessage(max: number, records: readonly HeldPlace[]): string {
  return `container limit reached: this session may keep at most ${max} containers ${containerLimitAdvice(records)}`;
}
