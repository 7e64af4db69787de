// The recording format (written by site/scripts/record.ts, played by the terminals when no engine
// answers): per lesson and terminal, the screen it started with and, per runnable code block, the
// output it printed and the session events and state it caused. Shared by recorder and player.

import type { SessionSnapshot } from '../../../server/pictures/snapshot.ts';
import type { SessionEvent } from '../../../server/protocol.ts';

export interface RecordedStep {
  /** The command as the code block has it (what its Run button sends). */
  command: string;
  /** Terminal output: `[ms since the step began, text]`. */
  output: [number, string][];
  events: [number, SessionEvent][];
  /** `/api/state` once the step was done. */
  snapshot?: SessionSnapshot;
}

export interface Recording {
  version: 1;
  lesson: string;
  terminal: string;
  cols: number;
  rows: number;
  recordedAt: string;
  /** The terminal's screen before the first step (the prompt). */
  screen: string;
  snapshot?: SessionSnapshot;
  steps: RecordedStep[];
}

/** The page's lesson id, as recordings are filed: `/03-copy-on-write/` → `03-copy-on-write`. */
export function lessonIdOf(pathname: string): string {
  const id = pathname.replace(/^\/+|\/+$/g, '').replace(/\.html$/, '');
  return id === '' ? 'index' : id;
}

let index: Promise<string[]> | undefined;

/** Which recordings the build has (fetched once per page). */
function recordingIndex(): Promise<string[]> {
  index ??= fetch('/recordings/index.json')
    .then((r) => (r.ok ? (r.json() as Promise<{ recordings: string[] }>) : { recordings: [] }))
    .then((j) => j.recordings)
    .catch(() => []);
  return index;
}

export async function loadRecording(lesson: string, terminal: string): Promise<Recording | undefined> {
  if (!(await recordingIndex()).includes(`${lesson}/${terminal}.json`)) return undefined;
  try {
    const res = await fetch(`/recordings/${lesson}/${terminal}.json`);
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return undefined;
    const rec = (await res.json()) as Recording;
    return rec.version === 1 && Array.isArray(rec.steps) ? rec : undefined;
  } catch {
    return undefined;
  }
}
