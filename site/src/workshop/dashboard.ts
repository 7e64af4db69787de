// The teacher's dashboard: polls the workshop state every 2 s and redraws the class as a lesson ×
// step grid (text only, never HTML) with where each student is, how long since they acted, their last
// command and its error, and who needs help; resets a student, frees a seat, removes a student, adds
// a seat and ends the workshop on the teacher's confirmation.

import type { StepStatus, StudentState, WorkshopState } from '../../../server/workshop/workshop.ts';
import { byId, errorMessage, jsonBody } from './page.ts';

type Lessons = NonNullable<WorkshopState['lessons']>;

const POLL_MS = 2000;

const head = byId('grid-head', HTMLTableSectionElement);
const rows = byId('students', HTMLTableSectionElement);
const summary = byId('summary', HTMLElement);
const endButton = byId('end', HTMLButtonElement);
const addSeatButton = byId('add-seat', HTMLButtonElement);
/** The revision drawn last; -1 forces the next poll to redraw. */
let revision = -1;
/** Idle times move without a revision: the grid is redrawn at least this often. */
let drawnAt = 0;

const STEP_MARK: Record<StepStatus, string> = {
  'not-started': '·',
  'in-progress': '…',
  failed: '✗',
  passed: '✓',
};
const STEP_WORDS: Record<StepStatus, string> = {
  'not-started': 'not started',
  'in-progress': 'in progress',
  failed: 'failed',
  passed: 'passed',
};

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
    if (state.revision !== revision || Date.now() - drawnAt > 10_000) {
      revision = state.revision;
      drawnAt = Date.now();
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
  const lessons = state.lessons ?? [];
  const helping = state.students.filter((s) => (s.needsHelp ?? []).length > 0).length;
  summary.textContent =
    `${state.ended ? 'Ended. ' : ''}${state.seatsTaken} of ${state.seats} seats taken.` +
    (helping > 0 ? ` ${helping} ${helping === 1 ? 'student needs' : 'students need'} help.` : '');
  head.replaceChildren(headRow(lessons));
  rows.replaceChildren(
    ...state.students.map((student) => studentRow(student, lessons, Boolean(state.ended))),
  );
  endButton.disabled = Boolean(state.ended);
  addSeatButton.disabled = Boolean(state.ended);
}

function headRow(lessons: Lessons): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const th = (text: string, title?: string, className?: string) => {
    const cell = document.createElement('th');
    cell.scope = 'col';
    cell.textContent = text;
    if (title) cell.title = title;
    if (className) cell.className = className;
    tr.append(cell);
  };
  th('Student');
  th('Now');
  // One column per step, headed by the lesson's number; the full titles are in each cell's title.
  lessons.forEach((lesson, i) => {
    for (const [j, check] of lesson.checks.entries()) {
      th(lesson.checks.length > 1 ? `${i}.${j + 1}` : String(i), `${lesson.title}: ${check.title}`, 'step');
    }
  });
  th('Last command');
  th('Terminals');
  th('Actions');
  return tr;
}

function studentRow(s: StudentState, lessons: Lessons, ended: boolean): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = s.name;
  if (s.left) {
    const gone = document.createElement('span');
    gone.className = 'gone';
    gone.textContent = ' (gone)';
    th.append(gone);
  }
  for (const reason of s.needsHelp ?? []) {
    const flag = document.createElement('span');
    flag.className = 'help';
    flag.textContent = 'needs help';
    flag.title = reason;
    th.append(flag);
  }
  tr.append(th);

  const current = lessons.find((l) => l.id === s.currentLesson);
  cell(tr, `${current?.title ?? s.currentLesson ?? '—'} · ${ago(s.idleSeconds ?? 0)}`).className = 'now';

  const checks = new Map(s.checks.map((c) => [`${c.lesson}/${c.check}`, c]));
  for (const lesson of lessons) {
    for (const check of lesson.checks) {
      const key = `${lesson.id}/${check.id}`;
      const status = s.steps?.[key] ?? 'not-started';
      const td = cell(tr, STEP_MARK[status]);
      td.className = `step step-${status}`;
      const hint = status === 'failed' ? checks.get(key)?.hint : undefined;
      const tries = checks.get(key)?.failures;
      td.title = `${lesson.title}: ${check.title} — ${STEP_WORDS[status]}${
        status === 'failed' && tries ? ` (${tries}×)` : ''
      }${hint ? `. Hint shown: ${hint}` : ''}`;
      td.setAttribute('aria-label', td.title);
    }
  }

  const command = document.createElement('div');
  if (s.lastCommand) {
    const code = document.createElement('code');
    code.textContent = s.lastCommand.command;
    command.append(code, ` → ${s.lastCommand.exitCode}`);
    if (s.lastCommand.error) {
      const error = document.createElement('p');
      error.className = 'error-text';
      error.textContent = s.lastCommand.error;
      command.append(error);
    }
  } else command.textContent = '—';
  cell(tr, command);

  const terms = document.createElement('span');
  for (const t of s.terminals ?? []) {
    const a = document.createElement('a');
    a.href = `/teacher/watch/${encodeURIComponent(s.session)}/${encodeURIComponent(t)}`;
    a.textContent = t;
    terms.append(a, ' ');
  }
  cell(tr, terms);

  const actions = document.createElement('div');
  actions.append(
    action('Reset', s, ended || Boolean(s.left), `Reset ${s.name}'s sandbox?`, '/api/workshop/reset-student'),
    action(
      'Free seat',
      s,
      ended || Boolean(s.left),
      `Free ${s.name}'s seat? Their sandbox ends; their progress stays and they can rejoin by name.`,
      '/api/workshop/free-seat',
    ),
    action(
      'Remove',
      s,
      ended,
      `Remove ${s.name} from the class? Their sandbox and their progress go.`,
      '/api/workshop/remove-student',
    ),
  );
  cell(tr, actions);
  return tr;
}

function action(label: string, s: StudentState, disabled: boolean, question: string, path: string) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = label === 'Remove' ? 'danger' : 'quiet';
  button.textContent = label;
  button.setAttribute('aria-label', `${label}: ${s.name}`);
  button.disabled = disabled;
  button.onclick = () => {
    if (confirm(question)) void post(path, { student: s.id });
  };
  return button;
}

function ago(seconds: number): string {
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

/** Appends a cell holding text (set as text, never parsed as HTML) or an element. */
function cell(tr: HTMLTableRowElement, content: string | Node): HTMLTableCellElement {
  const td = document.createElement('td');
  if (typeof content === 'string') td.textContent = content;
  else td.append(content);
  tr.append(td);
  return td;
}

addSeatButton.onclick = () => void post('/api/workshop/add-seats', { count: 1 });
endButton.onclick = () => {
  if (confirm('End the workshop? Every student sandbox is destroyed.')) void post('/api/workshop/end', {});
};
void poll();
setInterval(poll, POLL_MS);
