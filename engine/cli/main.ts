// The `layerlab` command: global flags (--root, --debug), then one subcommand from commands/index.ts.
// Parsing, error wording and exit statuses follow Docker's CLI; the work is done by the engine.

import { enableCompileCache } from 'node:module';
import type { EngineContext } from '../context.ts';
import { DEFAULT_ROOT } from '../default-root.ts';
import type { EventSink } from '../events.ts';
import { type CommandSpec, formatHelp, parseArgs, UsageError } from './args.ts';
import type { Environment, Streams } from './cli.ts';
import { groups, type Loader, summaries, topLevel } from './commands/index.ts';
import { reportError } from './report.ts';

// V8's code cache for the command modules and the engine they load (dynamic imports, after this
// line): a warm CLI start skips parsing and compiling them. server/bin.js has already turned it on in
// node_modules/.cache/ (then this call changes nothing); run directly, Node keeps it under os.tmpdir().
enableCompileCache();

const MAIN_HELP_FLAGS = `Global Options:
      --root string   Engine state directory (default "$LAYERLAB_ROOT" or "/var/lib/layerlab")
  -D, --debug         Enable debug mode (stack traces on errors)
  -h, --help          Print usage
  -v, --version       Print version information and quit`;

function mainHelp(extra: readonly ExtraCommand[]): string {
  const all = [...summaries, ...extra.map((c) => [c.name, c.summary] as const)];
  const width = Math.max(...all.map(([name]) => name.length)) + 3;
  const rows = all.map(([name, text]) => `  ${name.padEnd(width)}${text}`);
  const groupRows = Object.entries(groups).map(([name, g]) => `  ${name.padEnd(width)}${g.description}`);
  return [
    'Usage:  layerlab [OPTIONS] COMMAND',
    '',
    'A container engine for learning: real pulls, overlayfs containers, diff, commit, build.',
    '',
    'Commands:',
    ...rows,
    '',
    'Management Commands:',
    ...groupRows,
    '',
    MAIN_HELP_FLAGS,
    '',
    "Run 'layerlab COMMAND --help' for more information on a command.",
    '',
  ].join('\n');
}

function groupHelp(name: string): string {
  const group = groups[name]!;
  return [
    `Usage:  layerlab ${name} COMMAND`,
    '',
    group.description,
    '',
    'Commands:',
    ...Object.keys(group.commands)
      .sort()
      .map((c) => `  ${c}`),
    '',
    `Run 'layerlab ${name} COMMAND --help' for more information on a command.`,
    '',
  ].join('\n');
}

interface Global {
  root: string;
  debug: boolean;
  help: boolean;
  version: boolean;
  rest: string[];
}

/**
 * Reads the flags before the subcommand, as `docker --debug run …` does. `env` is the caller's
 * environment (none when not given): the root defaults to its LAYERLAB_ROOT, never the process's.
 */
export function parseGlobal(argv: readonly string[], env: Environment = {}): Global {
  const g: Global = {
    root: env.LAYERLAB_ROOT || DEFAULT_ROOT,
    debug: false,
    help: false,
    version: false,
    rest: [],
  };
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (!word.startsWith('-') || word === '-') break;
    i++;
    if (word === '--root' || word.startsWith('--root=')) {
      const value = word === '--root' ? argv[i++] : word.slice('--root='.length);
      if (value === undefined || value === '') throw new UsageError('flag needs an argument: --root', '');
      g.root = value;
    } else if (word === '--debug' || word === '-D') g.debug = true;
    else if (word === '--help' || word === '-h') g.help = true;
    else if (word === '--version' || word === '-v') g.version = true;
    else if (word.startsWith('--')) throw new UsageError(`unknown flag: ${word.split('=')[0]}`, '');
    else throw new UsageError(`unknown shorthand flag: '${word[1]}' in ${word}`, '');
  }
  g.rest = argv.slice(i);
  return g;
}

/** Picks the command for `words`: a top-level verb or `group verb`. */
function resolve(
  words: readonly string[],
  extra: readonly ExtraCommand[],
): { name: string; loader: Loader; rest: string[] } | string {
  const [first, second] = words;
  if (first === undefined) return 'help';
  // Own keys only: the tables are plain objects, and `constructor` or `__proto__` must not resolve.
  const group = Object.hasOwn(groups, first) ? groups[first] : undefined;
  if (group) {
    if (second === undefined || second === '--help' || second === '-h') return `group:${first}`;
    const loader = Object.hasOwn(group.commands, second) ? group.commands[second] : undefined;
    if (!loader) return `unknown:${first} ${second}`;
    return { name: `${first} ${second}`, loader, rest: words.slice(2) };
  }
  const loader =
    (Object.hasOwn(topLevel, first) ? topLevel[first] : undefined) ??
    extra.find((c) => c.name === first)?.loader;
  if (!loader) return `unknown:${first}`;
  return { name: first, loader, rest: words.slice(1) };
}

/** A top-level command added by whoever embeds the CLI (the server adds `serve`). */
export interface ExtraCommand {
  name: string;
  summary: string;
  loader: Loader;
}

export interface MainOptions {
  /** Commands beyond the engine's own, so the engine never has to import what provides them. */
  commands?: readonly ExtraCommand[];
  /** The engine context to run against instead of `--root`'s (the server passes a session's). */
  context?: (events?: EventSink) => EngineContext;
  /** The name the user typed (`docker`, `podman`, `layerlab`), used in hints and usage lines. */
  program?: string;
  /**
   * The caller's environment (`-e NAME`, `--build-arg NAME`, LAYERLAB_ROOT, SOURCE_DATE_EPOCH). Empty
   * when not given: main() never reads `process.env`; only runProcess(), the real `layerlab`
   * process, passes it.
   */
  env?: Environment;
  /** See `Cli.afterStatus`: the resident engine's, for work a command leaves after its status. */
  afterStatus?: (work: Promise<void>) => void;
  /** Show neutral values where the output would name host paths (the browser terminal). */
  hideHostPaths?: boolean;
  /**
   * Let `cp` and `--env-file` use host paths. Defaults to the opposite of `hideHostPaths`: a caller
   * that may not even learn the host's paths may certainly not read or write them.
   */
  hostFiles?: boolean;
}

/** Rewrites the program name in hints and usage (`See 'docker run --help'.`) for the name the user typed. */
function asProgram(text: string, program: string | undefined): string {
  if (program === undefined || program === 'layerlab') return text;
  return text
    .replace(/(See ')layerlab([ '])/g, `$1${program}$2`)
    .replace(/"layerlab /g, `"${program} `)
    .replace(/(Usage: +)layerlab /g, `$1${program} `)
    .replace(/(Run ')layerlab /g, `$1${program} `)
    .replace(/^layerlab: /gm, `${program}: `)
    .replace(/is not a layerlab command/, `is not a ${program} command`);
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit status. */
export async function main(
  argv: readonly string[],
  streams: Streams,
  signal: AbortSignal,
  options: MainOptions = {},
): Promise<number> {
  const { program } = options;
  const extra = options.commands ?? [];
  let spec: CommandSpec | undefined;
  let debug = argv.includes('--debug') || argv.includes('-D');
  try {
    const env = options.env ?? {};
    const global = parseGlobal(argv, env);
    debug = global.debug;
    if (global.version) {
      // `docker --version`: Docker's one line, not the `version` command's report.
      const { versionLine } = await import('./version-line.ts');
      streams.stdout.write(`${versionLine(program)}\n`);
      return 0;
    }
    const target = resolve(global.rest, extra);
    if (typeof target === 'string') {
      if (target === 'help') {
        streams.stdout.write(asProgram(mainHelp(extra), program));
        return 0;
      }
      if (target.startsWith('group:')) {
        streams.stdout.write(asProgram(groupHelp(target.slice('group:'.length)), program));
        return 0;
      }
      const name = target.slice('unknown:'.length);
      const [group] = name.split(' ');
      const hint = Object.hasOwn(groups, group!) ? `layerlab ${group} --help` : 'layerlab --help';
      streams.stderr.write(
        asProgram(`layerlab: '${name}' is not a layerlab command.\nSee '${hint}'\n`, program),
      );
      return 1;
    }
    // Each command module loads on first use (a literal import: typed, and found by go-to-definition).
    const { command } = await target.loader();
    spec = { ...command.spec, name: target.name };
    const parsed = parseArgs(spec, target.rest);
    if (parsed.help || global.help) {
      streams.stdout.write(asProgram(formatHelp(spec), program));
      return 0;
    }
    // Loaded only here: cli.ts brings the engine context and its config schema (zod), which help,
    // `--version` and a mistyped command never need.
    const { createCli } = await import('./cli.ts');
    // `version` reads the root's caches without the context module (zod) or koffi (commands/version.ts).
    const open =
      options.context || target.name === 'version'
        ? undefined
        : (await import('../context.ts')).createContext;
    const cli = createCli({
      ...streams,
      root: global.root,
      debug,
      signal,
      env,
      hideHostPaths: options.hideHostPaths ?? false,
      hostFiles: options.hostFiles ?? !(options.hideHostPaths ?? false),
      ...(options.context ? { context: options.context } : {}),
      ...(open ? { open } : {}),
      ...(options.afterStatus ? { afterStatus: options.afterStatus } : {}),
    });
    // Recovers what a killed engine process left on the root, and marks this one alive on it.
    if (!options.context && target.name !== 'version') {
      await (await import('../recover.ts')).openRoot(cli.context());
    }
    return await command.run(cli, parsed);
  } catch (err) {
    const report = reportError(err, spec, debug);
    streams.stderr.write(`${asProgram(report.text, program)}\n`);
    return report.status;
  }
}

/** Entry point: wires the process streams, Ctrl-C and the exit status. */
export async function runProcess(commands: readonly ExtraCommand[] = []): Promise<void> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  // `layerlab images | head -1`: a reader that went away is not an error worth a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  const status = await main(
    process.argv.slice(2),
    { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    controller.signal,
    // The operator's own shell runs this process: its environment is the caller's, as for `docker`.
    { commands, env: process.env },
  );
  process.off('SIGINT', onSigint);
  // Let piped output drain before exiting; engine handles (sockets, timers) must not keep us alive.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(status);
}

// The engine-only CLI when run directly; the package's `layerlab` (server/bin.js) adds `serve`. Not
// awaited at the top level, so a module importing this one never waits on a running command.
if (import.meta.main) {
  runProcess().catch((err: unknown) => {
    process.stderr.write(`layerlab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
