// The lesson walk's part for <Predict> and <Answer>: before a Run button a prediction guards, commit
// one (the first choice, or a size), and after its run the page must have decided right or wrong
// from the real output (no choice matching what happened is a lesson bug). An <Answer> is answered
// wrong first (refused, the value not shown), then with the true value, read from the engine
// (`/api/state`) or from what the terminal printed, and must be accepted.

import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { lessonAnswers } from '../../content/lesson-checks.ts';
import { humanSize } from '../../engine/format/text.ts';
import { type Answer, parseAnswer } from '../../server/checks/answer-schema.ts';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';

const POLL = { timeout: 30_000, interval: 200 };

/**
 * Commits the prediction bound to `button`, if any and not made yet (a reload keeps one); returns
 * its id, to wait for its verdict once the block has run.
 */
export async function commitPrediction(page: Page, button: Locator): Promise<string | undefined> {
  const id = await button.getAttribute('data-predict');
  if (!id) return undefined;
  const predict = page.locator(`layerlab-predict[data-id="${id}"]`);
  if ((await predict.getAttribute('data-state')) !== 'open') return id;
  const radios = predict.locator('input[type="radio"]');
  if ((await radios.count()) > 0) await radios.first().check();
  else await predict.locator('[data-value]').fill('1MB');
  await predict.locator('[data-commit]').click();
  await expect.poll(() => predict.getAttribute('data-state'), POLL).toBe('committed');
  return id;
}

/** Waits for the prediction's verdict: the run's real output must have matched one of its answers. */
export async function expectVerdict(page: Page, id: string): Promise<void> {
  const predict = page.locator(`layerlab-predict[data-id="${id}"]`);
  await expect.poll(() => predict.getAttribute('data-state'), POLL).toMatch(/^(right|wrong|unknown|replay)$/);
  const text = await predict.locator('[data-result]').innerText();
  expect(await predict.getAttribute('data-state'), `<Predict id="${id}">: ${text}`).toMatch(
    /^(right|wrong)$/,
  );
}

function snapshot(page: Page): Promise<SessionSnapshot> {
  return page.evaluate(async () => {
    const res = await fetch('/api/state', { credentials: 'same-origin' });
    return (await res.json()) as SessionSnapshot;
  });
}

function imageOf(state: SessionSnapshot, ref: string) {
  const tag = ref.includes(':') ? ref : `${ref}:latest`;
  const image = state.images.find((i) => i.repoTags.includes(tag));
  if (!image)
    throw new Error(`no image ${ref} in the session: ${state.images.flatMap((i) => i.repoTags).join(', ')}`);
  return image;
}

/** What the terminals of the page show now, as text (xterm's rows use no-break spaces). */
async function screens(page: Page): Promise<string> {
  const rows = await page.locator('layerlab-terminal .xterm-rows').allInnerTexts();
  return rows.join('\n').replace(/\u00a0/g, ' ');
}

/** The true value of `answer` and a wrong one, from the engine's state or the terminal's output. */
async function values(page: Page, answer: Answer): Promise<{ right: string; wrong: string }> {
  switch (answer.kind) {
    case 'image-id':
      return { right: imageOf(await snapshot(page), answer.image).id, wrong: `sha256:${'0'.repeat(64)}` };
    case 'shared-diff-id': {
      const state = await snapshot(page);
      const [first, ...rest] = answer.images.map((ref) => imageOf(state, ref).layers.map((l) => l.diffId));
      const shared = first!.find((d) => rest.every((list) => list.includes(d)));
      if (!shared) throw new Error(`${answer.images.join(' and ')} share no layer`);
      return { right: shared.slice(0, 'sha256:'.length + 12), wrong: `sha256:${'0'.repeat(64)}` };
    }
    case 'layer-count': {
      const n = imageOf(await snapshot(page), answer.image).layers.length;
      return { right: String(n), wrong: String(n + 7) };
    }
    case 'image-size':
      return { right: humanSize(imageOf(await snapshot(page), answer.image).size, 3), wrong: '999GB' };
    case 'system-df': {
      // As the reader does: from the table `docker system df` printed last.
      const rows = [
        ...(await screens(page)).matchAll(
          new RegExp(`^${answer.row}\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)\\s+(\\S+)`, 'gm'),
        ),
      ];
      const row = rows.at(-1);
      if (!row)
        throw new Error(
          `no "${answer.row}" row of docker system df in the terminal:\n${await screens(page)}`,
        );
      const column = { total: 1, active: 2, size: 3, reclaimable: 4 }[answer.column];
      const right = row[column]!.replace(/\s*\(.*$/, '');
      return { right, wrong: answer.column === 'size' || answer.column === 'reclaimable' ? '999GB' : '9999' };
    }
  }
}

async function submit(answer: Locator, value: string): Promise<string> {
  await answer.locator('[data-value]').fill(value);
  await answer.locator('[data-submit]').click();
  await expect.poll(() => answer.getAttribute('data-state'), POLL).toMatch(/^(right|wrong)$/);
  return (await answer.getAttribute('data-state')) ?? '';
}

/** Answers `answer` wrong (refused, without the value) and then right (accepted). */
export async function passAnswer(page: Page, lesson: string, answer: Locator): Promise<void> {
  const id = (await answer.getAttribute('data-id')) ?? '';
  const declared = lessonAnswers[lesson]?.[id];
  const parsed = parseAnswer(declared);
  if (!parsed.ok) throw new Error(`${lesson} › ${id}: ${parsed.message}`);
  const { right, wrong } = await values(page, parsed.answer);
  await expect.poll(() => answer.locator('[data-submit]').isEnabled(), POLL).toBe(true);
  expect(await submit(answer, wrong), `${id}: ${wrong} is refused`).toBe('wrong');
  const said = await answer.locator('[data-result]').innerText();
  expect(said, `${id}: a wrong answer does not show the value`).not.toContain(right.replace(/^sha256:/, ''));
  expect(await submit(answer, right), `${id}: ${right} is accepted`).toBe('right');
}
