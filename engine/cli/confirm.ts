// Docker's prune prompt: "Are you sure you want to continue? [y/N]", answered from stdin; end of
// input (a pipe, CI) counts as no.

import type { Cli } from './cli.ts';

export async function confirm(cli: Cli, warning: string): Promise<boolean> {
  cli.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine(cli.stdin);
  return /^y(es)?$/i.test(answer.trim());
}

function readLine(stream: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      stream.off('data', onData);
      stream.off('end', finish);
      stream.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) finish();
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.resume();
  });
}
