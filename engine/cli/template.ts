// Go's text/template, the part `--format` is used with: actions with pipelines, fields, variables,
// `if`/`else if`/`range`/`with`/`break`/`continue`, comments, trim markers, Go's builtin functions
// (and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js,
// urlquery) and Docker's (json, split, join, title, lower, upper, pad, truncate). Values are the
// JSON-shaped objects the CLI's views hold; a JavaScript function stands for a method with arguments
// (`{{.Label "k"}}`). `define`/`template`/`block` are refused: nothing in Docker's formats uses them.

/** A template that does not parse or fails while it runs; worded as Go words it. */
export class TemplateError extends Error {
  readonly template: string;
  constructor(message: string, template: string) {
    super(message);
    this.name = 'TemplateError';
    this.template = template;
  }
}

/** A function the template may call; arguments arrive already evaluated. */
export type TemplateFunction = (...args: unknown[]) => unknown;
export type FuncMap = Readonly<Record<string, TemplateFunction>>;

// ─── Lexing ────────────────────────────────────────────────────────────────────────────────────

type Token =
  | { kind: 'field'; name: string }
  | { kind: 'dot' }
  | { kind: 'var'; name: string }
  | { kind: 'ident'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'declare' }
  | { kind: 'assign' }
  | { kind: 'pipe' }
  | { kind: 'lparen' }
  | { kind: 'rparen' }
  | { kind: 'comma' }
  | { kind: 'space' };

type Piece = { kind: 'text'; text: string } | { kind: 'action'; tokens: Token[]; line: number };

function lex(source: string): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  let trimNext = false;
  const fail = (message: string): never => {
    const line = source.slice(0, at).split('\n').length;
    throw new TemplateError(`template: :${line}: ${message}`, source);
  };
  while (at <= source.length) {
    const open = source.indexOf('{{', at);
    let text = source.slice(at, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      if (text !== '') pieces.push({ kind: 'text', text });
      break;
    }
    let start = open + 2;
    // `{{- ` trims the white space before the action (the dash must be followed by a space).
    if (/^-\s/.test(source.slice(start, start + 2))) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text !== '') pieces.push({ kind: 'text', text });
    at = start;
    const line = source.slice(0, open).split('\n').length;
    // A comment: `{{/* … */}}`, nothing else in the action.
    const afterSpace = source.slice(at).match(/^\s*/)![0].length;
    if (source.startsWith('/*', at + afterSpace)) {
      const end = source.indexOf('*/', at + afterSpace + 2);
      if (end === -1) fail('unclosed comment');
      at = end + 2;
      const close = /^(\s-)?\}\}/.exec(source.slice(at)) ?? /^\s*(-?)\}\}/.exec(source.slice(at));
      if (!close) fail('comment ends before closing delimiter');
      if (close![0].includes('-')) trimNext = true;
      at += close![0].length;
      continue;
    }
    const tokens: Token[] = [];
    for (;;) {
      if (at >= source.length) fail('unclosed action');
      const rest = source.slice(at);
      const closing = /^(\s+-)?\}\}/.exec(rest);
      if (closing) {
        if (closing[1]) trimNext = true;
        at += closing[0].length;
        break;
      }
      const c = rest[0]!;
      if (/\s/.test(c)) {
        const m = /^\s+/.exec(rest)!;
        if (tokens.at(-1)?.kind !== 'space') tokens.push({ kind: 'space' });
        at += m[0].length;
        continue;
      }
      if (rest.startsWith(':=')) {
        tokens.push({ kind: 'declare' });
        at += 2;
        continue;
      }
      const single: Record<string, Token> = {
        '=': { kind: 'assign' },
        '|': { kind: 'pipe' },
        '(': { kind: 'lparen' },
        ')': { kind: 'rparen' },
        ',': { kind: 'comma' },
      };
      if (single[c]) {
        tokens.push(single[c]!);
        at += 1;
        continue;
      }
      if (c === '"') {
        const m = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
        if (!m) fail('unterminated quoted string');
        tokens.push({ kind: 'string', value: unquote(m![0], source) });
        at += m![0].length;
        continue;
      }
      if (c === '`') {
        const end = rest.indexOf('`', 1);
        if (end === -1) fail('unterminated raw quoted string');
        tokens.push({ kind: 'string', value: rest.slice(1, end) });
        at += end + 1;
        continue;
      }
      if (c === '.') {
        const m = /^\.[A-Za-z_]\w*/.exec(rest);
        if (m) tokens.push({ kind: 'field', name: m[0].slice(1) });
        else tokens.push({ kind: 'dot' });
        at += m ? m[0].length : 1;
        continue;
      }
      if (c === '$') {
        const m = /^\$\w*/.exec(rest)!;
        tokens.push({ kind: 'var', name: m[0] });
        at += m[0].length;
        continue;
      }
      const num = /^[+-]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)/.exec(rest);
      if (num && (c !== '+' && c !== '-' ? true : /^[+-][\d.]/.test(rest))) {
        tokens.push({ kind: 'number', value: Number(num[0].replaceAll('_', '')) });
        at += num[0].length;
        continue;
      }
      const ident = /^[A-Za-z_]\w*/.exec(rest);
      if (ident) {
        tokens.push({ kind: 'ident', name: ident[0] });
        at += ident[0].length;
        continue;
      }
      fail(`unexpected "${c}" in command`);
    }
    if (tokens.at(-1)?.kind === 'space') tokens.pop();
    if (tokens[0]?.kind === 'space') tokens.shift();
    pieces.push({ kind: 'action', tokens, line });
  }
  return pieces;
}

function unquote(quoted: string, source: string): string {
  try {
    return JSON.parse(quoted.replace(/\\([abfv'])/g, (_, ch: string) => escapes[ch] ?? ch)) as string;
  } catch {
    throw new TemplateError(`template: :1: invalid syntax in ${quoted}`, source);
  }
}

const escapes: Record<string, string> = { a: '\\u0007', b: '\\b', f: '\\f', v: '\\u000b', "'": "'" };

// ─── Parsing ───────────────────────────────────────────────────────────────────────────────────

type Arg =
  | { kind: 'field'; on: Arg | undefined; chain: string[] }
  | { kind: 'dot' }
  | { kind: 'var'; name: string }
  | { kind: 'ident'; name: string }
  | { kind: 'literal'; value: unknown }
  | { kind: 'pipe'; pipe: Pipeline };

interface Cmd {
  args: Arg[];
}

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  line: number;
  text: string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | ControlNode
  | { kind: 'break' | 'continue' };

/** `{{if}}`, `{{with}}` or `{{range}}`, with its `{{else}}` branch. */
interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pipe: Pipeline;
  list: Node[];
  otherwise: Node[] | undefined;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue']);
const REFUSED = new Set(['define', 'template', 'block']);

class Parser {
  private i = 0;
  private rangeDepth = 0;
  private readonly pieces: Piece[];
  private readonly source: string;
  private readonly funcs: FuncMap;
  constructor(pieces: Piece[], source: string, funcs: FuncMap) {
    this.pieces = pieces;
    this.source = source;
    this.funcs = funcs;
  }

  fail(line: number, message: string): never {
    throw new TemplateError(`template: :${line}: ${message}`, this.source);
  }

  /** Parses nodes until `{{end}}`/`{{else}}` (returned as the stop reason) or the end of input. */
  list(): { nodes: Node[]; stop: 'end' | 'else' | 'eof'; elseTokens?: Token[]; line: number } {
    const nodes: Node[] = [];
    while (this.i < this.pieces.length) {
      const piece = this.pieces[this.i++]!;
      if (piece.kind === 'text') {
        nodes.push({ kind: 'text', text: piece.text });
        continue;
      }
      const [first] = piece.tokens;
      const word = first?.kind === 'ident' ? first.name : undefined;
      if (piece.tokens.length === 0) this.fail(piece.line, 'missing value for command');
      if (word !== undefined && REFUSED.has(word)) {
        this.fail(piece.line, `{{${word}}} is not supported by Layerlab's --format`);
      }
      if (word === 'end') {
        if (piece.tokens.length > 1) this.fail(piece.line, 'unexpected input after end');
        return { nodes, stop: 'end', line: piece.line };
      }
      if (word === 'else')
        return { nodes, stop: 'else', elseTokens: piece.tokens.slice(2), line: piece.line };
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(this.control(word, piece.tokens.slice(2), piece.line));
        continue;
      }
      if (word === 'break' || word === 'continue') {
        if (this.rangeDepth === 0) this.fail(piece.line, `{{${word}}} outside {{range}}`);
        nodes.push({ kind: word });
        continue;
      }
      nodes.push({ kind: 'action', pipe: this.pipeline(piece.tokens, piece.line) });
    }
    return { nodes, stop: 'eof', line: 0 };
  }

  private control(kind: 'if' | 'with' | 'range', tokens: Token[], line: number): Node {
    if (tokens.length === 0) this.fail(line, `missing value for ${kind}`);
    const pipe = this.pipeline(tokens, line);
    if (kind === 'range') this.rangeDepth++;
    const body = this.list();
    if (kind === 'range') this.rangeDepth--;
    if (body.stop === 'eof') this.fail(line, 'unexpected EOF');
    let otherwise: Node[] | undefined;
    if (body.stop === 'else') {
      const chained = body.elseTokens ?? [];
      const next = chained[0]?.kind === 'ident' ? chained[0].name : undefined;
      if ((next === 'if' || next === 'with') && kind !== 'range') {
        // `{{else if …}}` is an `if` nested in the else branch that shares this `{{end}}`.
        otherwise = [this.control(next, chained.slice(2), body.line)];
      } else {
        if (chained.length > 0) this.fail(body.line, 'unexpected input after else');
        const rest = this.list();
        if (rest.stop !== 'end')
          this.fail(line, rest.stop === 'eof' ? 'unexpected EOF' : 'expected end; found else');
        otherwise = rest.nodes;
      }
    }
    return { kind, pipe, list: body.nodes, otherwise };
  }

  pipeline(tokens: Token[], line: number): Pipeline {
    const text = this.source;
    let pos = 0;
    const skipSpace = () => {
      while (tokens[pos]?.kind === 'space') pos++;
    };
    const decl: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$i, $e :=` (range), `$x =`.
    const look = tokens.filter((t) => t.kind !== 'space');
    const declareAt = look.findIndex((t) => t.kind === 'declare' || t.kind === 'assign');
    if (declareAt > 0 && look.slice(0, declareAt).every((t) => t.kind === 'var' || t.kind === 'comma')) {
      for (const t of look.slice(0, declareAt)) if (t.kind === 'var') decl.push(t.name);
      assign = look[declareAt]!.kind === 'assign';
      let seen = 0;
      while (seen <= declareAt) {
        if (tokens[pos]!.kind !== 'space') seen++;
        pos++;
      }
    }
    const cmds: Cmd[] = [];
    const parseOperand = (): Arg | undefined => {
      const t = tokens[pos];
      if (!t) return undefined;
      let arg: Arg;
      switch (t.kind) {
        case 'field':
          arg = { kind: 'field', on: undefined, chain: [t.name] };
          pos++;
          break;
        case 'dot':
          arg = { kind: 'dot' };
          pos++;
          break;
        case 'var':
          arg = { kind: 'var', name: t.name };
          pos++;
          break;
        case 'string':
        case 'number':
          arg = { kind: 'literal', value: t.value };
          pos++;
          break;
        case 'ident':
          pos++;
          if (t.name === 'true' || t.name === 'false') arg = { kind: 'literal', value: t.name === 'true' };
          else if (t.name === 'nil') arg = { kind: 'literal', value: null };
          else {
            if (KEYWORDS.has(t.name)) this.fail(line, `unexpected <${t.name}> in command`);
            if (!Object.hasOwn(this.funcs, t.name)) this.fail(line, `function "${t.name}" not defined`);
            arg = { kind: 'ident', name: t.name };
          }
          break;
        case 'lparen': {
          pos++;
          const start = pos;
          let depth = 1;
          while (pos < tokens.length && depth > 0) {
            const k = tokens[pos]!.kind;
            if (k === 'lparen') depth++;
            if (k === 'rparen') depth--;
            pos++;
          }
          if (depth > 0) this.fail(line, 'unclosed left paren');
          arg = { kind: 'pipe', pipe: this.pipeline(tokens.slice(start, pos - 1), line) };
          break;
        }
        default:
          return undefined;
      }
      // A field chain straight after an operand: `$x.Name`, `(index . 0).Name`.
      const chain: string[] = [];
      while (tokens[pos]?.kind === 'field') chain.push((tokens[pos++] as { name: string }).name);
      if (chain.length > 0) {
        if (arg.kind === 'field') arg.chain.push(...chain);
        else arg = { kind: 'field', on: arg, chain };
      }
      return arg;
    };
    for (;;) {
      skipSpace();
      const args: Arg[] = [];
      for (;;) {
        skipSpace();
        const t = tokens[pos];
        if (!t || t.kind === 'pipe') break;
        const arg = parseOperand();
        if (!arg) this.fail(line, `unexpected ${describe(t)} in operand`);
        args.push(arg);
      }
      if (args.length === 0) this.fail(line, 'missing value for command');
      cmds.push({ args });
      if (tokens[pos]?.kind === 'pipe') {
        pos++;
        continue;
      }
      break;
    }
    return { decl, assign, cmds, line, text };
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'rparen':
      return 'right paren';
    case 'comma':
      return '","';
    case 'declare':
      return '":="';
    case 'assign':
      return '"="';
    default:
      return `<${t.kind}>`;
  }
}

// ─── Executing ─────────────────────────────────────────────────────────────────────────────────

/** Go's "missing value": a map lookup that found nothing, printed `<no value>`. */
const NO_VALUE = undefined;

class Break {}
class Continue {}

interface Scope {
  vars: Map<string, unknown>[];
}

/** Bounds on one execution: a template may loop, and the browser terminal's user writes it. */
const MAX_STEPS = 200_000;
const MAX_OUTPUT = 8 * 1024 * 1024;
/** The widest padding `printf` and `pad` will make. */
const MAX_PAD = 10_000;

class Executor {
  out = '';
  private steps = 0;
  private readonly source: string;
  private readonly funcs: FuncMap;
  private readonly missingKeyError: boolean;
  constructor(source: string, funcs: FuncMap, missingKeyError: boolean) {
    this.source = source;
    this.funcs = funcs;
    this.missingKeyError = missingKeyError;
  }

  fail(pipe: Pipeline | undefined, message: string): never {
    throw new TemplateError(`template: :${pipe?.line ?? 1}: executing "" ${message}`, this.source);
  }

  run(nodes: Node[], dot: unknown, scope: Scope): void {
    for (const node of nodes) {
      // A format is typed by whoever uses the terminal: bound its work and its output.
      if (++this.steps > MAX_STEPS) this.fail(undefined, `stopped: more than ${MAX_STEPS} steps`);
      if (this.out.length > MAX_OUTPUT) this.fail(undefined, `stopped: output over ${MAX_OUTPUT} characters`);
      switch (node.kind) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const value = this.pipeline(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) this.out += goPrint(value);
          break;
        }
        case 'if':
        case 'with': {
          const inner: Scope = { vars: [...scope.vars, new Map()] };
          const value = this.pipeline(node.pipe, dot, inner);
          if (truth(value)) this.run(node.list, node.kind === 'with' ? value : dot, inner);
          else if (node.otherwise) this.run(node.otherwise, dot, inner);
          break;
        }
        case 'range':
          this.range(node, dot, scope);
          break;
        case 'break':
          throw new Break();
        case 'continue':
          throw new Continue();
      }
    }
  }

  private range(node: ControlNode, dot: unknown, scope: Scope): void {
    const { pipe } = node;
    const value = this.evalPipe({ ...pipe, decl: [] }, dot, scope);
    // Index-based access, so `range 100000` materialises nothing.
    let count: number;
    let at: (i: number) => [unknown, unknown];
    if (Array.isArray(value)) {
      count = value.length;
      at = (i) => [i, value[i]];
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value).sort();
      count = keys.length;
      at = (i) => [keys[i], (value as Record<string, unknown>)[keys[i]!]];
    } else if (typeof value === 'number' && Number.isInteger(value)) {
      count = Math.max(0, value);
      at = (i) => [i, i];
    } else if (value === null || value === undefined) {
      count = 0;
      at = () => [undefined, undefined];
    } else this.fail(pipe, `range can't iterate over ${goPrint(value)}`);
    if (count === 0) {
      if (node.otherwise) this.run(node.otherwise, dot, scope);
      return;
    }
    for (let i = 0; i < count; i++) {
      if (++this.steps > MAX_STEPS) this.fail(pipe, `stopped: more than ${MAX_STEPS} steps`);
      const [key, element] = at(i);
      // A scope per iteration: what the body declares ends with it, as in Go.
      const vars = new Map<string, unknown>();
      if (pipe.decl.length === 1) vars.set(pipe.decl[0]!, element);
      else if (pipe.decl.length > 1) {
        vars.set(pipe.decl[0]!, key);
        vars.set(pipe.decl[1]!, element);
      }
      const inner = { vars: [...scope.vars, vars] };
      try {
        this.run(node.list, element, inner);
      } catch (signal) {
        if (signal instanceof Break) break;
        if (signal instanceof Continue) continue;
        throw signal;
      }
    }
  }

  private pipeline(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    const value = this.evalPipe(pipe, dot, scope);
    for (const name of pipe.decl) {
      if (pipe.assign) {
        const holder = [...scope.vars].reverse().find((m) => m.has(name));
        if (!holder) this.fail(pipe, `undefined variable: ${name}`);
        holder.set(name, value);
      } else scope.vars.at(-1)!.set(name, value);
    }
    return value;
  }

  private evalPipe(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let piped: { value: unknown } | undefined;
    for (const cmd of pipe.cmds) piped = { value: this.command(pipe, cmd, dot, scope, piped) };
    return piped?.value;
  }

  private command(
    pipe: Pipeline,
    cmd: Cmd,
    dot: unknown,
    scope: Scope,
    piped: { value: unknown } | undefined,
  ): unknown {
    const [head, ...rest] = cmd.args;
    const args = () => {
      const values = rest.map((a) => this.arg(pipe, a, dot, scope));
      if (piped) values.push(piped.value);
      return values;
    };
    if (head!.kind === 'ident') {
      const fn = this.funcs[head!.name]!;
      try {
        return fn(...args());
      } catch (err) {
        if (err instanceof TemplateError) throw err;
        this.fail(pipe, `at <${head!.name}>: error calling ${head!.name}: ${(err as Error).message}`);
      }
    }
    const value = this.arg(pipe, head!, dot, scope, true);
    if (typeof value === 'function') {
      return (value as TemplateFunction)(...args());
    }
    if (rest.length > 0 || piped)
      this.fail(pipe, `can't give argument to non-function ${describeArg(head!)}`);
    return value;
  }

  private arg(pipe: Pipeline, arg: Arg, dot: unknown, scope: Scope, asHead = false): unknown {
    switch (arg.kind) {
      case 'dot':
        return dot;
      case 'literal':
        return arg.value;
      case 'var':
        return this.variable(pipe, arg.name, scope);
      case 'pipe':
        return this.evalPipe(arg.pipe, dot, { vars: [...scope.vars, new Map()] });
      case 'ident': {
        const fn = this.funcs[arg.name]!;
        return fn();
      }
      case 'field': {
        let value = arg.on === undefined ? dot : this.arg(pipe, arg.on, dot, scope);
        arg.chain.forEach((key, i) => {
          const last = i === arg.chain.length - 1;
          value = this.field(pipe, value, key);
          // A method reached in the middle of a chain is called without arguments, as Go does.
          if (typeof value === 'function' && !(last && asHead)) value = (value as TemplateFunction)();
        });
        return value;
      }
    }
  }

  private variable(pipe: Pipeline, name: string, scope: Scope): unknown {
    for (let i = scope.vars.length - 1; i >= 0; i--) {
      if (scope.vars[i]!.has(name)) return scope.vars[i]!.get(name);
    }
    return this.fail(pipe, `undefined variable: ${name}`);
  }

  private field(pipe: Pipeline, value: unknown, key: string): unknown {
    if (value === null || value === undefined) {
      this.fail(pipe, `at <.${key}>: nil pointer evaluating interface {}.${key}`);
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.fail(pipe, `at <.${key}>: can't evaluate field ${key} in type ${goType(value)}`);
    }
    if (!Object.hasOwn(value as object, key)) {
      if (this.missingKeyError) this.fail(pipe, `at <.${key}>: map has no entry for key "${key}"`);
      return NO_VALUE;
    }
    return (value as Record<string, unknown>)[key];
  }
}

function describeArg(arg: Arg): string {
  if (arg.kind === 'field') return `.${arg.chain.join('.')}`;
  if (arg.kind === 'var') return arg.name;
  return arg.kind === 'dot' ? '.' : 'value';
}

function goType(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return '[]interface {}';
  return 'interface {}';
}

/** Go's notion of a true value: not false, 0, nil, or an empty string, slice or map. */
export function truth(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Go's `%v` for JSON-shaped values: `[a b]`, `map[k:v]` (keys sorted), `<nil>`, `<no value>`. */
export function goPrint(value: unknown): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(nested).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `map[${entries.map(([k, v]) => `${k}:${nested(v)}`).join(' ')}]`;
  }
  if (typeof value === 'number') return goNumber(value);
  return String(value);
}

/** Inside a list or map Go prints a nil element as `<nil>` whatever its origin. */
function nested(value: unknown): string {
  return value === undefined ? '<nil>' : goPrint(value);
}

function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v of a float64 is %g: exponent form from 1e21 up and below 1e-4.
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
    return n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(n);
}

// ─── Functions ─────────────────────────────────────────────────────────────────────────────────

function str(value: unknown, fn: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`wrong type for value; expected string; got ${goType(value)} (${fn})`);
}

function int(value: unknown, fn: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new Error(`wrong type for value; expected int; got ${goType(value)} (${fn})`);
}

function compare(a: unknown, b: unknown): number {
  const basic = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (!basic(a) || !basic(b)) throw new Error('invalid type for comparison');
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  if (typeof a === 'boolean') throw new Error('invalid type for comparison');
  return (a as number | string) < (b as number | string) ? -1 : a === b ? 0 : 1;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a === null || a === undefined) && (b === null || b === undefined);
  }
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  if (typeof a === 'object') throw new Error('non-comparable type');
  return a === b;
}

/** Go's `fmt.Sprint`: spaces only between operands when neither is a string. */
function sprint(args: readonly unknown[]): string {
  let out = '';
  args.forEach((arg, i) => {
    if (i > 0 && typeof arg !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goPrint(arg);
  });
  return out;
}

/** Go's `fmt.Sprintf` for the verbs formats use: %v %s %d %q %t %f %x %c and width/precision. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let n = 0;
  return (
    format.replace(
      /%([-+# 0]*)(\d+)?(?:\.(\d+))?([vsdqtfxXceg%])/g,
      (whole, flags: string, width, prec, verb) => {
        if (verb === '%') return '%';
        if (n >= args.length) return `%!${verb}(MISSING)`;
        const arg = args[n++];
        let text: string;
        switch (verb) {
          case 'd':
            text = typeof arg === 'number' ? String(Math.trunc(arg)) : `%!d(${goType(arg)}=${goPrint(arg)})`;
            break;
          case 'f':
          case 'e':
          case 'g':
            text =
              typeof arg !== 'number'
                ? `%!${verb}(${goType(arg)}=${goPrint(arg)})`
                : verb === 'f'
                  ? arg.toFixed(prec === undefined ? 6 : Number(prec))
                  : verb === 'e'
                    ? arg
                        .toExponential(prec === undefined ? 6 : Number(prec))
                        .replace(/e([+-])(\d)$/, 'e$10$2')
                    : goPrint(arg);
            break;
          case 'q':
            text = JSON.stringify(typeof arg === 'string' ? arg : goPrint(arg));
            break;
          case 'x':
          case 'X': {
            const hex =
              typeof arg === 'number'
                ? arg.toString(16)
                : Buffer.from(typeof arg === 'string' ? arg : goPrint(arg)).toString('hex');
            text = verb === 'X' ? hex.toUpperCase() : hex;
            break;
          }
          case 'c':
            text =
              typeof arg === 'number' ? String.fromCodePoint(arg) : `%!c(${goType(arg)}=${goPrint(arg)})`;
            break;
          default:
            text = goPrint(arg);
            if (prec !== undefined && (verb === 's' || verb === 'v'))
              text = [...text].slice(0, Number(prec)).join('');
        }
        if (width !== undefined) {
          const w = Math.min(Number(width), MAX_PAD);
          const pad = Math.max(0, w - [...text].length);
          if (flags.includes('-')) text += ' '.repeat(pad);
          else text = (flags.includes('0') && verb !== 's' ? '0' : ' ').repeat(pad) + text;
        }
        void whole;
        return text;
      },
    ) +
    (n < args.length
      ? `%!(EXTRA ${args
          .slice(n)
          .map((a) => `${goType(a)}=${goPrint(a)}`)
          .join(', ')})`
      : '')
  );
}

/**
 * Marks a list command's row: docker/cli marshals such a context itself (formatter.MarshalJSON: a
 * map of its fields through json.Marshal), so `{{json .}}` has its keys sorted and `<`, `>`, `&`
 * escaped (`"Digest":"\u003cnone\u003e"`), unlike any other value.
 */
export const MARSHALLED_AS_MAP: unique symbol = Symbol('marshalled as a Go map');

/** Docker's json: compact, HTML characters left as they are (but see MARSHALLED_AS_MAP). */
function json(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object' || !(MARSHALLED_AS_MAP in value))
    return JSON.stringify(value);
  const row = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(row).sort()) sorted[key] = row[key];
  // Outside strings JSON has none of these characters: replacing them all escapes only string contents.
  return JSON.stringify(sorted)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

function length(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  throw new Error(`len of type ${goType(value)}`);
}

function index(value: unknown, ...keys: unknown[]): unknown {
  let current = value;
  for (const key of keys) {
    if (Array.isArray(current) || typeof current === 'string') {
      const i = int(key, 'index');
      const size = Array.isArray(current) ? current.length : Buffer.byteLength(current);
      if (i < 0 || i >= size) throw new Error(`index out of range: ${i}`);
      current = Array.isArray(current) ? current[i] : Buffer.from(current as string)[i];
    } else if (current !== null && typeof current === 'object') {
      const k = str(key, 'index');
      current = Object.hasOwn(current, k) ? (current as Record<string, unknown>)[k] : NO_VALUE;
    } else if (current === null || current === undefined) {
      throw new Error('index of untyped nil');
    } else throw new Error(`can't index item of type ${goType(current)}`);
  }
  return current;
}

function slice(value: unknown, ...bounds: unknown[]): unknown {
  const [from = 0, to] = bounds.map((b) => int(b, 'slice'));
  if (typeof value === 'string') return value.slice(from, to);
  if (Array.isArray(value)) return value.slice(from, to);
  throw new Error(`can't slice item of type ${goType(value)}`);
}

/** Go's strings.Title: the first letter of each word upper-cased. */
function title(text: string): string {
  return text.replace(
    /(^|[^\p{L}\p{N}_'])(\p{L})/gu,
    (_, before: string, letter: string) => before + letter.toUpperCase(),
  );
}

/** The functions every template has: Go's builtins and Docker's additions (templates.basicFunctions). */
export const BASIC_FUNCTIONS: FuncMap = {
  and: (...args) => args.find((a) => !truth(a)) ?? args.at(-1),
  or: (...args) => args.find((a) => truth(a)) ?? args.at(-1),
  not: (a) => !truth(a),
  len: length,
  index,
  slice,
  print: (...args) => sprint(args),
  printf: (format, ...args) => sprintf(str(format, 'printf'), args),
  println: (...args) => `${args.map(goPrint).join(' ')}\n`,
  eq: (a, ...rest) => {
    if (rest.length === 0) throw new Error('missing argument for comparison');
    return rest.some((b) => equal(a, b));
  },
  ne: (a, b) => !equal(a, b),
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  html: (...args) =>
    sprint(args).replace(
      /[&'<>"\0]/g,
      (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!,
    ),
  js: (...args) =>
    sprint(args).replace(
      /[\\'"<>&=]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
    ),
  urlquery: (...args) => encodeURIComponent(sprint(args)).replace(/%20/g, '+'),
  json,
  split: (s, sep) => str(s, 'split').split(str(sep, 'split')),
  join: (list, sep) => {
    if (!Array.isArray(list)) throw new Error(`wrong type for value; expected []string; got ${goType(list)}`);
    return list.map((e) => str(e, 'join')).join(str(sep, 'join'));
  },
  title: (s) => title(str(s, 'title')),
  lower: (s) => str(s, 'lower').toLowerCase(),
  upper: (s) => str(s, 'upper').toUpperCase(),
  pad: (s, prefix, suffix) => {
    const spaces = (n: unknown) => ' '.repeat(Math.max(0, Math.min(int(n, 'pad'), MAX_PAD)));
    return `${spaces(prefix)}${str(s, 'pad')}${spaces(suffix)}`;
  },
  truncate: (s, n) => {
    const text = str(s, 'truncate');
    const max = int(n, 'truncate');
    return [...text].length <= max ? text : [...text].slice(0, max).join('');
  },
};

/**
 * Docker's header functions: when a `table` format's header row is rendered, these leave their
 * argument (the column's header) as it is, so `{{upper .Names}}` is headed NAMES, not transformed.
 */
export const HEADER_FUNCTIONS: FuncMap = {
  ...BASIC_FUNCTIONS,
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  pad: (v) => v,
  truncate: (v) => v,
};

/** A parsed template, run once per value. */
export interface Template {
  execute(value: unknown): string;
}

export interface TemplateOptions {
  funcs?: FuncMap;
  /** Go's `missingkey=error` (Docker's inspect on raw JSON): a missing field is an error, not `<no value>`. */
  missingKeyError?: boolean;
}

/** Parses `source`; throws TemplateError on a syntax error. */
export function parseTemplate(source: string, options: TemplateOptions = {}): Template {
  const funcs = options.funcs ?? BASIC_FUNCTIONS;
  const parser = new Parser(lex(source), source, funcs);
  const top = parser.list();
  if (top.stop !== 'eof') parser.fail(top.line, `unexpected {{${top.stop}}}`);
  return {
    execute(value) {
      const executor = new Executor(source, funcs, options.missingKeyError ?? false);
      executor.run(top.nodes, value, { vars: [new Map([['$', value]])] });
      return executor.out;
    },
  };
}

/** Renders `template` against `value`, as `inspect -f` does (a missing key is an error). */
export function renderTemplate(template: string, value: unknown): string {
  return parseTemplate(template, { missingKeyError: true }).execute(value);
}
