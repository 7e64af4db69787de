// Click-to-run for code blocks: an Expressive Code plugin that gives a fenced block with the meta
// `run` (or `run=<terminal>`) a Run button. The button only announces the command on the page
// (`layerlab:run`); the terminal of that name (site/src/client/terminal.ts) types and runs it, and
// client/run-block.ts keeps the button busy (aria-disabled) until it is done and says what happened.

import { definePlugin } from '@astrojs/starlight/expressive-code';
import { h } from '@astrojs/starlight/expressive-code/hast';

/** Runs in the browser on pages with code blocks: one delegated listener, no framework. */
const clientScript = `
document.addEventListener('click', (e) => {
  const button = e.target instanceof Element ? e.target.closest('button.ll-run') : null;
  if (!button) return;
  // Busy until its command is done: a second click (a double-click) does not run it again.
  if (button.getAttribute('aria-disabled') === 'true') return;
  const detail = { terminal: button.dataset.terminal, command: button.dataset.command, handled: false, button };
  window.dispatchEvent(new CustomEvent('layerlab:run', { detail }));
  const note = button.parentElement && button.parentElement.querySelector('.ll-run-note');
  if (note && !detail.handled) note.textContent = button.dataset.missing || '';
});
`;

export function pluginRunButton() {
  return definePlugin({
    name: 'layerlab-run',
    jsModules: [clientScript],
    baseStyles: `
      .ll-run-bar { display: flex; align-items: center; justify-content: flex-end; gap: 0.75rem;
        padding: 0.35rem 0.5rem; border-top: 1px solid var(--ec-brdCol); background: var(--ec-frm-edBg); }
      .ll-run-bar.in-header { position: absolute; inset-block-start: 0; inset-inline-end: 0; z-index: 1;
        padding: 0.2rem 0.4rem; border: 0; background: none; }
      .ll-run-bar.in-header .ll-run { padding: 0.15rem 0.7rem; }
      .ll-run-note { font-size: 0.8rem; opacity: 0.8; }
      .ll-run { font: inherit; font-size: 0.8rem; font-weight: 600; line-height: 1.2; cursor: pointer;
        padding: 0.3rem 0.8rem; border-radius: 999px; border: 1px solid var(--ll-run-border, currentColor);
        color: var(--ll-run-fg, inherit); background: var(--ll-run-bg, transparent); }
      .ll-run:hover { background: var(--ll-run-bg-hover, rgba(127,127,127,0.15)); }
      .ll-run:focus-visible { outline: 2px solid var(--ll-run-focus, currentColor); outline-offset: 2px; }
      .ll-run[aria-disabled="true"] { cursor: progress; opacity: 0.7; }
      .ll-run[aria-disabled="true"]::after { content: ' …'; }
      .ll-run-bar:has(.ll-run-note:not(:empty)) { flex-wrap: wrap; }
      .ll-run-bar.in-header:has(.ll-run-note:not(:empty)) { position: static; border-top: 1px solid var(--ec-brdCol);
        background: var(--ec-frm-edBg); padding: 0.35rem 0.5rem; }
      .ll-run-note { flex: 1 1 12rem; text-align: end; }
      .ll-run-bar:has(.ll-run[data-state="refused"]) .ll-run-note { font-weight: 600; opacity: 1; }
    `,
    hooks: {
      postprocessRenderedBlock: ({ codeBlock, renderData }) => {
        const named = codeBlock.metaOptions.getString('run');
        const flag = codeBlock.metaOptions.getBoolean('run');
        if (named === undefined && flag !== true) return;
        const terminal = named && /^[A-Za-z0-9_.-]{1,64}$/.test(named) ? named : 'main';
        const command = codeBlock.code
          .split('\n')
          .map((line) => line.replace(/^\$ /, ''))
          .join('\n')
          .trim();
        // A terminal frame has a title bar with room on the right: the button sits there.
        const hasHeader = renderData.blockAst.children.some(
          (c) => c.type === 'element' && c.tagName === 'figcaption',
        );
        const label = terminal === 'main' ? 'Run' : `Run in ${terminal}`;
        renderData.blockAst.children.push(
          h('div', { className: hasHeader ? 'll-run-bar in-header' : 'll-run-bar' }, [
            h('span', { className: 'll-run-note', role: 'status' }),
            h(
              'button',
              {
                type: 'button',
                className: 'll-run',
                'data-terminal': terminal,
                'data-command': command,
                'data-missing': `No terminal named “${terminal}” on this page.`,
                'aria-label': `${label}: ${command.split('\n')[0]}`,
              },
              [`▶ ${label}`],
            ),
          ]),
        );
      },
    },
  });
}
