// Progress lines for setup: one "==> step" header per step and indented detail, so a reader can tell
// which step failed and what it was doing.

export function step(text: string): void {
  process.stdout.write(`==> ${text}\n`);
}

export function detail(text: string): void {
  process.stdout.write(`    ${text}\n`);
}

/** A precondition that is not met: setup stops with one sentence saying what is missing and how to fix it. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}
