// The environment of one browser terminal's shell: what `docker run -e NAME` and `docker build
// --build-arg NAME` read as "the caller's environment". It starts small (HOME, PATH) and holds what
// the reader `export`s; it never holds anything of the server process, whose environment carries
// the operator's secrets. Pure: the builtins `export`, `unset` and `env` are worded here.

import type { Environment } from '../../engine/cli/cli.ts';

/** What a fresh terminal's shell has set. */
export const INITIAL_ENV: Environment = {
  HOME: '/home/reader',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

/** Bounds, so `export` in a loop cannot grow the server's memory. */
export const MAX_VARIABLES = 64;
export const MAX_ENV_BYTES = 64 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The outcome of a builtin: text for the terminal and the exit status. */
export interface BuiltinResult {
  output: string;
  status: number;
}

export class ShellEnv {
  readonly #vars: Map<string, string>;

  /** `extra`: what this session adds to INITIAL_ENV (`REGISTRY`, the registry it may push to). */
  constructor(extra: Environment = {}) {
    this.#vars = new Map(
      Object.entries({ ...INITIAL_ENV, ...extra }).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]])),
    );
  }

  /** One variable's value, for `$NAME` at the prompt. */
  get(name: string): string | undefined {
    return this.#vars.get(name);
  }

  /** A copy, for one command: later `export`s do not change a command already running. */
  snapshot(): Environment {
    return Object.freeze(Object.fromEntries(this.#vars));
  }

  #bytes(without?: string): number {
    let n = 0;
    for (const [k, v] of this.#vars) if (k !== without) n += k.length + v.length + 2;
    return n;
  }

  /** `export [NAME[=VALUE]…]`: sets each NAME=VALUE; a bare NAME is already exported (everything is). */
  export(args: readonly string[]): BuiltinResult {
    if (args.length === 0) return { output: this.#list((k, v) => `export ${k}=${quote(v)}`), status: 0 };
    let output = '';
    let status = 0;
    for (const arg of args) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg : arg.slice(0, eq);
      if (!NAME.test(name)) {
        output += `export: \`${arg}': not a valid identifier\n`;
        status = 1;
        continue;
      }
      if (eq === -1) continue;
      const value = arg.slice(eq + 1);
      const isNew = !this.#vars.has(name);
      if (isNew && this.#vars.size >= MAX_VARIABLES) {
        output += `export: ${name}: too many variables (at most ${MAX_VARIABLES} in this terminal)\n`;
        status = 1;
        continue;
      }
      if (this.#bytes(name) + name.length + value.length + 2 > MAX_ENV_BYTES) {
        output += `export: ${name}: the environment would exceed ${MAX_ENV_BYTES / 1024} KiB\n`;
        status = 1;
        continue;
      }
      this.#vars.set(name, value);
    }
    return { output, status };
  }

  /** `unset NAME…`. */
  unset(args: readonly string[]): BuiltinResult {
    let output = '';
    let status = 0;
    for (const name of args) {
      if (name.startsWith('-') || !NAME.test(name)) {
        output += `unset: \`${name}': not a valid identifier\n`;
        status = 1;
        continue;
      }
      this.#vars.delete(name);
    }
    return { output, status };
  }

  /** `env`: the variables, one NAME=VALUE a line. Running a program with them needs a real shell. */
  env(args: readonly string[]): BuiltinResult {
    if (args.length > 0) {
      return {
        output:
          "env: running a program is not supported here; in a container's shell it is: docker run -it busybox sh\n",
        status: 125,
      };
    }
    return { output: this.#list((k, v) => `${k}=${v}`), status: 0 };
  }

  #list(line: (name: string, value: string) => string): string {
    return [...this.#vars]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${line(k, v)}\n`)
      .join('');
  }
}

/** A value as the shell would print it for re-reading: single quotes, `'` spelled `'\''`. */
function quote(value: string): string {
  return /^[A-Za-z0-9_./:@%+,=-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
