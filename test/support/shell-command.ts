// Runs one command at a session's web prompt and returns only what it printed: the output between the
// command's echo and the prompt that comes back after it (ANSI sequences stripped).

import { stripVTControlCharacters } from 'node:util';
import type { TestClient } from './server.ts';

/** The prompt the web terminal shows (server/terminal/terminal.ts). */
const PROMPT = '\x1b[1;32mreader@layerlab\x1b[0m:\x1b[1;34m~\x1b[0m$ ';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Types `command` into the `main` terminal (open on `channel`) and waits for the prompt after it.
 * Returns the command's output as plain text.
 */
export async function shellCommand(
  client: TestClient,
  channel: number,
  command: string,
  timeoutMs = 120_000,
): Promise<string> {
  const start = client.output(channel).length;
  client.send({ type: 'terminal.run', terminal: 'main', command });
  const done = new RegExp(
    `^[\\s\\S]{${start}}[\\s\\S]*?${escapeRegExp(command)}([\\s\\S]*)${escapeRegExp(PROMPT)}`,
  );
  const text = await client.waitForOutput(channel, done, timeoutMs);
  const match = done.exec(text);
  return stripVTControlCharacters(match?.[1] ?? '')
    .replace(/\r/g, '')
    .replace(/^\n/, '');
}
