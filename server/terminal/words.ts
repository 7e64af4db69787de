// Splits a command line into words as a POSIX shell would for the subset this prompt supports:
// '…', "…" and backslash quoting, `$NAME` and `${NAME}` from the terminal's own environment, and
// `$(…)` command substitution of the prompt's own commands (quote-aware, nested a few levels).
// Operators (pipes, redirection, lists) are refused with a clear message, since only the CLI runs here.

export type SplitResult = { ok: true; words: string[] } | { ok: false; error: string };

/** Characters that start a shell operator when unquoted. */
const OPERATORS = new Set(['|', '>', '<', '&', ';']);

/** `$(…)` inside `$(…)` inside `$(…)`: deeper than this is refused. */
export const MAX_SUBSTITUTION_DEPTH = 3;
/** Command substitutions one line may hold, nested ones included. */
export const MAX_SUBSTITUTIONS = 8;

export const UNSUPPORTED_HINT =
  "this prompt runs one command at a time; pipes, redirection and lists work in a container's shell: docker run -it busybox sh";

/** Part of a word: literal text (quotes already removed) or a `$(…)` to run and substitute. */
export type WordPart =
  | { kind: 'text'; text: string }
  | {
      kind: 'substitution';
      /** The command between the parentheses, as typed. */
      source: string;
      line: ParsedLine;
      /** Inside "…": the output is one piece of the word, not split into words. */
      quoted: boolean;
    }
  | {
      kind: 'variable';
      /** The variable's name (`REGISTRY`); its value comes from the terminal's environment. */
      name: string;
      /** As typed: `$REGISTRY` or `${REGISTRY}`. */
      source: string;
      /** Inside "…": the value is one piece of the word, not split into words. */
      quoted: boolean;
    };

/** A word as parsed: its parts in order (a word of only an unquoted, empty substitution vanishes). */
export type ParsedWord = WordPart[];

export interface ParsedLine {
  words: ParsedWord[];
  /** Command substitutions in the line, nested ones included. */
  substitutions: number;
  /** Whether any word holds a `$NAME` to expand (outside `$(…)`). */
  variables: boolean;
}

export type ParseResult = ({ ok: true } & ParsedLine) | { ok: false; error: string };

/** The words of a whole line with its substitutions still to run, or why it cannot be run here. */
export function parseLine(line: string): ParseResult {
  try {
    const scan = scanWords([...line], 0, { count: 0 }, 0, false);
    if (scan.operator) {
      return { ok: false, error: `\`${scan.operator}\` is not supported here: ${UNSUPPORTED_HINT}` };
    }
    if (scan.openQuote) {
      const close = scan.openQuote === "'" ? "'" : '"';
      return { ok: false, error: `unexpected EOF while looking for matching \`${close}'` };
    }
    const words = scan.current === undefined ? scan.words : [...scan.words, scan.current];
    return { ok: true, words, substitutions: scan.substitutions, variables: hasVariables(words) };
  } catch (err) {
    if (err instanceof LineSyntaxError) return { ok: false, error: err.message };
    throw err;
  }
}

/**
 * The words of a whole line, or why it cannot be run here. A `$(…)` stays as typed: this is the line
 * as the CLI's parser would see it, for checks that do not run anything.
 */
export function splitWords(line: string): SplitResult {
  const parsed = parseLine(line);
  if (!parsed.ok) return parsed;
  return { ok: true, words: literalWords(parsed) };
}

/** The words of a parsed line as typed: what it runs when it holds no substitution. */
export function literalWords(line: ParsedLine): string[] {
  return line.words.map(literalWord);
}

/** A parsed word with each substitution written back as `$(…)` and each variable as typed. */
function literalWord(word: ParsedWord): string {
  return word
    .map((p) => (p.kind === 'text' ? p.text : p.kind === 'variable' ? p.source : `$(${p.source})`))
    .join('');
}

function hasVariables(words: readonly ParsedWord[]): boolean {
  return words.some((w) => w.some((p) => p.kind === 'variable'));
}

/** A variable's value: the terminal's environment, or empty when unset (as a shell has it). */
export type VariableLookup = (name: string) => string | undefined;

/**
 * The words after expanding each variable (by `lookup`) and running each substitution (left to
 * right, inner ones first, by `run`): a quoted one's value is part of its word, an unquoted one's is
 * split into words at blanks and newlines; a substitution's trailing newlines are dropped, as a
 * shell drops them.
 */
export async function expandLine(
  line: ParsedLine,
  run: (inner: ParsedLine, source: string) => Promise<string>,
  lookup: VariableLookup = () => undefined,
): Promise<string[]> {
  const fields: string[] = [];
  for (const word of line.words) {
    let field = '';
    let exists = false;
    for (const part of word) {
      if (part.kind === 'text') {
        field += part.text;
        exists = true;
        continue;
      }
      const output =
        part.kind === 'variable'
          ? (lookup(part.name) ?? '')
          : (await run(part.line, part.source)).replace(/\n+$/, '');
      if (part.quoted) {
        field += output;
        exists = true;
        continue;
      }
      const pieces = output.split(/[ \t\n]+/);
      pieces.forEach((piece, i) => {
        if (i > 0) {
          if (exists) fields.push(field);
          field = '';
          exists = false;
        }
        if (piece !== '') {
          field += piece;
          exists = true;
        }
      });
    }
    if (exists) fields.push(field);
  }
  return fields;
}

export interface PartialLine {
  /** The finished words before the one under the cursor. */
  words: string[];
  /** The word being typed, unquoted (`''` when the cursor follows a space). */
  current: string;
  /** The quote the word is open in, if any: a completion closes it. */
  openQuote?: "'" | '"';
}

/**
 * The words of the text before the cursor, for completion: the last one may be unfinished. Inside an
 * unfinished `$(…)` they are the words of the command being substituted.
 */
export function splitPartial(before: string): PartialLine {
  let text = before;
  // Each unfinished `$(` moves in one level; a loop, not recursion, whatever the line holds.
  for (let level = 0; level <= MAX_SUBSTITUTION_DEPTH; level++) {
    let scan: Scan;
    try {
      scan = scanWords([...text], 0, { count: 0 }, 0, true);
    } catch (err) {
      if (err instanceof OpenSubstitution) {
        text = err.inner;
        continue;
      }
      if (err instanceof LineSyntaxError) break;
      throw err;
    }
    return {
      words: scan.words.map(literalWord),
      current: scan.current === undefined ? '' : literalWord(scan.current),
      ...(scan.openQuote ? { openQuote: scan.openQuote } : {}),
    };
  }
  return { words: [], current: '' };
}

/** Quotes `word` for this prompt when it holds anything the splitter would treat specially. */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./~^-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether the character after a `$` starts a variable (`$A`, `${A}`); `$1`, `$?`, `$$` stay literal. */
function startsVariable(next: string | undefined): boolean {
  return next !== undefined && (next === '{' || /[A-Za-z_]/.test(next));
}

/** A line this prompt cannot take, with a shell's wording. */
class LineSyntaxError extends Error {}

/** The text ended inside `$(`: completion looks at the command being typed there. */
class OpenSubstitution extends Error {
  readonly inner: string;
  constructor(inner: string) {
    super("unexpected EOF while looking for matching `)'");
    this.inner = inner;
  }
}

interface Scan {
  words: ParsedWord[];
  /** The word in progress; undefined when the text ended in whitespace (or was empty). */
  current: ParsedWord | undefined;
  openQuote?: "'" | '"';
  /** The first unquoted operator, if one was found (`|`, `>>`, `&&`, …). */
  operator?: string;
  substitutions: number;
}

/** Substitutions seen so far in the whole line. */
interface Budget {
  count: number;
}

const BACKQUOTE_REFUSAL = 'backquote substitution `…` is not supported here: write $(…) instead';

function scanWords(
  chars: readonly string[],
  from: number,
  budget: Budget,
  depth: number,
  partial: boolean,
): Scan {
  const words: ParsedWord[] = [];
  let current: ParsedWord | undefined;
  let quote: "'" | '"' | undefined;
  let substitutions = 0;
  const addText = (text: string) => {
    current ??= [];
    const last = current.at(-1);
    if (last?.kind === 'text') last.text += text;
    else current.push({ kind: 'text', text });
  };
  /** `$(` at `i`: the substitution is parsed and added; returns the index of its `)`. */
  const substitute = (i: number, quoted: boolean): number => {
    if (chars[i + 2] === '(') {
      const close = closingArithmetic(chars, i + 3);
      if (close === -1) throw new LineSyntaxError("unexpected EOF while looking for matching `))'");
      addText(String(evaluateArithmetic(chars.slice(i + 3, close).join(''))));
      return close + 1;
    }
    const end = closingParen(chars, i + 2, depth + 1);
    if (end === -1) {
      const inner = chars.slice(i + 2).join('');
      if (partial) throw new OpenSubstitution(inner);
      throw new LineSyntaxError("unexpected EOF while looking for matching `)'");
    }
    budget.count++;
    substitutions++;
    if (budget.count > MAX_SUBSTITUTIONS) {
      throw new LineSyntaxError(
        `too many command substitutions in one line (at most ${MAX_SUBSTITUTIONS} here)`,
      );
    }
    if (depth + 1 > MAX_SUBSTITUTION_DEPTH) {
      throw new LineSyntaxError(
        `command substitution nested too deeply (at most ${MAX_SUBSTITUTION_DEPTH} levels here)`,
      );
    }
    const source = chars.slice(i + 2, end).join('');
    const inner = scanWords(chars.slice(i + 2, end), 0, budget, depth + 1, false);
    if (inner.operator) {
      throw new LineSyntaxError(`\`${inner.operator}\` is not supported here: ${UNSUPPORTED_HINT}`);
    }
    if (inner.openQuote)
      throw new LineSyntaxError(`unexpected EOF while looking for matching \`${inner.openQuote}'`);
    const innerWords = inner.current === undefined ? inner.words : [...inner.words, inner.current];
    substitutions += inner.substitutions;
    const innerVariables = hasVariables(innerWords);
    current ??= [];
    current.push({
      kind: 'substitution',
      source,
      line: { words: innerWords, substitutions: inner.substitutions, variables: innerVariables },
      quoted,
    });
    return end;
  };
  /** `$NAME` or `${NAME}` at `i`: the variable is added; returns the index of its last character. */
  const variable = (i: number, quoted: boolean): number => {
    let name = '';
    let end: number;
    if (chars[i + 1] === '{') {
      const close = chars.indexOf('}', i + 2);
      name = chars.slice(i + 2, close === -1 ? chars.length : close).join('');
      if (close === -1) {
        if (partial) return chars.length - 1;
        throw new LineSyntaxError("unexpected EOF while looking for matching `}'");
      }
      // `${A:-x}` and the other operators are a real shell's; here a name alone.
      if (!VARIABLE_NAME.test(name)) throw new LineSyntaxError(`\${${name}}: bad substitution`);
      end = close;
    } else {
      let j = i + 1;
      while (j < chars.length && /[A-Za-z0-9_]/.test(chars[j]!)) j++;
      name = chars.slice(i + 1, j).join('');
      end = j - 1;
    }
    current ??= [];
    current.push({ kind: 'variable', name, source: chars.slice(i, end + 1).join(''), quoted });
    return end;
  };
  for (let i = from; i < chars.length; i++) {
    const ch = chars[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else addText(ch);
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && i + 1 < chars.length && '"\\$`'.includes(chars[i + 1]!)) addText(chars[++i]!);
      else if (ch === '$' && chars[i + 1] === '(') i = substitute(i, true);
      else if (ch === '$' && startsVariable(chars[i + 1])) i = variable(i, true);
      else if (ch === '`') throw new LineSyntaxError(BACKQUOTE_REFUSAL);
      else addText(ch);
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (current !== undefined) words.push(current);
      current = undefined;
      continue;
    }
    // A `#` that starts a word begins a comment (code blocks on lesson pages carry them).
    if (ch === '#' && current === undefined) break;
    if (ch === "'" || ch === '"') {
      quote = ch;
      addText('');
      continue;
    }
    if (ch === '\\') {
      addText(chars[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === '$' && chars[i + 1] === '(') {
      i = substitute(i, false);
      continue;
    }
    if (ch === '$' && startsVariable(chars[i + 1])) {
      i = variable(i, false);
      continue;
    }
    if (ch === '`') {
      if (partial) return { words, current, operator: '`', substitutions };
      throw new LineSyntaxError(BACKQUOTE_REFUSAL);
    }
    if (OPERATORS.has(ch)) {
      const next = chars[i + 1];
      const operator = next !== undefined && (next === ch || (ch === '>' && next === '&')) ? ch + next : ch;
      return { words, current, operator, substitutions };
    }
    addText(ch);
  }
  return { words, current, ...(quote ? { openQuote: quote } : {}), substitutions };
}

/**
 * The index of the `)` that closes a `$(` whose text starts at `from`, or -1: quotes, backslashes,
 * nested `$(…)` and bare `( … )` inside are skipped, as a shell reads them.
 */
function closingParen(chars: readonly string[], from: number, level = 1): number {
  // Deeper than any line may nest is refused here, before the recursion could exhaust the stack.
  if (level > MAX_SUBSTITUTION_DEPTH) {
    throw new LineSyntaxError(
      `command substitution nested too deeply (at most ${MAX_SUBSTITUTION_DEPTH} levels here)`,
    );
  }
  let depth = 1;
  let quote: "'" | '"' | undefined;
  for (let i = from; i < chars.length; i++) {
    const ch = chars[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      continue;
    }
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '$' && chars[i + 1] === '(') {
      const end = closingParen(chars, i + 2, level + 1);
      if (end === -1) return -1;
      i = end;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The index of the first `)` of the `))` that closes a `$((` whose expression starts at `from`. */
function closingArithmetic(chars: readonly string[], from: number): number {
  let depth = 0;
  for (let i = from; i < chars.length; i++) {
    if (chars[i] === '(') depth++;
    else if (chars[i] === ')') {
      if (depth === 0) return chars[i + 1] === ')' ? i : -1;
      depth--;
    }
  }
  return -1;
}

/**
 * `$((…))` as bash computes it, for what a lesson line needs: integers with + - * / % and
 * parentheses (64-bit, division truncating toward zero). Variables and other operators are refused.
 */
export function evaluateArithmetic(expression: string): bigint {
  if (!/^[0-9+\-*/%()\s]*$/.test(expression)) {
    throw new LineSyntaxError(
      `arithmetic expansion \`$((${expression}))\` is not supported here: only numbers, + - * / % and parentheses`,
    );
  }
  const tokens = expression.match(/\d+|[+\-*/%()]/g) ?? [];
  let at = 0;
  const wrap = (n: bigint) => BigInt.asIntN(64, n);
  const fail = (): never => {
    throw new LineSyntaxError(`$((${expression})): syntax error in expression`);
  };
  const primary = (): bigint => {
    const t = tokens[at++];
    if (t === undefined) return fail();
    if (t === '(') {
      const v = sum();
      if (tokens[at++] !== ')') fail();
      return v;
    }
    if (t === '-') return wrap(-primary());
    if (t === '+') return primary();
    if (/^\d+$/.test(t)) return wrap(BigInt(t));
    return fail();
  };
  const product = (): bigint => {
    let v = primary();
    while (tokens[at] === '*' || tokens[at] === '/' || tokens[at] === '%') {
      const op = tokens[at++];
      const r = primary();
      if (op !== '*' && r === 0n) throw new LineSyntaxError(`$((${expression})): division by 0`);
      v = wrap(op === '*' ? v * r : op === '/' ? v / r : v % r);
    }
    return v;
  };
  const sum = (): bigint => {
    let v = product();
    while (tokens[at] === '+' || tokens[at] === '-') {
      const op = tokens[at++];
      const r = product();
      v = wrap(op === '+' ? v + r : v - r);
    }
    return v;
  };
  if (tokens.length === 0) return 0n;
  const value = sum();
  if (at !== tokens.length) fail();
  return value;
}
