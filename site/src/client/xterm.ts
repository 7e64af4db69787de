// xterm.js and its addons in one lazily loaded chunk: a page pays for it only when it has a terminal,
// and only once the terminal element is on screen.

import '@xterm/xterm/css/xterm.css';

export { FitAddon } from '@xterm/addon-fit';
export { Unicode11Addon } from '@xterm/addon-unicode11';
export { WebLinksAddon } from '@xterm/addon-web-links';
export { Terminal } from '@xterm/xterm';
