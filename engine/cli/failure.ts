// A failure a command has already worded, in a module of its own: the error report (report.ts) needs
// the class on every path, while cli.ts brings the engine context, which `--help` never needs.

/** A failure the command has already worded; `status` is the process exit status. */
export class CommandFailure extends Error {
  readonly status: number;
  constructor(message: string, status = 1) {
    super(message);
    this.name = 'CommandFailure';
    this.status = status;
  }
}
