// The teacher's dashboard: polls the workshop state every 2 s and redraws the students table (text
// only, never HTML); resets a student's sandbox and ends the workshop on the teacher's confirmation.

import type { WorkshopState } from '../../../server/workshop/workshop.ts';
import { byId, errorMessage, jsonBody } from './page.ts';

type StudentRow = WorkshopState['students'][number];

const POLL_MS = 2000;

const rows = byId('students', HTMLTableSectionElement);
const summary = byId('summary', HTMLElement);
const endButton = byId('end', HTMLButtonElement);
/** The revision drawn last; -1 forces the next poll to redraw. */
let revision = -1;

/**
 * `GET /api/workshop/state`, or undefined when the teacher is signed out. The route answers with a
 * `WorkshopState` from this same server, so its JSON is taken as that type without a second schema.
 */
async function fetchState(): Promise<WorkshopState | undefined> {
  const res = await fetch('/api/workshop/state', { cache: 'no-store' });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new Error(`state: ${res.status}`);
  const state: WorkshopState = await res.json();
  return state;
}

async function poll(): Promise<void> {
  try {
    const state = await fetchState();
    if (!state) return location.assign('/teacher');
    if (state.revision !== revision) {
      revision = state.revision;
      render(state);
    }
  } catch {
    summary.textContent = 'The server could not be reached; retrying…';
  }
}

async function post(path: string, body: object): Promise<void> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) alert(errorMessage(await jsonBody(res)) ?? `Failed (${res.status})`);
  revision = -1;
  void poll();
}

function render(state: WorkshopState): void {
  summary.textContent = `${state.ended ? 'Ended. ' : ''}${state.seatsTaken} of ${state.seats} seats taken.`;
  rows.replaceChildren(...state.students.map((student) => studentRow(student, Boolean(state.ended))));
  endButton.disabled = Boolean(state.ended);
}

function studentRow(s: StudentRow, ended: boolean): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = s.name + (s.left ? ' (left)' : '');
  tr.append(th);
  cell(tr, s.lessons.map((l) => l.lesson).join(', ') || '—');
  const passed = s.checks.filter((c) => c.pass);
  cell(tr, passed.length ? passed.map((c) => `✓ ${c.lesson}/${c.check}`).join('\n') : '—').className =
    passed.length ? 'pass' : 'todo';
  cell(tr, s.lastCommand ? `${s.lastCommand.command} → ${s.lastCommand.exitCode}` : '—');
  const terms = document.createElement('span');
  for (const t of s.terminals ?? []) {
    const a = document.createElement('a');
    a.href = `/teacher/watch/${encodeURIComponent(s.session)}/${encodeURIComponent(t)}`;
    a.textContent = t;
    terms.append(a, ' ');
  }
  cell(tr, terms);
  const reset = document.createElement('button');
  reset.type = 'button';
  reset.textContent = 'Reset';
  reset.setAttribute('aria-label', `Reset ${s.name}`);
  reset.disabled = ended || Boolean(s.left);
  reset.onclick = () => {
    if (confirm(`Reset ${s.name}'s sandbox?`))
      void post('/api/workshop/reset-student', { session: s.session });
  };
  cell(tr, reset);
  return tr;
}

/** Appends a cell holding text (set as text, never parsed as HTML) or an element. */
function cell(tr: HTMLTableRowElement, content: string | Node): HTMLTableCellElement {
  const td = document.createElement('td');
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
  tr.append(td);
  return td;
}

endButton.onclick = () => {
  if (confirm('End the workshop? Every student sandbox is destroyed.')) void post('/api/workshop/end', {});
};
void poll();
setInterval(poll, POLL_MS);
