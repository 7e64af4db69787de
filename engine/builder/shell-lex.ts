// Docker's Dockerfile word processing: a port of BuildKit's frontend/dockerfile/shell/lex.go, which
// both of Docker's builders use for quotes, escapes and `$VAR` / `${VAR…}` in FROM, COPY, ENV, LABEL,
// WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL and ARG. Kept line for line close to the Go source so a
// difference from Docker is a bug here, not a design choice.

import { BuildError } from '../errors.ts';

const EOF = -1;

/** What `$NAME` looks up: the stage's ARGs and ENV as the instruction starts. */
export type Env = ReadonlyMap<string, string>;

export interface LexOptions {
  /** `\` by default; `` ` `` with the `# escape=`` ` directive. */
  escapeToken?: string;
  /** Keep the quote characters in the result (used to find quoted heredoc delimiters). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters (heredoc bodies of `COPY <<EOF`). */
  skipProcessQuotes?: boolean;
  /** `$UNSET` stays `$UNSET` instead of becoming empty. */
  skipUnsetEnv?: boolean;
}

/** An error of the lexer, with Docker's text (`failed to process "${A": syntax error: missing '}'`). */
class LexError extends Error {}

// Go's unicode.IsSpace: ASCII whitespace, U+0085, U+00A0 and the Z category.
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

function isSpace(ch: string): boolean {
  return SPACE.test(ch);
}

function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch);
}

class Scanner {
  private pos = 0;
  private readonly chars: string[];
  constructor(text: string) {
    this.chars = Array.from(text);
  }
  peek(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  next(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }
}

class Words {
  buf = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(str: string): void {
    for (const ch of str) this.addChar(ch);
  }
  addRawString(str: string): void {
    this.buf += str;
    this.inWord = true;
  }
  getWords(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly scanner: Scanner;
  private rawEscapes: boolean;
  private readonly escape: string;
  private readonly env: Env;
  private readonly opts: LexOptions;
  constructor(word: string, env: Env, opts: LexOptions) {
    this.env = env;
    this.opts = opts;
    this.scanner = new Scanner(word);
    this.rawEscapes = opts.rawEscapes ?? false;
    this.escape = opts.escapeToken ?? '\\';
  }

  processStopOn(stopChar: string | typeof EOF, rawEscapes: boolean): [string, string[]] {
    let result = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      for (let ch = this.scanner.peek(); ch !== EOF; ch = this.scanner.peek()) {
        if (stopChar !== EOF && ch === stopChar) {
          this.scanner.next();
          return [result, words.getWords()];
        }
        const special = this.special(ch);
        if (special) {
          const tmp = special();
          result += tmp;
          if (ch === '$') words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        let c = this.scanner.next() as string;
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          // The escape character escapes anything, except the end of the word.
          const escaped = this.scanner.next();
          if (escaped === EOF) break;
          c = escaped;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
      if (stopChar !== EOF) {
        throw new LexError(`unexpected end of statement while looking for matching ${stopChar}`);
      }
      return [result, words.getWords()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  private special(ch: string): (() => string) | undefined {
    if (ch === '$') return () => this.processDollar();
    if (ch === '<') return () => this.processPossibleHeredoc();
    if (this.opts.skipProcessQuotes) return undefined;
    if (ch === "'") return () => this.processSingleQuote();
    if (ch === '"') return () => this.processDoubleQuote();
    return undefined;
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let result = '';
    const open = this.scanner.next() as string;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.scanner.next();
      if (ch === EOF)
        throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except `$…`; the escape character quotes only `"`, `$` and itself.
    let result = '';
    const open = this.scanner.next() as string;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const peek = this.scanner.peek();
      if (peek === EOF) {
        throw new LexError('unexpected end of statement while looking for matching double-quote');
      }
      if (peek === '"') {
        const ch = this.scanner.next() as string;
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      if (peek === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.scanner.next() as string;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.scanner.peek();
        if (after === EOF) continue; // a lone escape at the end of the word is dropped
        if (after === '"' || after === '$' || after === this.escape) ch = this.scanner.next() as string;
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.scanner.next();
    if (this.scanner.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.opts.skipUnsetEnv) return `$${name}`;
      return value;
    }
    this.scanner.next();
    const first = this.scanner.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.scanner.next();
    // Go's string(EOF) is U+FFFD, which shows in Docker's message for `${A`.
    let chs = ch === EOF ? '\ufffd' : ch;
    let nullIsUnset = false;
    switch (ch) {
      case '}': {
        const [value, set] = this.getEnv(name);
        if (!set && this.opts.skipUnsetEnv) return `\${${name}}`;
        return value;
      }
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        if (ch === ':') {
          nullIsUnset = true;
          ch = this.scanner.next();
          chs += ch === EOF ? '\ufffd' : ch;
        }
        const raw = ch === '#' || ch === '%';
        if (nullIsUnset && raw) throw new LexError(`unsupported modifier (${chs}) in substitution`);
        let word: string;
        try {
          [word] = this.processStopOn('}', raw);
        } catch (err) {
          if (this.scanner.peek() === EOF) throw new LexError("syntax error: missing '}'");
          throw err;
        }
        const [value, set] = this.getEnv(name);
        if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
        switch (ch) {
          case '-':
            return !set || (nullIsUnset && value === '') ? word : value;
          case '+':
            return !set || (nullIsUnset && value === '') ? '' : word;
          case '?':
            if (!set) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
            if (nullIsUnset && value === '')
              throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
            return value;
          case '%':
          case '#': {
            // %/# remove the shortest match, %%/## the longest.
            const greedy = word.length > 0 && word[0] === ch;
            const pattern = greedy ? word.slice(1) : word;
            return ch === '%' ? trimSuffix(pattern, value, greedy) : trimPrefix(pattern, value, greedy);
          }
          default:
            throw new LexError(`unsupported modifier (${chs}) in substitution`);
        }
      }
      case '/': {
        const replaceAll = this.scanner.peek() === '/';
        if (replaceAll) this.scanner.next();
        let pattern: string;
        let replacement: string;
        try {
          [pattern] = this.processStopOn('/', true);
        } catch (err) {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Docker's message names the syntax
          if (this.scanner.peek() === EOF) throw new LexError("syntax error: missing '/' in ${}");
          throw err;
        }
        try {
          [replacement] = this.processStopOn('}', true);
        } catch (err) {
          if (this.scanner.peek() === EOF) throw new LexError("syntax error: missing '}'");
          throw err;
        }
        const [value, set] = this.getEnv(name);
        if (this.opts.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
        const re = shellPatternToRegex(pattern, true, false, replaceAll);
        // A function keeps `$` in the replacement literal.
        return replaceAll ? value.replace(re, () => replacement) : value.replace(re, () => replacement);
      }
      default:
        throw new LexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  private processName(): string {
    // A name is letters, digits and _; a leading digit reads all digits ($10); $@, $* … are one char.
    let name = '';
    for (let ch = this.scanner.peek(); ch !== EOF; ch = this.scanner.peek()) {
      if (name.length === 0 && DIGIT.test(ch)) {
        for (let d = this.scanner.peek(); d !== EOF && DIGIT.test(d); d = this.scanner.peek()) {
          name += this.scanner.next();
        }
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.scanner.next() as string;
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.scanner.next();
    }
    return name;
  }

  private processPossibleHeredoc(): string {
    this.scanner.next();
    if (this.scanner.peek() !== '<') return '<';
    this.scanner.next();
    // `<<  EOF`: the blanks after << stay with it, so the word is one heredoc marker.
    let space = '';
    for (let ch = this.scanner.peek(); ch === '\t' || ch === '\r' || ch === ' '; ch = this.scanner.peek()) {
      space += this.scanner.next();
    }
    return `<<${space}`;
  }

  private getEnv(name: string): [string, boolean] {
    const value = this.env.get(name);
    return value === undefined ? ['', false] : [value, true];
  }
}

/** Shell wildcards (`?`, `*`) as a regular expression, as lex.go's convertShellPatternToRegex. */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i]!;
    if (tok === '*') {
      out += greedy ? '.*' : '.*?';
      continue;
    }
    if (tok === '?') {
      out += '.';
      continue;
    }
    if (tok === '\\') {
      // `\}` and `\/` inside ${} are escapes of the syntax, not of the pattern.
      const peek = chars[i + 1];
      if (peek === '}' || peek === '/') continue;
      out += '\\';
      tok = chars[++i] ?? '';
      if (tok !== '*' && tok !== '?' && tok !== '\\') {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${tok}'`);
      }
    } else if ('[]{}.+()|^$'.includes(tok)) {
      out += '\\';
    }
    out += tok;
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match ? value.slice(match.index + match[0].length) : value;
}

/** Reverses a pattern without reversing its escapes (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = runes[i]!;
    const at = last - i;
    if (tok === '\\' && i !== last) {
      out[at - 1] = tok;
      out[at] = runes[i + 1]!;
      i += 2;
    } else {
      out[at] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverse(text: string): string {
  return Array.from(text).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // The shortest rightmost match is the shortest leftmost match of the reversed strings.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function run(word: string, env: Env, opts: LexOptions): [string, string[]] {
  try {
    const sw = new ShellWord(word, env, opts);
    return sw.processStopOn(EOF, opts.rawEscapes ?? false);
  } catch (err) {
    if (err instanceof LexError) {
      throw new BuildError(`failed to process ${JSON.stringify(word)}: ${err.message}`, {
        input: word,
        cause: err,
      });
    }
    throw err;
  }
}

/** One word with quotes removed and variables replaced (spaces kept), as Docker's ProcessWord. */
export function processWord(word: string, env: Env, opts: LexOptions = {}): string {
  return run(word, env, opts)[0];
}

/** The word split into fields after expansion, quotes respected, as Docker's ProcessWords. */
export function processWords(word: string, env: Env, opts: LexOptions = {}): string[] {
  return run(word, env, opts)[1];
}
