// Docker's pattern for commands over several containers (stop, kill, rm, …): act on each, print what
// succeeded, report each failure on stderr, and fail at the end if any did.

import type { Cli } from './cli.ts';
import { reportError } from './report.ts';

export async function forEachTarget(
  cli: Cli,
  targets: readonly string[],
  act: (target: string) => Promise<string | undefined>,
): Promise<number> {
  let status = 0;
  for (const target of targets) {
    try {
      const line = await act(target);
      if (line !== undefined) cli.out(line);
    } catch (err) {
      const report = reportError(err, undefined, cli.debug);
      cli.err(report.text);
      status = report.status;
    }
  }
  return status;
}
