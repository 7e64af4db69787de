// The few lines of browser JavaScript the classroom pages load (served from this origin, so the
// pages' CSP can forbid inline script): JSON form posts, the dashboard's 2 s poll, the watch view.

export const FORMS_JS = `// Posts [data-json-form] forms as JSON and follows the server's redirect, or shows its error.
for (const form of document.querySelectorAll('form[data-json-form]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const out = form.querySelector('#form-error');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Object.fromEntries(new FormData(form))),
      });
      const body = await res.json().catch(() => ({}));
      if (res.ok && body.redirect) return location.assign(body.redirect);
      out.textContent = (body.error && body.error.message) || 'Something went wrong (' + res.status + ').';
    } catch {
      out.textContent = 'The server could not be reached. Try again.';
    }
    out.hidden = false;
    button.disabled = false;
  });
}
`;

export const DASHBOARD_JS = `// Polls the workshop state every 2 s and redraws the students table (text only, never HTML).
const rows = document.getElementById('students');
const summary = document.getElementById('summary');
let revision = -1;
function cell(tr, content) {
  const td = document.createElement('td');
  if (typeof content === 'string') td.textContent = content; else if (content) td.append(content);
  tr.append(td);
  return td;
}
async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) {
    const b = await res.json().catch(() => ({}));
    alert((b.error && b.error.message) || 'Failed (' + res.status + ')');
  }
  revision = -1;
  poll();
}
function render(state) {
  summary.textContent = (state.ended ? 'Ended. ' : '') + state.seatsTaken + ' of ' + state.seats + ' seats taken.';
  rows.replaceChildren();
  for (const s of state.students) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = s.name + (s.left ? ' (left)' : '');
    tr.append(th);
    cell(tr, s.lessons.map((l) => l.lesson).join(', ') || '—');
    const passed = s.checks.filter((c) => c.pass);
    cell(tr, passed.length ? passed.map((c) => '✓ ' + c.lesson + '/' + c.check).join('\\n') : '—').className = passed.length ? 'pass' : 'todo';
    cell(tr, s.lastCommand ? s.lastCommand.command + ' → ' + s.lastCommand.exitCode : '—');
    const terms = document.createElement('span');
    for (const t of s.terminals || []) {
      const a = document.createElement('a');
      a.href = '/teacher/watch/' + encodeURIComponent(s.session) + '/' + encodeURIComponent(t);
      a.textContent = t;
      terms.append(a, ' ');
    }
    cell(tr, terms);
    const reset = document.createElement('button');
    reset.type = 'button';
    reset.textContent = 'Reset';
    reset.setAttribute('aria-label', 'Reset ' + s.name);
    reset.disabled = Boolean(state.ended || s.left);
    reset.onclick = () => confirm('Reset ' + s.name + "'s sandbox?") && post('/api/workshop/reset-student', { session: s.session });
    cell(tr, reset);
    rows.append(tr);
  }
  document.getElementById('end').disabled = Boolean(state.ended);
}
async function poll() {
  try {
    const res = await fetch('/api/workshop/state', { cache: 'no-store' });
    if (res.status === 401) return location.assign('/teacher');
    const state = await res.json();
    if (state.revision !== revision) {
      revision = state.revision;
      render(state);
    }
  } catch {
    summary.textContent = 'The server could not be reached; retrying…';
  }
}
document.getElementById('end').onclick = () =>
  confirm('End the workshop? Every student sandbox is destroyed.') && post('/api/workshop/end', {});
poll();
setInterval(poll, 2000);
`;

export const WATCH_JS = `// Shows a student's terminal as text rendered by the server; sends nothing back.
const screen = document.getElementById('screen');
const status = document.getElementById('status');
const path = '/teacher/watch/' + encodeURIComponent(screen.dataset.session) + '/' + encodeURIComponent(screen.dataset.terminal) + '/ws?view=text';
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path);
ws.onopen = () => { status.textContent = 'Live.'; };
ws.onmessage = (event) => {
  if (typeof event.data !== 'string') return;
  const m = JSON.parse(event.data);
  if (m.type === 'watch.screen') screen.textContent = m.lines.join('\\n');
  else if (m.type === 'terminal.mode') status.textContent = m.mode === 'container' ? 'Live — inside container ' + (m.container || '') : 'Live.';
  else if (m.type === 'watch.closed') status.textContent = 'Closed: ' + m.reason;
};
ws.onclose = () => { if (!/^Closed/.test(status.textContent)) status.textContent = 'Disconnected.'; };
`;
