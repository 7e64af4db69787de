// Posts the classroom pages' [data-json-form] forms (join, teacher sign-in) as JSON and follows the
// server's redirect, or shows its error in the form's #form-error.

import { errorMessage, jsonBody, redirectOf } from './page.ts';

for (const form of document.querySelectorAll<HTMLFormElement>('form[data-json-form]')) {
  const out = form.querySelector<HTMLElement>('#form-error');
  const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
  // Every such form the server renders has both; without them the form keeps its native submit.
  if (!out || !button) continue;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Object.fromEntries(new FormData(form))),
      });
      const body = await jsonBody(res);
      const redirect = redirectOf(body);
      if (res.ok && redirect) return location.assign(redirect);
      out.textContent = errorMessage(body) ?? `Something went wrong (${res.status}).`;
    } catch {
      out.textContent = 'The server could not be reached. Try again.';
    }
    out.hidden = false;
    button.disabled = false;
  });
}
