// Server-rendered pages of classroom mode (join, full/ended, teacher sign-in, dashboard, read-only
// terminal view, wall of terminals): small, accessible HTML without a framework, in the site's look,
// usable from 390 px up. Every interpolated value goes through `esc` (the QR code's SVG is the
// qrcode library's own drawing of the join link).

import type { ServerResponse } from 'node:http';

export function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/**
 * The site's look (site/src/styles/theme.css over Starlight): its font stacks, warm paper and dimmed
 * dark schemes, one blue-teal accent. Dark follows the reader's system, or the choice they made on the
 * site (`starlight-theme`, applied by theme.ts).
 */
const STYLE = `
  :root { color-scheme: light dark;
    --font: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif;
    --mono: ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
    --bg: #fcfbf8; --text: #1f1e1b; --muted: #67645d; --hairline: #dcd8cf; --surface: #f5f3ee; --surface-2: #ebe8e1;
    --accent: #2e6a86; --accent-low: #dcebf1; --accent-high: #183f52; --on-accent: #fff;
    --good: #3b7a3a; --warn: #8a6a12; --bad: #b3413a; --bad-low: #f8e3e0; --warn-low: #f6edd2; }
  @media (prefers-color-scheme: dark) { :root:not([data-theme="light"]) {
    --bg: #1c1c1a; --text: #f1efea; --muted: #9a968d; --hairline: #3a3935; --surface: #232321; --surface-2: #2a2a27;
    --accent: #6fa7c2; --accent-low: #1d3340; --accent-high: #c6e0ec; --on-accent: #10222c;
    --good: #8cc084; --warn: #d8b866; --bad: #e07a72; --bad-low: #3a2221; --warn-low: #3a3220; } }
  :root[data-theme="dark"] {
    --bg: #1c1c1a; --text: #f1efea; --muted: #9a968d; --hairline: #3a3935; --surface: #232321; --surface-2: #2a2a27;
    --accent: #6fa7c2; --accent-low: #1d3340; --accent-high: #c6e0ec; --on-accent: #10222c;
    --good: #8cc084; --warn: #d8b866; --bad: #e07a72; --bad-low: #3a2221; --warn-low: #3a3220; }
  * { box-sizing: border-box; }
  body { font: 16px/1.7 var(--font); margin: 0; background: var(--bg); color: var(--text); }
  main { margin: 0 auto; max-width: 46rem; padding: 1.5rem 1rem; }
  body.wide main { max-width: 110rem; }
  header.site { display: flex; align-items: center; gap: .6rem; padding: .6rem 1rem; border-bottom: 1px solid var(--hairline); }
  header.site a { color: var(--text); font-weight: 600; text-decoration: none; }
  h1 { font-size: 1.75rem; font-weight: 600; letter-spacing: -0.01em; line-height: 1.25; margin: 0 0 1rem; }
  h2 { font-size: 1.2rem; font-weight: 600; margin: 1.5rem 0 .5rem; }
  a { color: var(--accent); }
  form { display: grid; gap: .75rem; max-width: 24rem; }
  label { font-weight: 600; }
  input, select, textarea { font: inherit; padding: .5rem; border: 1px solid var(--hairline); border-radius: .5rem; background: var(--surface); color: var(--text); max-width: 100%; }
  button { font: inherit; font-weight: 600; padding: .45rem 1rem; border: 1px solid var(--accent); border-radius: .5rem; background: var(--accent); color: var(--on-accent); cursor: pointer; }
  button:hover:not(:disabled) { filter: brightness(1.08); }
  button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  button.danger { background: var(--bad); border-color: var(--bad); color: var(--bg); }
  button.quiet { background: var(--surface-2); border-color: var(--hairline); color: var(--text); }
  button:disabled, button[aria-disabled="true"] { opacity: .45; cursor: not-allowed; filter: grayscale(1); text-decoration: line-through; text-decoration-thickness: 1px; }
  .error { color: var(--bad); font-weight: 600; }
  .notice { padding: 1rem; border-left: 4px solid var(--warn); background: var(--warn-low); border-radius: .25rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--hairline); vertical-align: top; }
  thead th { font-size: .85rem; color: var(--muted); font-weight: 600; }
  .controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 1rem; }
  .controls a, a.button { padding: .45rem 1rem; border: 1px solid var(--accent); border-radius: .5rem; text-decoration: none; font-weight: 600; }
  .table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
  td.now { min-width: 10rem; }
  td.step, th.step { text-align: center; padding: .4rem .2rem; min-width: 1.6rem; }
  .step-not-started { color: var(--muted); } .step-in-progress { color: var(--warn); }
  .step-failed { color: var(--bad); font-weight: 700; } .step-passed { color: var(--good); font-weight: 700; }
  .help, .hand { display: inline-block; margin-left: .3rem; padding: 0 .4rem; border-radius: .3rem; font-size: .85em; font-weight: 600; }
  .help { background: var(--bad-low); color: var(--bad); } .hand { background: var(--warn-low); color: var(--warn); }
  .gone { color: var(--muted); font-style: italic; }
  .error-text { margin: .2rem 0 0; color: var(--bad); font-size: .85em; white-space: pre-wrap; }
  td button { padding: .25rem .5rem; font-size: .9em; margin: 0 .2rem .2rem 0; }
  code, pre { font-family: var(--mono); }
  :not(pre) > code { padding: .1em .35em; border-radius: .3em; background: var(--surface-2); font-size: .88em; }
  pre.screen { background: #0d1117; color: #e6edf3; padding: .75rem; overflow: auto; min-height: 20rem; border-radius: .5rem; }
  .muted { color: var(--muted); }
  .join { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
  .qr { width: 9rem; height: 9rem; background: #fff; border-radius: .5rem; padding: .25rem; flex: none; }
  .qr svg { width: 100%; height: 100%; display: block; }
  .room { display: grid; gap: .75rem 1.5rem; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); margin: 0 0 1rem; }
  .room section { border: 1px solid var(--hairline); border-radius: .5rem; padding: .75rem; background: var(--surface); }
  .room h2 { margin: 0 0 .5rem; font-size: 1rem; }
  .room form { max-width: none; gap: .5rem; }
  .room form > *, .room section { min-width: 0; }
  .room select, .room textarea { width: 100%; }
  td.command { min-width: 16rem; max-width: 28rem; }
  td.command code { overflow-wrap: anywhere; }
  .row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
  .paused-flag { color: var(--bad); font-weight: 700; }
  #hands li { margin: .2rem 0; }
  .wall { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 30rem), 1fr)); }
  .tile { border: 1px solid var(--hairline); border-radius: .5rem; background: var(--surface); overflow: hidden; }
  .tile h2 { margin: 0; padding: .3rem .6rem; font-size: .9rem; display: flex; gap: .5rem; justify-content: space-between; border-bottom: 1px solid var(--hairline); }
  .tile .term { height: 16rem; background: #0d1117; padding: .25rem; }
  @media (max-width: 40rem) { main { padding: 1rem .75rem; } h1 { font-size: 1.4rem; } }
`;

/** The header every classroom page carries: no framing, scripts only from this origin. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export function layout(
  title: string,
  body: string,
  scripts: string[] = [],
  options: { wide?: boolean; styles?: string[] } = {},
): string {
  // theme.js first and not deferred: the site's dark/light choice applies before the first paint.
  const tags = ['/workshop/theme.js', ...scripts]
    .map((s, i) => `<script src="${esc(s)}"${i === 0 ? '' : ' defer'}></script>`)
    .join('');
  const links = (options.styles ?? []).map((s) => `<link rel="stylesheet" href="${esc(s)}">`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Layerlab</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><style>${STYLE}</style>${links}${tags}</head><body${options.wide ? ' class="wide"' : ''}><header class="site"><a href="/">Layerlab</a></header><main>${body}</main></body></html>`;
}

export function sendPage(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

export function joinPage(workshop: { name: string; code: string }, error?: string, name = ''): string {
  return layout(
    `Join ${workshop.name}`,
    `<h1>Join “${esc(workshop.name)}”</h1>
<form method="post" action="/join/${esc(workshop.code)}" data-json-form>
  <label for="name">Your display name</label>
  <input id="name" name="name" required maxlength="40" autocomplete="nickname" value="${esc(name)}" aria-describedby="name-help${error ? ' form-error' : ''}">
  <span id="name-help" class="muted">Your teacher sees this name next to your progress.</span>
  <p id="form-error" class="error" role="alert"${error ? '' : ' hidden'}>${esc(error ?? '')}</p>
  <button type="submit">Join</button>
</form>`,
    ['/workshop/forms.js'],
  );
}

export function messagePage(title: string, message: string, hint?: string): string {
  return layout(
    title,
    `<h1>${esc(title)}</h1><p class="notice" role="status">${esc(message)}</p>${hint ? `<p class="muted">${esc(hint)}</p>` : ''}`,
  );
}

export function teacherLoginPage(code = '', error?: string): string {
  return layout(
    'Teacher sign-in',
    `<h1>Teacher sign-in</h1>
<form method="post" action="/teacher/login" data-json-form>
  <label for="code">Workshop code</label>
  <input id="code" name="code" required maxlength="12" autocomplete="off" value="${esc(code)}">
  <label for="password">Teacher password</label>
  <input id="password" name="password" type="password" required autocomplete="current-password">
  <p id="form-error" class="error" role="alert"${error ? '' : ' hidden'}>${esc(error ?? '')}</p>
  <button type="submit">Sign in</button>
</form>`,
    ['/workshop/forms.js'],
  );
}

export function dashboardPage(
  workshop: { name: string; code: string; seats: number },
  joinUrl: string,
  qrSvg: string,
  course: readonly { id: string; order: number; title: string }[],
): string {
  const options = course
    .map((l) => `<option value="${esc(l.id)}">${l.order}. ${esc(l.title)}</option>`)
    .join('');
  return layout(
    `Dashboard: ${workshop.name}`,
    `<h1>${esc(workshop.name)}</h1>
<div class="join">
  <div class="qr" id="join-qr" role="img" aria-label="QR code of the join link ${esc(joinUrl)}">${qrSvg}</div>
  <p>Students join at <a id="join-url" href="${esc(joinUrl)}"><code>${esc(joinUrl)}</code></a><br>or with the code <strong><code>${esc(workshop.code)}</code></strong> at <code>/join</code>.</p>
</div>
<p id="summary" role="status" aria-live="polite" class="muted">Loading…</p>
<p id="action" role="status" aria-live="polite"></p>
<div class="room">
  <section aria-labelledby="room-message">
    <h2 id="room-message">Message to everyone</h2>
    <form id="broadcast-form">
      <label for="broadcast-text" class="muted">Shown on every student's page until they close it.</label>
      <textarea id="broadcast-text" rows="2" maxlength="500" required></textarea>
      <div class="row"><button type="submit">Send to everyone</button><button type="button" class="quiet" id="broadcast-clear">Take down</button></div>
    </form>
    <p id="broadcast-now" class="muted"></p>
  </section>
  <section aria-labelledby="room-lesson">
    <h2 id="room-lesson">Lesson for everyone</h2>
    <form id="call-form">
      <label for="call-lesson" class="muted">A banner with a link on every page; nobody is moved mid-command.</label>
      <select id="call-lesson">${options}</select>
      <div class="row"><button type="submit">Send everyone there</button><button type="button" class="quiet" id="call-clear">Take down</button></div>
    </form>
    <p id="call-now" class="muted"></p>
  </section>
  <section aria-labelledby="room-pause">
    <h2 id="room-pause">Pause</h2>
    <p class="muted">Students' terminals stop taking input and Run blocks are off until you resume.</p>
    <button type="button" id="pause">Pause the class</button>
  </section>
  <section aria-labelledby="room-hands">
    <h2 id="room-hands">Raised hands</h2>
    <ul id="hands"></ul>
    <p id="no-hands" class="muted">No hands up.</p>
  </section>
  <section aria-labelledby="room-reset">
    <h2 id="room-reset">Reset the whole class</h2>
    <form id="reset-class-form">
      <label for="reset-lesson" class="muted">Every student's sandbox goes back to the start of this lesson; each is told what went.</label>
      <select id="reset-lesson">${options}</select>
      <div class="row"><button type="submit" class="danger">Reset the class…</button></div>
    </form>
  </section>
</div>
<div class="controls">
  <a href="/teacher/wall">Wall of terminals</a>
  <button type="button" class="quiet" id="add-seat">Add a seat</button>
  <a href="/api/workshop/export.csv" download>Export CSV</a>
  <a href="/api/workshop/export.json" download>Export JSON</a>
</div>
<div class="table-wrap">
<table aria-describedby="summary">
  <thead id="grid-head"><tr><th scope="col">Student</th><th scope="col">Now</th><th scope="col">Last command</th><th scope="col">Terminals</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
  <tbody id="students"></tbody>
</table>
</div>
<p class="muted">Steps: · not started, … in progress, ✗ failed (the hint the student saw is in the cell's title), ✓ passed. Reset puts one student back to the start of the lesson they are on.</p>
<p><button type="button" class="danger" id="end">End workshop</button> <span class="muted">Destroys every student's containers.</span></p>`,
    ['/workshop/dashboard.js'],
    { wide: true },
  );
}

/** The wall of terminals: a live read-only tile per student terminal, drawn by wall.js. */
export function wallPage(workshop: { name: string }): string {
  return layout(
    `Wall: ${workshop.name}`,
    `<h1>${esc(workshop.name)}: wall of terminals</h1>
<p class="muted">Live, read-only: nothing typed here reaches a student. Each tile keeps its scrollback. <a href="/teacher/dashboard">Back to the dashboard</a></p>
<p id="status" role="status" aria-live="polite" class="muted">Loading…</p>
<div class="wall" id="wall"></div>`,
    ['/workshop/wall.js'],
    { wide: true, styles: ['/workshop/wall.css'] },
  );
}

export function watchPage(studentName: string, session: string, terminal: string): string {
  return layout(
    `${studentName}: ${terminal}`,
    `<h1>${esc(studentName)} — terminal <code>${esc(terminal)}</code></h1>
<p class="muted">Read-only view: what you type here is not sent. <a href="/teacher/dashboard">Back to the dashboard</a></p>
<p id="status" role="status" aria-live="polite" class="muted">Connecting…</p>
<pre class="screen" id="screen" data-session="${esc(session)}" data-terminal="${esc(terminal)}" aria-label="Student terminal screen" tabindex="0"></pre>`,
    ['/workshop/watch.js'],
  );
}
