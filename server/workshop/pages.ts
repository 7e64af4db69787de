// Server-rendered pages of classroom mode (join, full/ended, teacher sign-in, dashboard, read-only
// terminal view): small, accessible HTML without a framework, until the site restyles them. Every
// interpolated value goes through `esc`.

import type { ServerResponse } from 'node:http';

export function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1.5rem; color: #1b1f24; }
  h1 { font-size: 1.6rem; margin: 0 0 1rem; }
  form { display: grid; gap: .75rem; max-width: 24rem; }
  label { font-weight: 600; }
  input { font: inherit; padding: .5rem; border: 1px solid #8c959f; border-radius: 4px; }
  button { font: inherit; padding: .5rem 1rem; border: 0; border-radius: 4px; background: #0969da; color: #fff; cursor: pointer; }
  button.danger { background: #cf222e; }
  .error { color: #a40e26; font-weight: 600; }
  .notice { padding: 1rem; border-left: 4px solid #bf8700; background: #fff8c5; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
  .pass { color: #1a7f37; } .todo { color: #6e7781; }
  .controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 1rem; }
  .controls a { padding: .5rem 1rem; border: 1px solid #0969da; border-radius: 4px; text-decoration: none; }
  .table-wrap { overflow-x: auto; }
  body:has(#students) { max-width: 100rem; }
  td.now { min-width: 10rem; }
  td.step, th.step { text-align: center; padding: .4rem .2rem; min-width: 1.6rem; }
  .step-not-started { color: #8c959f; } .step-in-progress { color: #9a6700; }
  .step-failed { color: #cf222e; font-weight: 700; } .step-passed { color: #1a7f37; font-weight: 700; }
  .help { display: inline-block; margin-left: .3rem; padding: 0 .4rem; border-radius: 4px; background: #ffebe9; color: #a40e26; font-size: .85em; font-weight: 600; }
  .gone { color: #6e7781; font-style: italic; }
  .error-text { margin: .2rem 0 0; color: #a40e26; font-size: .85em; white-space: pre-wrap; }
  td button { padding: .25rem .5rem; font-size: .9em; margin: 0 .2rem .2rem 0; }
  button.quiet { background: #eaeef2; color: #1b1f24; }
  code, pre { font-family: ui-monospace, monospace; }
  pre.screen { background: #0d1117; color: #e6edf3; padding: .75rem; overflow: auto; min-height: 20rem; }
  .muted { color: #57606a; }
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

export function layout(title: string, body: string, scripts: string[] = []): string {
  const tags = scripts.map((s) => `<script src="${esc(s)}" defer></script>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Layerlab</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><style>${STYLE}</style>${tags}</head><body><main>${body}</main></body></html>`;
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
): string {
  return layout(
    `Dashboard: ${workshop.name}`,
    `<h1>${esc(workshop.name)}</h1>
<p>Students join at <a href="${esc(joinUrl)}"><code>${esc(joinUrl)}</code></a> — code <strong><code>${esc(workshop.code)}</code></strong>.</p>
<p id="summary" role="status" aria-live="polite" class="muted">Loading…</p>
<div class="controls">
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
<p class="muted">Steps: · not started, … in progress, ✗ failed (the hint the student saw is in the cell's title), ✓ passed.</p>
<p><button type="button" class="danger" id="end">End workshop</button> <span class="muted">Destroys every student's containers.</span></p>`,
    ['/workshop/dashboard.js'],
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
