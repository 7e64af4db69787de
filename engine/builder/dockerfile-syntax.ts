// Splits a Dockerfile into instruction nodes exactly as Docker does: a port of BuildKit's
// frontend/dockerfile/parser (parser.go, line_parsers.go, split_command.go, the escape directive).
// Line continuations, comments inside continuations, `--flags`, JSON forms and heredoc bodies are
// decided here; what the words mean is engine/builder/dockerfile.ts's job.

import { BuildError } from '../errors.ts';
import { processWords } from './shell-lex.ts';

/** A heredoc attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`). */
export interface Heredoc {
  name: string;
  /** Whether `$VAR` in the body is expanded (the delimiter was not quoted). */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body. */
  chomp: boolean;
  content: string;
}

export interface Node {
  /** The keyword as written (`from`, `RUN`). */
  keyword: string;
  /** `--name=value` words before the arguments, quotes removed. */
  flags: string[];
  /** The arguments as Docker's line parser for this keyword splits them (quotes kept where it keeps them). */
  args: string[];
  /** ENV and LABEL: whether each pair was written `KEY=value` (else the legacy `KEY value`). */
  json: boolean;
  heredocs: Heredoc[];
  /** The instruction's text, continuation lines joined. */
  original: string;
  /** 1-based lines where the instruction starts and ends. */
  startLine: number;
  endLine: number;
  /** ONBUILD: the instruction it wraps. */
  child?: Node;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const HEREDOC = /^(\d*)<<(-?)\s*([^<]*)$/;
const HEREDOC_KEYWORDS = new Set(['add', 'copy', 'run']);

/**
 * A Dockerfile that cannot be parsed, worded as the classic builder words it; the line and the bare
 * reason are kept so the CLI can word it as BuildKit does instead.
 */
export class DockerfileParseError extends BuildError {
  readonly line: number;
  readonly reason: string;
  constructor(line: number, reason: string, input: string) {
    super(`Dockerfile parse error line ${line}: ${reason}`, { input });
    this.line = line;
    this.reason = reason;
  }
}

export function parseError(line: number, message: string, input: string): never {
  throw new DockerfileParseError(line, message, input);
}

/** Go's unicode.IsSpace for one character. */
function isSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
}

function trimLeft(text: string): string {
  let i = 0;
  const chars = Array.from(text);
  while (i < chars.length && isSpace(chars[i]!)) i++;
  return chars.slice(i).join('');
}

function trimSpace(text: string): string {
  return reverseTrim(trimLeft(text));
}

function reverseTrim(text: string): string {
  const chars = Array.from(text);
  let end = chars.length;
  while (end > 0 && isSpace(chars[end - 1]!)) end--;
  return chars.slice(0, end).join('');
}

interface Directives {
  escape: string;
  continuation: RegExp;
}

function escapeRegExp(ch: string): string {
  return ch.replace(/[\\^$.*+?()[\]{}|`]/g, '\\$&');
}

function directives(token: string): Directives {
  const e = escapeRegExp(token);
  return { escape: token, continuation: new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`) };
}

/** Splits `rest` into words, keeping quotes (parseWords in line_parsers.go). */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let word = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue; // an escape at the very end is dropped
        // Outside quotes the escape and the character after it (even a quote) stay together.
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    // In quotes.
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `KEY=value …` pairs or the legacy `KEY value` (parseNameVal). */
function parseNameVal(rest: string, keyword: string, escapeToken: string, line: number): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const parts = rest.split(WHITESPACE);
    if (parts.length < 2) parseError(line, `${keyword} must have two arguments`, rest);
    const [key] = parts;
    const value = rest.slice(rest.search(WHITESPACE)).replace(/^[\t\v\f\r ]+/, '');
    return [key!, value, ''];
  }
  const out: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq === -1) {
      parseError(
        line,
        `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
        word,
      );
    }
    out.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return out;
}

/** A JSON array of strings, or undefined when `rest` is not one; an array of non-strings is an error. */
function parseJson(rest: string, line: number): string[] | undefined {
  const trimmed = trimLeft(rest);
  if (!trimmed.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const strings: string[] = [];
  for (const item of parsed) {
    if (typeof item !== 'string') {
      parseError(line, 'when using JSON array syntax, arrays must be comprised of strings only', rest);
    }
    strings.push(item);
  }
  return strings;
}

interface Parsed {
  args: string[];
  json: boolean;
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE);
}

/** The arguments of one keyword, as BuildKit's dispatch table splits them. */
function parseArgs(keyword: string, rest: string, d: Directives, line: number): Parsed {
  const json = (): Parsed | undefined => {
    const parsed = parseJson(rest, line);
    return parsed === undefined ? undefined : { args: parsed, json: true };
  };
  switch (keyword) {
    case 'add':
    case 'copy':
    case 'volume':
      return json() ?? { args: splitWhitespace(rest), json: false };
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell':
      if (rest === '') return { args: [], json: false };
      return json() ?? { args: [rest], json: false };
    case 'env':
    case 'label':
      return { args: parseNameVal(rest, keyword.toUpperCase(), d.escape, line), json: false };
    case 'arg':
      return { args: parseWords(rest, d.escape), json: false };
    case 'expose':
    case 'from':
      return { args: splitWhitespace(rest), json: false };
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      return { args: rest === '' ? [] : [rest], json: false };
    case 'healthcheck': {
      // The type word (CMD, NONE), then the command as for CMD.
      const match = /^(\S*)\s*([\s\S]*)$/.exec(rest)!;
      if (match[1] === '') return { args: [], json: false };
      const sub = match[2]!;
      if (sub === '') return { args: [match[1]!], json: false };
      const parsed = parseJson(sub, line);
      return parsed === undefined
        ? { args: [match[1]!, sub], json: false }
        : { args: [match[1]!, ...parsed], json: true };
    }
    default:
      return { args: [], json: false };
  }
}

/** `--flag` words before the arguments (extractBuilderFlags); returns the flags and the rest. */
function extractFlags(line: string, escapeToken: string): [string[], string] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = line[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return [words, line.slice(pos)];
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return [words, line.slice(pos)];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escapeToken) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escapeToken) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return [words, ''];
}

function newNode(text: string, d: Directives, startLine: number, endLine: number): Node {
  const trimmed = trimSpace(text);
  const space = trimmed.search(WHITESPACE);
  const keyword = space === -1 ? trimmed : trimmed.slice(0, space);
  let flags: string[] = [];
  let rest = '';
  if (space !== -1) {
    const [f, r] = extractFlags(trimmed.slice(space).replace(/^[\t\v\f\r ]+/, ''), d.escape);
    flags = f;
    rest = trimSpace(r);
  }
  const lower = keyword.toLowerCase();
  const base = { keyword, flags, heredocs: [], original: text, startLine, endLine };
  if (lower === 'onbuild') {
    const child = rest === '' ? undefined : newNode(rest, d, startLine, endLine);
    return { ...base, args: rest === '' ? [] : [rest], json: false, ...(child ? { child } : {}) };
  }
  return { ...base, ...parseArgs(lower, rest, d, startLine) };
}

/** The heredoc a word like `<<EOF` or `3<<-"END"` opens, if it is one (ParseHeredoc). */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC.exec(word);
  if (!match || match[3] === '') return undefined;
  const rest = match[3]!;
  const env = new Map<string, string>();
  const words = processWords(rest, env, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, env, { skipUnsetEnv: true, rawQuotes: true });
  const quotes = (w: string) => (w.match(/['"]/g) ?? []).length;
  // A quote anywhere in the delimiter (`<<"EOF"`, `<<'EOF'`) turns expansion of the body off.
  return { name: words[0]!, expand: quotes(words[0]!) === quotes(raw[0]!), chomp: match[2] === '-' };
}

function heredocsOf(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = processWords(line, new Map(), { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    words = [];
  }
  return words.map(parseHeredocWord).filter((h): h is Omit<Heredoc, 'content'> => h !== undefined);
}

/** `<<-` bodies lose the tabs that start each line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

function canContainHeredoc(node: Node): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_KEYWORDS.has(target.keyword.toLowerCase()) && !target.json;
}

/** Lines split as bufio's scanner with lines kept: each ends with its `\n` (except maybe the last). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function isComment(line: string): boolean {
  return trimLeft(line).startsWith('#');
}

/** Parses a Dockerfile into instruction nodes, as BuildKit's parser.Parse. */
export function parseSyntax(text: string): { nodes: Node[]; escape: string } {
  let d = directives('\\');
  const lines = splitLines(text);
  const nodes: Node[] = [];
  let directivesDone = false;
  const seenDirectives = new Set<string>();
  let current = 0;
  let index = 0;

  // Parser directives (`# escape=`` ` ...) are read only before anything else.
  const directive = (line: string): boolean => {
    if (directivesDone) return false;
    if (!line.startsWith('#')) {
      directivesDone = true;
      return false;
    }
    const match = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(trimLeft(line.slice(1)));
    const name = match?.[1]?.toLowerCase();
    if (!match || (name !== 'syntax' && name !== 'escape' && name !== 'check')) {
      directivesDone = true;
      return false;
    }
    if (seenDirectives.has(name))
      parseError(current + 1, `only one ${name} parser directive can be used`, line);
    seenDirectives.add(name);
    if (name === 'escape') {
      const value = match[2]!;
      if (value !== '`' && value !== '\\') {
        parseError(current + 1, `invalid escape token '${value}' does not match \` or \\`, line);
      }
      d = directives(value);
    }
    return true;
  };

  const processLine = (raw: string, stripLeft: boolean): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeft(token);
    directive(token);
    return isComment(token) ? '' : token;
  };

  const trimContinuation = (line: string): [string, boolean] => {
    if (d.continuation.test(line)) return [line.replace(d.continuation, '$1'), false];
    return [line, true];
  };

  while (index < lines.length) {
    let raw = lines[index++]!;
    if (current === 0) raw = raw.replace(/^\ufeff/, '');
    let bytes = processLine(raw, true);
    current++;
    const startLine = current;
    let endOfLine: boolean;
    [bytes, endOfLine] = trimContinuation(bytes);
    if (endOfLine && bytes.length === 0) continue;
    let buf = bytes;
    while (!endOfLine && index < lines.length) {
      const nextRaw = lines[index++]!;
      const next = processLine(nextRaw, false);
      current++;
      if (isComment(nextRaw)) continue;
      if (trimLeft(trimNewline(next)).length === 0) continue; // empty continuation line
      let part: string;
      [part, endOfLine] = trimContinuation(next);
      buf += part;
    }
    const node = newNode(buf, d, startLine, current);
    if (canContainHeredoc(node) && buf.includes('<<')) {
      for (const heredoc of heredocsOf(buf)) {
        let content = '';
        let terminated = false;
        while (index < lines.length) {
          const bodyLine = lines[index++]!;
          current++;
          let candidate = trimNewline(bodyLine);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += bodyLine;
        }
        if (!terminated) parseError(startLine, 'unterminated heredoc', buf);
        node.heredocs.push({ ...heredoc, content });
      }
      node.endLine = current;
    }
    nodes.push(node);
  }
  if (nodes.length === 0) {
    const message = text.trim() === '' ? 'the Dockerfile cannot be empty' : 'file with no instructions';
    throw new BuildError(message, { input: text });
  }
  return { nodes, escape: d.escape };
}
