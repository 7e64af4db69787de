// A small Docker-style argument parser: long and short flags, combined short booleans (`-it`),
// attached values (`-eA=b`, `--name=x`), `--` and, for run/exec, flags ending at the first positional.

/** The kinds of value a flag takes. `list` may repeat (`-e A=1 -e B=2`). */
export type FlagType = 'bool' | 'string' | 'int' | 'list';

export interface FlagSpec {
  /** Long name without dashes: `name` for `--name`. */
  readonly name: string;
  /** One-letter shorthand without the dash: `d` for `-d`. */
  readonly short?: string;
  readonly type: FlagType;
  readonly description: string;
  /** The value placeholder shown in help: `string`, `list`, `int`. */
  readonly valueName?: string;
}

export interface CommandSpec {
  /** The command path as typed: `run`, `image ls`. */
  readonly name: string;
  /** Positional part of the usage line: `[OPTIONS] IMAGE [COMMAND] [ARG...]`. */
  readonly usage: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** Docker's `SetInterspersed(false)`: the first positional ends the flags (run, exec). */
  readonly stopAtPositional?: boolean;
  readonly minArgs?: number;
  readonly maxArgs?: number;
  readonly aliases?: readonly string[];
}

export type FlagValue = boolean | string | number | string[];

export interface ParsedArgs {
  readonly flags: Readonly<Record<string, FlagValue | undefined>>;
  readonly args: readonly string[];
  /** True when `--help`/`-h` was given: the caller prints help instead of running. */
  readonly help: boolean;
}

/** A mistake on the command line: shown with a hint to `--help`, exit status 125 as in Docker. */
export class UsageError extends Error {
  readonly command: string;
  /** Print the usage line and description after the message (argument-count errors do). */
  readonly showUsage: boolean;
  constructor(message: string, command: string, showUsage = false) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
    this.showUsage = showUsage;
  }
}

const HELP_FLAG: FlagSpec = { name: 'help', type: 'bool', description: 'Print usage' };

/** Parses `argv` (the words after the command name) against `spec`. Throws `UsageError`. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const flags: Record<string, FlagValue | undefined> = {};
  const args: string[] = [];
  let help = false;
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const flag of [...spec.flags, HELP_FLAG]) {
    byLong.set(flag.name, flag);
    if (flag.short) byShort.set(flag.short, flag);
  }

  const set = (flag: FlagSpec, raw: string, shown: string): void => {
    if (flag.name === 'help') {
      help = raw !== 'false';
      return;
    }
    switch (flag.type) {
      case 'bool': {
        if (raw !== 'true' && raw !== 'false' && raw !== '1' && raw !== '0') {
          throw new UsageError(
            `invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
            spec.name,
          );
        }
        flags[flag.name] = raw === 'true' || raw === '1';
        return;
      }
      case 'int': {
        if (!/^-?\d+$/.test(raw)) {
          throw new UsageError(
            `invalid argument "${raw}" for "${shown}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`,
            spec.name,
          );
        }
        flags[flag.name] = Number(raw);
        return;
      }
      case 'list': {
        const list = (flags[flag.name] as string[] | undefined) ?? [];
        list.push(raw);
        flags[flag.name] = list;
        return;
      }
      case 'string':
        flags[flag.name] = raw;
    }
  };

  let i = 0;
  let flagsDone = false;
  while (i < argv.length) {
    const word = argv[i++]!;
    if (flagsDone || word === '-' || !word.startsWith('-')) {
      args.push(word);
      if (spec.stopAtPositional) flagsDone = true;
      continue;
    }
    if (word === '--') {
      flagsDone = true;
      continue;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      const flag = byLong.get(name);
      if (!flag) throw new UsageError(`unknown flag: --${name}`, spec.name);
      if (eq !== -1) set(flag, word.slice(eq + 1), `--${name}`);
      else if (flag.type === 'bool') set(flag, 'true', `--${name}`);
      else {
        if (i >= argv.length) throw new UsageError(`flag needs an argument: --${name}`, spec.name);
        set(flag, argv[i++]!, `--${name}`);
      }
      continue;
    }
    // Short flags: booleans combine (`-it`); a value-taking flag takes the rest of the word or the next.
    const letters = word.slice(1);
    for (let j = 0; j < letters.length; j++) {
      const letter = letters[j]!;
      const flag = byShort.get(letter) ?? (letter === 'h' ? HELP_FLAG : undefined);
      if (!flag) throw new UsageError(`unknown shorthand flag: '${letter}' in ${word}`, spec.name);
      const shown = `-${letter}, --${flag.name}`;
      if (flag.type === 'bool') {
        if (letters[j + 1] === '=') {
          set(flag, letters.slice(j + 2), shown);
          break;
        }
        set(flag, 'true', shown);
        continue;
      }
      let rest = letters.slice(j + 1);
      if (rest.startsWith('=')) rest = rest.slice(1);
      if (rest !== '') set(flag, rest, shown);
      else {
        if (i >= argv.length)
          throw new UsageError(`flag needs an argument: '${letter}' in ${word}`, spec.name);
        set(flag, argv[i++]!, shown);
      }
      break;
    }
  }

  if (!help) checkArgCount(spec, args);
  return { flags, args, help };
}

function checkArgCount(spec: CommandSpec, args: readonly string[]): void {
  const { minArgs = 0, maxArgs = Number.POSITIVE_INFINITY } = spec;
  const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
  const cmd = `"layerlab ${spec.name}"`;
  if (maxArgs === 0 && args.length > 0) throw new UsageError(`${cmd} accepts no arguments.`, spec.name, true);
  if (minArgs === maxArgs && args.length !== minArgs) {
    throw new UsageError(`${cmd} requires exactly ${minArgs} ${plural(minArgs)}.`, spec.name, true);
  }
  if (args.length < minArgs) {
    throw new UsageError(`${cmd} requires at least ${minArgs} ${plural(minArgs)}.`, spec.name, true);
  }
  if (args.length > maxArgs) {
    throw new UsageError(`${cmd} requires at most ${maxArgs} ${plural(maxArgs)}.`, spec.name, true);
  }
}

/** Typed accessors over parsed flags, so command files read `bool(p, 'rm')` rather than casts. */
export function bool(parsed: ParsedArgs, name: string): boolean {
  return parsed.flags[name] === true;
}

export function str(parsed: ParsedArgs, name: string): string | undefined {
  const v = parsed.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function int(parsed: ParsedArgs, name: string): number | undefined {
  const v = parsed.flags[name];
  return typeof v === 'number' ? v : undefined;
}

export function list(parsed: ParsedArgs, name: string): string[] {
  const v = parsed.flags[name];
  return Array.isArray(v) ? v : [];
}

/** The `--help` text, laid out like Docker's: usage, description, aliases, options. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [`Usage:  layerlab ${spec.name} ${spec.usage}`.trimEnd(), '', spec.description, ''];
  if (spec.aliases && spec.aliases.length > 0) {
    lines.push('Aliases:', `  ${[spec.name, ...spec.aliases].join(', ')}`, '');
  }
  const options = [...spec.flags].sort((a, b) => a.name.localeCompare(b.name));
  if (options.length > 0) {
    lines.push('Options:');
    const left = options.map((f) => {
      const value = f.type === 'bool' ? '' : ` ${f.valueName ?? f.type}`;
      return (f.short ? `  -${f.short}, ` : '      ') + `--${f.name}${value}`;
    });
    const width = Math.max(...left.map((l) => l.length)) + 3;
    options.forEach((f, k) => {
      lines.push(left[k]!.padEnd(width) + f.description);
    });
    lines.push('');
  }
  return lines.join('\n');
}
