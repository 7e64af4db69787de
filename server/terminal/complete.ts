// Tab completion at the prompt: program names and builtins, the CLI's subcommands and group
// subcommands (from engine/cli/commands/index.ts), a command's long flags, and image and container
// names from the session's engine state. The logic is pure over `CompletionSources`.

import type { CommandSpec } from '../../engine/cli/args.ts';
import { groups, topLevel } from '../../engine/cli/commands/index.ts';
import { listContainers } from '../../engine/container/views.ts';
import type { EngineContext } from '../../engine/context.ts';
import { familiarName, parseReference } from '../../engine/reference/reference.ts';
import { listImages } from '../../engine/store/images.ts';
import { textWidth } from './width.ts';
import { type PartialLine, splitPartial } from './words.ts';

export const PROGRAMS = ['docker', 'podman', 'layerlab'] as const;
export const BUILTINS = ['help', 'clear', 'history', 'ls', 'rm', 'export', 'unset', 'env', 'exit'] as const;
const GLOBAL_FLAGS = ['--debug', '--help', '--version'];

/** What completion may look up; the engine-backed version is `engineSources`. */
export interface CompletionSources {
  /** `repo:tag` names of the session's images. */
  images(): Promise<string[]>;
  /** Names and short ids of the session's containers (only running ones with `running`). */
  containers(running: boolean): Promise<string[]>;
  /** The spec of a command path (`run`, `image ls`), for its flags and positionals. */
  spec(path: string): Promise<CommandSpec | undefined>;
}

export interface Completion extends PartialLine {
  /** Sorted, distinct words that extend `current`. */
  candidates: string[];
}

type Positional = 'image' | 'container' | 'running' | 'object' | undefined;

/** What the n-th positional argument of a command names (Docker's bash completion, in short). */
function positionalKind(path: string, index: number): Positional {
  const [first, second] = path.split(' ');
  let name = path;
  if (first === 'container' && second) name = second === 'inspect' ? 'container-inspect' : second;
  if (first === 'image' && second) {
    const aliases: Record<string, string> = { ls: 'images', list: 'images', rm: 'rmi', remove: 'rmi' };
    name = aliases[second] ?? (second === 'inspect' ? 'image-inspect' : second);
  }
  switch (name) {
    case 'run':
    case 'create':
      return index === 0 ? 'image' : undefined;
    case 'exec':
    case 'attach':
      return index === 0 ? 'running' : undefined;
    case 'commit':
      return index === 0 ? 'container' : index === 1 ? 'image' : undefined;
    case 'stop':
    case 'kill':
      return 'running';
    case 'start':
    case 'restart':
    case 'wait':
    case 'rm':
    case 'remove':
    case 'logs':
    case 'diff':
    case 'container-inspect':
      return 'container';
    case 'pull':
    case 'push':
    case 'rmi':
    case 'history':
    case 'save':
    case 'tag':
    case 'images':
    case 'image-inspect':
      return 'image';
    case 'inspect':
      return 'object';
    default:
      return undefined;
  }
}

/** Whether a flag word (`--name`, `-it`, `-e`) consumes the next word as its value. */
function takesValue(word: string, spec: CommandSpec): boolean {
  if (word.startsWith('--')) {
    if (word.includes('=')) return false;
    const flag = spec.flags.find((f) => f.name === word.slice(2));
    return flag !== undefined && flag.type !== 'bool';
  }
  const letters = word.slice(1);
  for (let j = 0; j < letters.length; j++) {
    const flag = spec.flags.find((f) => f.short === letters[j]);
    if (!flag) return false;
    // A value-taking short flag takes the rest of the word, or the next word when it is last.
    if (flag.type !== 'bool') return j === letters.length - 1;
  }
  return false;
}

/** The candidates for the word under the cursor, given the text before it. */
export async function complete(before: string, sources: CompletionSources): Promise<Completion> {
  const partial = splitPartial(before);
  const found = await candidatesFor(partial, sources);
  const candidates = [...new Set(found.filter((c) => c.startsWith(partial.current)))].sort();
  return { ...partial, candidates };
}

async function candidatesFor(partial: PartialLine, sources: CompletionSources): Promise<string[]> {
  const { words, current } = partial;
  if (words.length === 0) return [...PROGRAMS, ...BUILTINS];
  if (!(PROGRAMS as readonly string[]).includes(words[0]!)) return [];
  const rest = words.slice(1);
  let i = 0;
  while (i < rest.length && rest[i]!.startsWith('-')) {
    if (rest[i] === '--root') i++;
    i++;
  }
  if (i >= rest.length) {
    return current.startsWith('-') ? GLOBAL_FLAGS : [...Object.keys(topLevel), ...Object.keys(groups)];
  }
  const command = rest[i]!;
  const group = groups[command];
  let path = command;
  let args = rest.slice(i + 1);
  if (group) {
    if (args.length === 0) return Object.keys(group.commands);
    path = `${command} ${args[0]}`;
    args = args.slice(1);
  }
  const spec = await sources.spec(path);
  if (!spec) return [];

  let positionals = 0;
  let flagsDone = false;
  let expectingValue = false;
  for (const word of args) {
    if (expectingValue) {
      expectingValue = false;
      continue;
    }
    if (!flagsDone && word.startsWith('-') && word !== '-') {
      if (word === '--') flagsDone = true;
      else expectingValue = takesValue(word, spec);
      continue;
    }
    positionals++;
    if (spec.stopAtPositional) flagsDone = true;
  }
  if (expectingValue) return [];
  if (current.startsWith('-')) {
    return flagsDone ? [] : [...spec.flags.map((f) => `--${f.name}`), '--help'];
  }
  switch (positionalKind(path, positionals)) {
    case 'image':
      return sources.images();
    case 'container':
      return sources.containers(false);
    case 'running':
      return sources.containers(true);
    case 'object':
      return [...(await sources.containers(false)), ...(await sources.images())];
    default:
      return [];
  }
}

/** The longest prefix all `items` share (by code points, so no character is split). */
export function commonPrefix(items: readonly string[]): string {
  if (items.length === 0) return '';
  let prefix = [...items[0]!];
  for (const item of items.slice(1)) {
    const chars = [...item];
    let k = 0;
    while (k < prefix.length && k < chars.length && prefix[k] === chars[k]) k++;
    prefix = prefix.slice(0, k);
  }
  return prefix.join('');
}

/** Lays `items` out in columns across `width` cells, filled top to bottom as bash lists them. */
export function formatColumns(items: readonly string[], width: number): string {
  if (items.length === 0) return '';
  const cell = Math.max(...items.map(textWidth)) + 2;
  const columns = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(items.length / columns);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < columns; c++) {
      const item = items[c * rows + r];
      if (item === undefined) continue;
      const last = (c + 1) * rows + r >= items.length;
      line += last ? item : item + ' '.repeat(cell - textWidth(item));
    }
    lines.push(line);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Completion sources backed by a session's engine context. */
export function engineSources(ctx: EngineContext): CompletionSources {
  return {
    async images() {
      const names: string[] = [];
      for (const record of await listImages(ctx)) {
        for (const tag of record.repoTags) {
          try {
            names.push(familiarName(parseReference(tag)));
          } catch {
            // A tag the store holds but the parser refuses is no completion.
          }
        }
      }
      return names;
    },
    async containers(running) {
      const rows = await listContainers(ctx, { all: !running });
      return rows.flatMap((row) => [row.name, row.id.slice(0, 12)]);
    },
    async spec(path) {
      const [first, second] = path.split(' ');
      const loader = second === undefined ? topLevel[first!] : groups[first!]?.commands[second];
      if (!loader) return undefined;
      try {
        return (await loader()).command.spec;
      } catch {
        return undefined;
      }
    },
  };
}
