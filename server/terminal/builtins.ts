// The prompt's builtins (help, clear, history, ls, rm, export, unset, env, exit): a table of small
// functions over a BuiltinContext, each returning its exit status. Only ls and rm touch the disk.

import { listPath, removeFile, type Workspace, WorkspaceError } from '../sessions/workspace.ts';
import type { BUILTINS } from './complete.ts';
import type { ShellEnv } from './shell-env.ts';

export type BuiltinName = (typeof BUILTINS)[number];

/** What a builtin may use of its terminal. */
export interface BuiltinContext {
  /** Text for the terminal, with LF line ends. */
  print(text: string): void;
  readonly history: { readonly entries: readonly string[] };
  readonly workspace: Workspace;
  readonly env: ShellEnv;
}

/**
 * A builtin answers at once, or reads the disk (then keys wait and click-to-run queues until it is
 * done, as for a command). `recorded`: the line becomes a `terminal.command` event, which lessons'
 * checks read; the builtins that only show help or the screen are not commands a lesson asks for.
 */
export type Builtin =
  | {
      readonly disk: false;
      readonly recorded: boolean;
      run(ctx: BuiltinContext, args: readonly string[]): number;
    }
  | { readonly disk: true; run(ctx: BuiltinContext, args: readonly string[]): Promise<number> };

export const HELP = `This terminal speaks Docker's command line:

  docker pull busybox            docker images
  docker run -it busybox sh      docker ps -a
  docker diff CONTAINER          docker commit CONTAINER my-image

'podman' and 'layerlab' work as well. Press Tab to complete commands, image
and container names; Up and Down recall earlier commands; Ctrl-C cancels a
pull or a build. Pipes, redirection and other programs need a real shell:
start one inside a container with 'docker run -it busybox sh'.

Files: 'docker save -o image.tar busybox' writes into your workspace (~) and
'docker load -i image.tar' reads from it; 'docker build -t NAME /lessons/NAME'
builds a lesson's context. 'ls' lists your workspace, 'ls /lessons' the
contexts, 'rm FILE' removes a file from the workspace.

Variables: 'export NAME=value' sets one for later commands ('docker run -e
NAME' and 'docker build --build-arg NAME' read it), 'unset NAME' removes it
and 'env' lists them. '$NAME' and '\${NAME}' expand to a variable's value
('$REGISTRY' is the registry you may push to), and '$(docker ...)' to a
command's output: 'docker rm $(docker ps -aq)' removes every container.

Builtins: help, clear, history, ls, rm, export, unset, env, exit.
`;

/** The escape sequences that clear the screen and the scrollback. */
export const CLEAR = '\x1b[H\x1b[2J\x1b[3J';

/** An environment builtin: the wording is ShellEnv's; this only prints it. */
function envBuiltin(
  run: (env: ShellEnv, args: readonly string[]) => { output: string; status: number },
): Builtin {
  return {
    disk: false,
    recorded: true,
    run(ctx, args) {
      const result = run(ctx.env, args);
      ctx.print(result.output);
      return result.status;
    },
  };
}

export const builtins: Readonly<Record<BuiltinName, Builtin>> = {
  help: {
    disk: false,
    recorded: false,
    run(ctx) {
      ctx.print(HELP);
      return 0;
    },
  },
  clear: {
    disk: false,
    recorded: false,
    run(ctx) {
      ctx.print(CLEAR);
      return 0;
    },
  },
  history: {
    disk: false,
    recorded: false,
    run(ctx) {
      const entries = ctx.history.entries;
      const width = String(entries.length).length;
      ctx.print(entries.map((e, i) => `  ${String(i + 1).padStart(width)}  ${e}\n`).join(''));
      return 0;
    },
  },
  ls: { disk: true, run: list },
  rm: { disk: true, run: remove },
  export: envBuiltin((env, args) => env.export(args)),
  unset: envBuiltin((env, args) => env.unset(args)),
  env: envBuiltin((env, args) => env.env(args)),
  exit: {
    disk: false,
    recorded: false,
    run(ctx) {
      ctx.print(
        "This terminal belongs to the page and cannot be closed from here. Inside a container, 'exit' leaves its shell.\n",
      );
      return 0;
    },
  },
};

export function isBuiltin(name: string): name is BuiltinName {
  return Object.hasOwn(builtins, name);
}

/** Anything else typed at the prompt; the status is the shell's 127. */
export function commandNotFound(ctx: Pick<BuiltinContext, 'print'>, name: string): number {
  ctx.print(
    `${name}: command not found\nThis prompt runs docker, podman and layerlab commands.\nFor a real shell: docker run -it busybox sh\n`,
  );
  return 127;
}

/** Prints a failed file operation; only the workspace's own messages reach the page in full. */
function failure(ctx: BuiltinContext, name: string, err: unknown): void {
  ctx.print(
    `${err instanceof WorkspaceError ? err.message : `${name}: ${err instanceof Error ? err.message : String(err)}`}\n`,
  );
}

/** `ls [PATH…]` over the workspace and the lesson contexts. */
async function list(ctx: BuiltinContext, args: readonly string[]): Promise<number> {
  let status = 0;
  const paths = args.length === 0 ? ['.'] : args;
  for (const path of paths) {
    try {
      const entries = await listPath(ctx.workspace, path);
      if (paths.length > 1) ctx.print(`${path}:\n`);
      const width = Math.max(0, ...entries.map((e) => String(e.size).length));
      ctx.print(
        entries
          .map(
            (e) =>
              `${e.dir ? '-'.padStart(width) : String(e.size).padStart(width)}  ${e.name}${e.dir ? '/' : ''}\n`,
          )
          .join(''),
      );
    } catch (err) {
      failure(ctx, 'ls', err);
      status = 1;
    }
  }
  return status;
}

/** `rm FILE…` in the workspace. */
async function remove(ctx: BuiltinContext, args: readonly string[]): Promise<number> {
  if (args.length === 0) {
    ctx.print('rm: missing operand\n');
    return 1;
  }
  let status = 0;
  for (const arg of args) {
    await removeFile(ctx.workspace, arg).catch((err: unknown) => {
      failure(ctx, 'rm', err);
      status = 1;
    });
  }
  return status;
}
