// The teacher's dashboard: polls the workshop state every 2 s and redraws the class as a lesson ×
// step grid (text only, never HTML) with where each student is, how long since they acted, their last
// command and its error, who needs help and whose hand is up; runs the room (a message to everyone,
// "everyone to lesson N", pause and resume, lowering hands); resets a student or the class to a
// lesson's start, frees a seat, removes a student, adds a seat and ends the workshop, each on the
// teacher's confirmation that names its scope.

import type { StepStatus, StudentState, WorkshopState } from '../../../server/workshop/workshop.ts';
import { byId, errorMessage, jsonBody } from './page.ts';

type Lessons = NonNullable<WorkshopState['lessons']>;

const POLL_MS = 2000;

const head = byId('grid-head', HTMLTableSectionElement);
const rows = byId('students', HTMLTableSectionElement);
const summary = byId('summary', HTMLElement);
const endButton = byId('end', HTMLButtonElement);
const addSeatButton = byId('add-seat', HTMLButtonElement);
const actionStatus = byId('action', HTMLElement);
const pauseButton = byId('pause', HTMLButtonElement);
const hands = byId('hands', HTMLUListElement);
const noHands = byId('no-hands', HTMLElement);
const broadcastForm = byId('broadcast-form', HTMLFormElement);
const broadcastText = byId('broadcast-text', HTMLTextAreaElement);
const broadcastNow = byId('broadcast-now', HTMLElement);
const callForm = byId('call-form', HTMLFormElement);
const callLesson = byId('call-lesson', HTMLSelectElement);
const callNow = byId('call-now', HTMLElement);
const resetClassForm = byId('reset-class-form', HTMLFormElement);
const resetLesson = byId('reset-lesson', HTMLSelectElement);
/** The last state drawn: the room's controls read it (paused or not, who is present). */
let current: WorkshopState | undefined;
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

/** Posts a teacher action; resolves with the answer's JSON, or undefined after saying why it failed. */
async function post(path: string, body: object): Promise<unknown> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await jsonBody(res);
  if (!res.ok) alert(errorMessage(answer) ?? `Failed (${res.status})`);
  revision = -1;
  void poll();
  return res.ok ? answer : undefined;
}

/** "lesson 4 “The container's writable layer”", from the course the state lists. */
function lessonName(id: string | undefined): string {
  const lesson = current?.course?.find((l) => l.id === id);
  return lesson ? `lesson ${lesson.order} “${lesson.title}”` : (id ?? 'no lesson');
}

/** What one reset removed, in words, from the route's answer (its fields are the ResetNotice's). */
function wentText(answer: unknown): string {
  const list = (name: string): string[] => {
    const value = typeof answer === 'object' && answer !== null ? Reflect.get(answer, name) : undefined;
    return Array.isArray(value) ? value.map(String) : [];
  };
  const containers = list('removedContainers');
  const images = list('removedImages');
  const parts = [
    containers.length > 0 ? `containers ${containers.join(', ')}` : 'no containers',
    images.length > 0 ? `images ${images.join(', ')}` : 'no images',
  ];
  return `removed ${parts.join(' and ')}`;
}

function render(state: WorkshopState): void {
  current = state;
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
  renderRoom(state);
}

function renderRoom(state: WorkshopState): void {
  const ended = Boolean(state.ended);
  for (const control of document.querySelectorAll<HTMLButtonElement>('.room button'))
    control.disabled = ended;
  pauseButton.textContent = state.paused ? 'Resume the class' : 'Pause the class';
  pauseButton.className = state.paused ? 'danger' : '';
  if (state.paused) summary.append(' ', pausedFlag());
  broadcastNow.textContent = state.broadcast
    ? `Showing: “${state.broadcast.text}” (since ${clock(state.broadcast.at)})`
    : 'No message is showing.';
  callNow.textContent = state.call
    ? `Showing: go to ${lessonName(state.call.lesson)} (since ${clock(state.call.at)})`
    : 'No lesson banner is showing.';
  const raised = state.students
    .filter((s) => s.hand !== undefined && !s.left)
    .sort((a, b) => (a.hand ?? '').localeCompare(b.hand ?? ''));
  hands.replaceChildren(
    ...raised.map((s) => {
      const li = document.createElement('li');
      const lower = document.createElement('button');
      lower.type = 'button';
      lower.className = 'quiet';
      lower.textContent = 'Lower';
      lower.setAttribute('aria-label', `Lower ${s.name}'s hand`);
      lower.disabled = ended;
      lower.onclick = () => void post('/api/workshop/lower-hand', { student: s.id });
      li.append(`✋ ${s.name} — since ${clock(s.hand ?? '')} `, lower);
      return li;
    }),
  );
  noHands.hidden = raised.length > 0;
}

function pausedFlag(): HTMLElement {
  const flag = document.createElement('span');
  flag.className = 'paused-flag';
  flag.textContent = 'The class is paused.';
  return flag;
}

/** An ISO time as the teacher's clock shows it (hours and minutes). */
function clock(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
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
  if (s.hand !== undefined && !s.left) {
    const hand = document.createElement('span');
    hand.className = 'hand';
    hand.textContent = `✋ ${clock(s.hand)}`;
    hand.title = `Hand raised at ${clock(s.hand)}`;
    th.append(hand);
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
  cell(tr, command).className = 'command';

  const terms = document.createElement('span');
  for (const t of s.terminals ?? []) {
    const a = document.createElement('a');
    // In a cluster, `node` sends the view to the node holding the student's session.
    a.href = `/teacher/watch/${encodeURIComponent(s.session)}/${encodeURIComponent(t)}${s.node ? `?node=${encodeURIComponent(s.node)}` : ''}`;
    a.textContent = t;
    terms.append(a, ' ');
  }
  cell(tr, terms);

  const actions = document.createElement('div');
  const resetTo = s.currentLesson;
  const reset = action(
    'Reset',
    s,
    ended || Boolean(s.left) || resetTo === undefined,
    `Reset ${s.name} alone — nobody else — to the start of ${lessonName(resetTo)}?\n\nEvery container of theirs is removed (the lesson's own are made afresh), and images the lesson does not start with are removed. Their page will list what went.`,
    '/api/workshop/reset-student',
    (answer) => `${s.name} is back at the start of ${lessonName(resetTo)}: ${wentText(answer)}.`,
  );
  if (resetTo === undefined) reset.title = 'This student has not opened a lesson yet.';
  actions.append(
    reset,
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

function action(
  label: string,
  s: StudentState,
  disabled: boolean,
  question: string,
  path: string,
  said?: (answer: unknown) => string,
) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = label === 'Remove' ? 'danger' : 'quiet';
  button.textContent = label;
  button.setAttribute('aria-label', `${label}: ${s.name}`);
  button.disabled = disabled;
  button.onclick = async () => {
    if (!confirm(question)) return;
    const answer = await post(path, { student: s.id });
    if (answer !== undefined && said) actionStatus.textContent = said(answer);
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
pauseButton.onclick = () => void post('/api/workshop/pause', { paused: !current?.paused });
broadcastForm.onsubmit = async (event) => {
  event.preventDefault();
  if ((await post('/api/workshop/broadcast', { text: broadcastText.value })) !== undefined) {
    actionStatus.textContent = 'Message sent to every student.';
    broadcastText.value = '';
  }
};
byId('broadcast-clear', HTMLButtonElement).onclick = () => void post('/api/workshop/broadcast', { text: '' });
callForm.onsubmit = async (event) => {
  event.preventDefault();
  if ((await post('/api/workshop/call', { lesson: callLesson.value })) !== undefined)
    actionStatus.textContent = `Every student's page now links to ${lessonName(callLesson.value)}.`;
};
byId('call-clear', HTMLButtonElement).onclick = () => void post('/api/workshop/call', { lesson: null });
resetClassForm.onsubmit = async (event) => {
  event.preventDefault();
  const present = (current?.students ?? []).filter((s) => !s.left).length;
  const question = `Reset the WHOLE CLASS — all ${present} students present — to the start of ${lessonName(resetLesson.value)}?\n\nEvery student's containers are removed (the lesson's own are made afresh), and images the lesson does not start with are removed. Each student's page will list what went.`;
  if (!confirm(question)) return;
  actionStatus.textContent = 'Resetting the class…';
  const answer = await post('/api/workshop/reset-class', { lesson: resetLesson.value });
  const students =
    typeof answer === 'object' && answer !== null ? Reflect.get(answer, 'students') : undefined;
  if (Array.isArray(students))
    actionStatus.textContent = `Reset ${students.length} ${students.length === 1 ? 'student' : 'students'} to the start of ${lessonName(resetLesson.value)}.`;
};
endButton.onclick = () => {
  if (confirm('End the workshop? Every student sandbox is destroyed.')) void post('/api/workshop/end', {});
};
void poll();
setInterval(poll, POLL_MS);
