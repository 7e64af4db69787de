// The path arguments of `build` (context, -f), `save -o` and `load -i` (and their `image …` forms),
// mapped through the session's workspace before the engine CLI sees them: the CLI then only ever
// gets host paths the workspace module checked, or an already-open file (/proc/self/fd/N).
// Every other command and argument passes through untouched.

import type { FileHandle } from 'node:fs/promises';
import { parseArgs } from '../../engine/cli/args.ts';
import { topLevel } from '../../engine/cli/commands/index.ts';
import { parseGlobal } from '../../engine/cli/main.ts';
import {
  contextDir,
  createForWriting,
  openForReading,
  type PendingFile,
  readableFile,
  type Workspace,
  workspacePath,
} from '../sessions/workspace.ts';

const VERBS = new Set(['build', 'save', 'load']);

export interface PreparedCommand {
  /** The argv for the engine CLI's main(). */
  readonly argv: readonly string[];
  /** Output with the host paths this command was given turned back into the reader's names. */
  rewriteOutput(data: Buffer): Buffer;
  /** After main() returns: renames a saved archive into place (or removes it), closes files. */
  finish(status: number): Promise<void>;
}

function unchanged(args: readonly string[]): PreparedCommand {
  return { argv: args, rewriteOutput: (data) => data, finish: async () => {} };
}

/** Byte-level replacement, so a multibyte character split across chunks is never re-encoded. */
function replaceAll(data: Buffer, pairs: readonly [Buffer, Buffer][]): Buffer {
  let out = data;
  for (const [from, to] of pairs) {
    let at = out.indexOf(from);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let start = 0;
    while (at !== -1) {
      parts.push(out.subarray(start, at), to);
      start = at + from.length;
      at = out.indexOf(from, start);
    }
    parts.push(out.subarray(start));
    out = Buffer.concat(parts);
  }
  return out;
}

/**
 * Maps the path arguments of `args` (the words after `docker`) through `ws`. Throws a
 * WorkspaceError for a path that is refused. A command line the CLI will reject anyway (bad flags,
 * `--help`) is passed through as typed, so its usage message stays Docker's.
 */
export async function preparePathArgs(ws: Workspace, args: readonly string[]): Promise<PreparedCommand> {
  let global: ReturnType<typeof parseGlobal>;
  try {
    global = parseGlobal(args);
  } catch {
    return unchanged(args);
  }
  if (global.help || global.version) return unchanged(args);
  const words = global.rest;
  const grouped = words[0] === 'image' && VERBS.has(words[1] ?? '');
  const verb = grouped ? words[1]! : words[0];
  if (verb === undefined || !VERBS.has(verb) || (!grouped && words[0] !== verb)) return unchanged(args);
  const head = args.slice(0, args.length - words.length + (grouped ? 2 : 1));
  const rest = words.slice(grouped ? 2 : 1);
  const { spec } = (await topLevel[verb]!()).command;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ ...spec, name: verb }, rest);
  } catch {
    return unchanged(args);
  }
  if (parsed.help) return unchanged(args);

  const flags: Record<string, unknown> = { ...parsed.flags };
  const positionals = [...parsed.args];
  const names: [string, string][] = [];
  let pending: PendingFile | undefined;
  let reading: FileHandle | undefined;

  if (verb === 'build') {
    if (positionals.length !== 1) return unchanged(args);
    const context = positionals[0]!;
    positionals[0] = await contextDir(ws, context);
    names.push([positionals[0], workspacePath(ws, context).virtual]);
    if (typeof flags.file === 'string') {
      const file = flags.file;
      flags.file = await readableFile(ws, file);
      names.push([flags.file as string, workspacePath(ws, file).virtual]);
    }
  } else if (verb === 'save' && typeof flags.output === 'string') {
    const output = flags.output;
    pending = await createForWriting(ws, output);
    flags.output = `/proc/self/fd/${pending.handle.fd}`;
    names.push([flags.output as string, output]);
  } else if (verb === 'load' && typeof flags.input === 'string') {
    const input = flags.input;
    reading = await openForReading(ws, input);
    flags.input = `/proc/self/fd/${reading.fd}`;
    names.push([flags.input as string, input]);
  } else {
    return unchanged(args);
  }
  names.push([ws.dir, '/workspace'], [ws.contexts, '/lessons']);

  // Every flag written back in its unambiguous long form, then `--` so no path reads as a flag.
  const argv = [...head];
  for (const flag of spec.flags) {
    const value = flags[flag.name];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) argv.push(`--${flag.name}=${String(one)}`);
  }
  argv.push('--', ...positionals);

  const pairs = names
    .sort((a, b) => b[0].length - a[0].length)
    .map(([from, to]): [Buffer, Buffer] => [Buffer.from(from), Buffer.from(to)]);
  return {
    argv,
    rewriteOutput: (data) => replaceAll(data, pairs),
    async finish(status) {
      await reading?.close().catch(() => {});
      if (!pending) return;
      if (status === 0) await pending.commit();
      else await pending.abort();
    },
  };
}
