// The Dockerfile front end: dockerfile-syntax.ts splits the text into instruction nodes as Docker's
// parser does; this checks each as Docker's `instructions` package does (flags, argument counts) and
// turns it into a typed step. Words stay as written: the builder expands them against the stage's
// variables as each instruction starts (shell-lex.ts), which is when Docker does.

import { BuildError } from '../errors.ts';
import {
  chompHeredoc,
  type Heredoc,
  type Node,
  parseError,
  parseHeredocWord,
  parseSyntax,
} from './dockerfile-syntax.ts';
import { type Env, processWord } from './shell-lex.ts';

/** A command in exec form (`["sh", "-c", "x"]`) or shell form (`sh -c x` run by the shell). */
export interface CommandForm {
  args: string[];
  shell: boolean;
}

/** An inline file of `COPY <<EOF /dest`: its name, body, and whether `$VAR` in it is expanded. */
export interface InlineSource {
  name: string;
  data: string;
  expand: boolean;
}

/** Docker's HealthcheckConfig; durations in nanoseconds, as the image config stores them. */
export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type Step =
  | { kind: 'FROM'; image: string; stage?: string; platform?: string }
  | { kind: 'RUN'; command: CommandForm; heredocs: Heredoc[] }
  | {
      kind: 'COPY' | 'ADD';
      sources: string[];
      inline: InlineSource[];
      dest: string;
      chown?: string;
      chmod?: string;
      from?: string;
    }
  /** Keys and values as written (quotes kept): expanded when the step runs. */
  | { kind: 'ENV' | 'LABEL'; pairs: [string, string][] }
  | { kind: 'ARG'; name: string; defaultValue?: string }
  | { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER'; value: string }
  | { kind: 'EXPOSE' | 'VOLUME'; values: string[] }
  | { kind: 'CMD' | 'ENTRYPOINT' | 'SHELL'; command: CommandForm }
  | { kind: 'HEALTHCHECK'; health: Healthcheck }
  | { kind: 'ONBUILD'; expression: string };

/** One instruction: what it does, and how it is written (for `Step 1/5 : …` and the build cache). */
export interface ParsedInstruction {
  step: Step;
  /** `FROM busybox`, as Docker echoes it: keyword upper-cased, continuation lines joined. */
  text: string;
  line: number;
}

/** A build stage: its FROM and the instructions after it. */
export interface Stage {
  index: number;
  /** `FROM … AS name`, lower-cased as Docker keeps it. */
  name?: string;
  from: ParsedInstruction & { step: Extract<Step, { kind: 'FROM' }> };
  instructions: ParsedInstruction[];
}

export interface ParsedDockerfile {
  /** The escape character (`# escape=` directive), which word processing uses too. */
  escape: string;
  /** ARGs before the first FROM: usable in FROM lines and by a stage's redeclaring ARG. */
  metaArgs: ParsedInstruction[];
  stages: Stage[];
}

/** Exec form when the arguments are a JSON array of strings, else shell form, as Docker decides. */
export function parseCommandForm(content: string): CommandForm {
  const trimmed = content.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) {
        return { args: parsed as string[], shell: false };
      }
    } catch {
      // Not JSON: Docker runs it through the shell, brackets and all.
    }
  }
  return { args: [trimmed], shell: true };
}

/** Flags an instruction knows: string flags take a value, bool flags may omit it. */
type FlagSpec = Record<string, 'string' | 'bool' | 'strings'>;

/** Flags Docker knows on an instruction that Layerlab's builder does not implement. */
const NOT_SUPPORTED: Record<string, string[]> = {
  RUN: ['mount', 'network', 'security', 'device'],
  COPY: ['exclude', 'parents'],
  ADD: ['checksum', 'keep-git-dir', 'unpack', 'exclude'],
};

const FLAGS: Record<string, FlagSpec> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  COPY: {
    chown: 'string',
    from: 'string',
    chmod: 'string',
    link: 'bool',
    exclude: 'strings',
    parents: 'bool',
  },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    unpack: 'bool',
    exclude: 'strings',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

/** Parses `--name=value` flags as Docker's BFlags does, with its messages. */
function parseFlags(keyword: string, flags: string[], line: number): Map<string, string> {
  const spec = FLAGS[keyword] ?? {};
  const values = new Map<string, string>();
  for (const arg of flags) {
    if (!arg.startsWith('--')) parseError(line, `Arg should start with -- : ${arg}`, arg);
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) parseError(line, `Unknown flag: ${name}`, arg);
    if (values.has(name) && type !== 'strings') parseError(line, `Duplicate flag specified: ${name}`, arg);
    if (type === 'bool') {
      const value = eq === -1 ? 'true' : body.slice(eq + 1).toLowerCase();
      if (value !== 'true' && value !== 'false') {
        parseError(line, `Expecting boolean value for flag ${name}, not: ${body.slice(eq + 1)}`, arg);
      }
      values.set(name, value);
    } else {
      if (eq === -1) parseError(line, `Missing a value on flag: ${name}`, arg);
      values.set(name, body.slice(eq + 1));
    }
    if (NOT_SUPPORTED[keyword]?.includes(name)) {
      parseError(line, `${keyword} --${name} is not supported by Layerlab`, arg);
    }
  }
  return values;
}

/** Go's time.ParseDuration, in nanoseconds (`1m30s`, `500ms`, `1.5h`). */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const match = re.exec(text);
    if (!match) throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
    total += Number(match[1]) * units[match[2]!]!;
    pos = re.lastIndex;
  }
  if (text === '') throw new Error('time: invalid duration ""');
  return Math.round(total);
}

function healthcheck(args: string[], json: boolean, flags: Map<string, string>, line: number): Healthcheck {
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) parseError(line, 'HEALTHCHECK NONE takes no arguments', args.join(' '));
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD') parseError(line, `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, type);
  if (rest.length === 0) parseError(line, 'Missing command after HEALTHCHECK CMD', args.join(' '));
  const health: Healthcheck = { Test: [json ? 'CMD' : 'CMD-SHELL', ...rest] };
  const durations = [
    ['interval', 'Interval'],
    ['timeout', 'Timeout'],
    ['start-period', 'StartPeriod'],
    ['start-interval', 'StartInterval'],
  ] as const;
  for (const [flag, field] of durations) {
    const raw = flags.get(flag);
    if (raw === undefined || raw === '') continue;
    let ns: number;
    try {
      ns = parseDuration(raw);
    } catch (err) {
      return parseError(line, (err as Error).message, raw);
    }
    if (ns !== 0 && ns < 1e6) parseError(line, `Interval "${flag}" cannot be less than 1ms`, raw);
    if (ns !== 0) health[field] = ns;
  }
  const retries = flags.get('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) {
      parseError(line, `strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`, retries);
    }
    const n = Number(retries);
    if (n < 0) parseError(line, `--retries cannot be negative (${n})`, retries);
    if (n !== 0) health.Retries = n;
  }
  return health;
}

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function toStep(node: Node): Step {
  const keyword = node.keyword.toUpperCase();
  const line = node.startLine;
  const args = node.args;
  const flags = parseFlags(keyword, node.flags, line);
  const fail = (message: string): never => parseError(line, message, node.original);
  const atLeastOne = () => args.length === 0 && fail(`${keyword} requires at least one argument`);
  const exactlyOne = () => args.length !== 1 && fail(`${keyword} requires exactly one argument`);
  switch (keyword) {
    case 'FROM': {
      const platform = flags.get('platform');
      const extra = platform === undefined ? {} : { platform };
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        const stage = args[2]!.toLowerCase();
        if (!VALID_STAGE_NAME.test(stage)) {
          fail(
            `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
          );
        }
        return { kind: 'FROM', image: args[0]!, stage, ...extra };
      }
      if (args.length !== 1) fail('FROM requires either one or three arguments');
      return { kind: 'FROM', image: args[0]!, ...extra };
    }
    case 'RUN': {
      if (args.length === 0) fail('RUN requires at least one argument');
      return { kind: 'RUN', command: { args, shell: !node.json }, heredocs: node.heredocs };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind: keyword, command: { args, shell: !node.json } };
    case 'SHELL':
      atLeastOne();
      if (!node.json) fail('SHELL requires the arguments to be in JSON form');
      return { kind: 'SHELL', command: { args, shell: false } };
    case 'COPY':
    case 'ADD': {
      if (args.length < 2) {
        fail(
          `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`,
        );
      }
      const dest = args.at(-1)!;
      if (parseHeredocWord(dest)) fail(`${keyword} cannot accept a heredoc as a destination`);
      const byName = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: string[] = [];
      const inline: InlineSource[] = [];
      for (const src of args.slice(0, -1)) {
        const heredoc = node.json ? undefined : parseHeredocWord(src);
        if (heredoc === undefined) {
          sources.push(src);
          continue;
        }
        const content = byName.get(heredoc.name)?.content ?? '';
        inline.push({
          name: heredoc.name,
          data: heredoc.chomp ? chompHeredoc(content) : content,
          expand: heredoc.expand,
        });
      }
      const chown = flags.get('chown');
      const chmod = flags.get('chmod');
      const from = flags.get('from');
      return {
        kind: keyword,
        sources,
        inline,
        dest,
        ...(chown ? { chown } : {}),
        ...(chmod ? { chmod } : {}),
        ...(from ? { from } : {}),
      };
    }
    case 'ENV':
    case 'LABEL': {
      atLeastOne();
      if (args.length % 3 !== 0) fail(`Bad input to ${keyword}, too many arguments`);
      const pairs: [string, string][] = [];
      for (let i = 0; i < args.length; i += 3) {
        if (args[i] === '') fail(`${keyword} names can not be blank`);
        pairs.push([args[i]!, args[i + 1]!]);
      }
      return { kind: keyword, pairs };
    }
    case 'ARG': {
      // Docker takes several names in one ARG; Layerlab's steps hold one, so the caller splits them.
      atLeastOne();
      const word = args[0]!;
      const eq = word.indexOf('=');
      if (eq === 0) fail('ARG names can not be blank');
      if (eq === -1) return { kind: 'ARG', name: word };
      return { kind: 'ARG', name: word.slice(0, eq), defaultValue: word.slice(eq + 1) };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      exactlyOne();
      return { kind: keyword, value: args[0]! };
    case 'EXPOSE':
      atLeastOne();
      return { kind: 'EXPOSE', values: [...args].sort() };
    case 'VOLUME':
      atLeastOne();
      for (const v of args) if (v.trim() === '') fail('VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', values: args.map((v) => v.trim()) };
    case 'HEALTHCHECK':
      atLeastOne();
      return { kind: 'HEALTHCHECK', health: healthcheck(args, node.json, flags, line) };
    case 'ONBUILD': {
      atLeastOne();
      const trigger = (node.child?.keyword ?? '').toUpperCase();
      if (trigger === 'ONBUILD') fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM')
        fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      if (node.child) toStep(node.child); // a trigger that would not parse is refused now, as Docker does
      // Docker stores the trigger as written, heredoc bodies and all.
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      return { kind: 'ONBUILD', expression };
    }
    default:
      return fail(`unknown instruction: ${keyword}`);
  }
}

/** How Docker echoes an instruction: keyword upper-cased, the rest as written. */
function textOf(node: Node): string {
  const trimmed = node.original.trim();
  const space = trimmed.search(/[\t\v\f\r ]/);
  return space === -1
    ? trimmed.toUpperCase()
    : `${trimmed.slice(0, space).toUpperCase()}${trimmed.slice(space)}`;
}

function toInstructions(node: Node): ParsedInstruction[] {
  const keyword = node.keyword.toUpperCase();
  const text = textOf(node);
  if (keyword === 'ARG') {
    // `ARG A B=2` declares both, in order: one step each.
    const step = (word: string): ParsedInstruction => ({
      step: toStep({ ...node, args: [word] }),
      text,
      line: node.startLine,
    });
    if (node.args.length === 0) return [step('')];
    return node.args.map(step);
  }
  return [{ step: toStep(node), text, line: node.startLine }];
}

/** Parses a Dockerfile into its instructions, in order. */
export function parseDockerfile(text: string): ParsedInstruction[] {
  const parsed = parseStages(text);
  return [...parsed.metaArgs, ...parsed.stages.flatMap((s) => [s.from, ...s.instructions])];
}

/** Parses a Dockerfile into the ARGs before FROM and its stages, as Docker's instructions.Parse. */
export function parseStages(text: string): ParsedDockerfile {
  const syntax = parseSyntax(text);
  const nodes = syntax.nodes;
  const metaArgs: ParsedInstruction[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    for (const instruction of toInstructions(node)) {
      const step = instruction.step;
      if (step.kind === 'FROM') {
        stages.push({
          index: stages.length,
          ...(step.stage === undefined ? {} : { name: step.stage }),
          from: { ...instruction, step },
          instructions: [],
        });
      } else if (stages.length === 0) {
        if (step.kind !== 'ARG') {
          parseError(node.startLine, 'no build stage in current context', node.original);
        }
        metaArgs.push(instruction);
      } else {
        stages.at(-1)!.instructions.push(instruction);
      }
    }
  }
  if (stages.length === 0) throw new BuildError('Dockerfile has no FROM instruction');
  return { escape: syntax.escape, metaArgs, stages };
}

/** The instructions of an ONBUILD trigger, as stored in a parent image's config. */
export function parseTrigger(expression: string): ParsedInstruction[] {
  const { nodes } = parseSyntax(expression);
  if (nodes.length !== 1)
    throw new BuildError('onbuild trigger should be a single expression', { input: expression });
  return toInstructions(nodes[0]!);
}

/**
 * One word with Docker's quote removal and `$VAR` / `${VAR…}` expansion (ProcessWord). Throws a
 * BuildError with Docker's text on a syntax error (`${A`, `${A:?unset}`).
 */
export function expandVariables(text: string, vars: Env, escapeToken = '\\'): string {
  return processWord(text, vars, { escapeToken });
}

/** The body of `COPY <<EOF` with `$VAR` expanded but quotes kept, as BuildKit's ExpandRaw. */
export function expandInline(text: string, vars: Env): string {
  return processWord(text, vars, { skipProcessQuotes: true });
}

export type { Heredoc };
