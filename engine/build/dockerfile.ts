// The Dockerfile front end: dockerfile-ast splits the text into instructions; this turns each into a
// typed step the builder executes, refusing what Layerlab's builder does not support with a reason.

import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { BuildError } from '../errors.ts';

/** A command in exec form (`["sh", "-c", "x"]`) or shell form (`sh -c x` run by the shell). */
export interface CommandForm {
  args: string[];
  shell: boolean;
}

export type Step =
  | { kind: 'FROM'; image: string; stage?: string }
  | { kind: 'RUN'; command: CommandForm }
  | { kind: 'COPY' | 'ADD'; sources: string[]; dest: string; chown?: string }
  | { kind: 'ENV' | 'LABEL'; pairs: [string, string][] }
  | { kind: 'ARG'; name: string; defaultValue?: string }
  | { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL'; value: string }
  | { kind: 'EXPOSE' | 'VOLUME'; values: string[] }
  | { kind: 'CMD' | 'ENTRYPOINT' | 'SHELL'; command: CommandForm };

/** One instruction: what it does, and how it is written (for `Step 1/5 : …` and the build cache). */
export interface ParsedInstruction {
  step: Step;
  /** `FROM busybox`, as Docker echoes it: keyword upper-cased, continuation lines joined. */
  text: string;
  line: number;
}

const UNSUPPORTED: Record<string, string> = {
  ONBUILD: 'ONBUILD is not supported by Layerlab',
  HEALTHCHECK: 'HEALTHCHECK is not supported by Layerlab',
  MAINTAINER: 'MAINTAINER is deprecated; use LABEL maintainer=… instead',
};

function fail(instruction: Instruction, message: string): never {
  throw new BuildError(`Dockerfile line ${instruction.getRange().start.line + 1}: ${message}`, {
    input: instruction.toString(),
  });
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

/** Splits `KEY=value` words, honouring double and single quotes (for ARG, which has no properties). */
function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    return value.slice(1, -1);
  }
  return value;
}

interface FlagView {
  getName(): string;
  getValue(): string | null;
}

/** `--name=value` flags; dockerfile-ast keeps them out of the arguments of RUN, COPY and ADD. */
function flagsOf(instruction: Instruction): FlagView[] {
  const withFlags = instruction as unknown as { getFlags?(): FlagView[] };
  return withFlags.getFlags?.() ?? [];
}

function parseInstruction(instruction: Instruction): Step {
  const keyword = instruction.getKeyword().toUpperCase();
  const content = instruction.getArgumentsContent() ?? '';
  const args = instruction.getArguments().map((a) => a.getValue());
  if (keyword in UNSUPPORTED) fail(instruction, UNSUPPORTED[keyword]!);
  switch (keyword) {
    case 'FROM': {
      const flags = args.filter((a) => a.startsWith('--'));
      if (flags.length > 0) fail(instruction, `FROM ${flags[0]} is not supported by Layerlab`);
      if (args.length === 3 && args[1]?.toUpperCase() === 'AS')
        return { kind: 'FROM', image: args[0]!, stage: args[2]! };
      if (args.length !== 1) fail(instruction, 'FROM requires either one or three arguments');
      return { kind: 'FROM', image: args[0]! };
    }
    case 'RUN': {
      const flag = flagsOf(instruction)[0];
      if (flag) fail(instruction, `RUN --${flag.getName()} is not supported by Layerlab`);
      if (content.trim() === '') fail(instruction, 'RUN requires at least one argument');
      return { kind: 'RUN', command: parseCommandForm(content) };
    }
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL': {
      const command = parseCommandForm(content);
      if (keyword === 'SHELL' && command.shell)
        fail(instruction, 'SHELL requires the arguments to be in JSON form');
      return { kind: keyword, command };
    }
    case 'COPY':
    case 'ADD': {
      let chown: string | undefined;
      for (const flag of flagsOf(instruction)) {
        if (flag.getName() === 'chown' && flag.getValue()) chown = flag.getValue()!;
        else fail(instruction, `${keyword} --${flag.getName()} is not supported by Layerlab`);
      }
      const form = parseCommandForm(content);
      const words = form.shell ? args : form.args;
      if (words.length < 2) fail(instruction, `${keyword} requires at least two arguments`);
      return {
        kind: keyword,
        sources: words.slice(0, -1),
        dest: words.at(-1)!,
        ...(chown === undefined ? {} : { chown }),
      };
    }
    case 'ENV':
    case 'LABEL': {
      const properties = (
        instruction as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
      )
        .getProperties()
        .map((p): [string, string] => [unquote(p.getName()), p.getValue() ?? '']);
      if (properties.length === 0) fail(instruction, `${keyword} requires at least one argument`);
      return { kind: keyword, pairs: properties };
    }
    case 'ARG': {
      if (args.length !== 1) fail(instruction, 'ARG requires exactly one argument');
      const word = args[0]!;
      const eq = word.indexOf('=');
      if (eq === -1) return { kind: 'ARG', name: word };
      return { kind: 'ARG', name: word.slice(0, eq), defaultValue: unquote(word.slice(eq + 1)) };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL': {
      if (content.trim() === '') fail(instruction, `${keyword} requires exactly one argument`);
      return { kind: keyword, value: content.trim() };
    }
    case 'EXPOSE':
      if (args.length === 0) fail(instruction, 'EXPOSE requires at least one argument');
      return { kind: 'EXPOSE', values: args };
    case 'VOLUME': {
      const form = parseCommandForm(content);
      return { kind: 'VOLUME', values: form.shell ? args : form.args };
    }
    default:
      return fail(instruction, `unknown instruction: ${keyword}`);
  }
}

/** Parses a Dockerfile into its steps; the first must be FROM and only one stage is supported. */
export function parseDockerfile(text: string): ParsedInstruction[] {
  const dockerfile = DockerfileParser.parse(text);
  const parsed: ParsedInstruction[] = [];
  let seenFrom = false;
  for (const instruction of dockerfile.getInstructions()) {
    const step = parseInstruction(instruction);
    const line = instruction.getRange().start.line + 1;
    if (step.kind === 'FROM') {
      if (seenFrom) fail(instruction, 'multi-stage builds are not supported by Layerlab: use one FROM');
      seenFrom = true;
    } else if (!seenFrom && step.kind !== 'ARG') {
      fail(instruction, 'no build stage in current context: the first instruction must be FROM');
    }
    const keyword = instruction.getKeyword().toUpperCase();
    const body = (instruction.getArgumentsContent() ?? '').trim();
    parsed.push({ step, text: body === '' ? keyword : `${keyword} ${body}`, line });
  }
  if (!seenFrom) throw new BuildError('Dockerfile has no FROM instruction');
  return parsed;
}

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` the way Docker does in FROM, COPY,
 * ENV, LABEL, WORKDIR, USER and EXPOSE; `\$` stays a literal dollar. RUN is left to the shell.
 */
export function expandVariables(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      match,
      braced: string | undefined,
      op: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === '\\$') return '$';
      const name = braced ?? bare!;
      const value = vars.get(name);
      if (op === '-') return value === undefined || value === '' ? (word ?? '') : value;
      if (op === '+') return value === undefined || value === '' ? '' : (word ?? '');
      return value ?? '';
    },
  );
}
