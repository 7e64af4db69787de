// Splits a command line into words as a POSIX shell would for the subset this prompt supports:
// '…', "…" and backslash quoting. Operators (pipes, redirection, lists) are refused with a clear
// message, since only the CLI runs here; `$VAR` stays literal (there are no variables to expand).

export type SplitResult = { ok: true; words: string[] } | { ok: false; error: string };

/** Characters that start a shell operator when unquoted. */
const OPERATORS = new Set(['|', '>', '<', '&', ';', '`']);

export const UNSUPPORTED_HINT =
  "this prompt runs one command at a time; pipes, redirection and lists work in a container's shell: docker run -it busybox sh";

/** The words of a whole line, or why it cannot be run here. */
export function splitWords(line: string): SplitResult {
  const scan = scanWords(line);
  if (scan.operator) {
    return { ok: false, error: `\`${scan.operator}\` is not supported here: ${UNSUPPORTED_HINT}` };
  }
  if (scan.openQuote) {
    const close = scan.openQuote === "'" ? "'" : '"';
    return { ok: false, error: `unexpected EOF while looking for matching \`${close}'` };
  }
  const words = scan.current === undefined ? scan.words : [...scan.words, scan.current];
  return { ok: true, words };
}

export interface PartialLine {
  /** The finished words before the one under the cursor. */
  words: string[];
  /** The word being typed, unquoted (`''` when the cursor follows a space). */
  current: string;
  /** The quote the word is open in, if any: a completion closes it. */
  openQuote?: "'" | '"';
}

/** The words of the text before the cursor, for completion: the last one may be unfinished. */
export function splitPartial(before: string): PartialLine {
  const scan = scanWords(before);
  return {
    words: scan.words,
    current: scan.current ?? '',
    ...(scan.openQuote ? { openQuote: scan.openQuote } : {}),
  };
}

/** Quotes `word` for this prompt when it holds anything the splitter would treat specially. */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./~^-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

interface Scan {
  words: string[];
  /** The word in progress; undefined when the text ended in whitespace (or was empty). */
  current: string | undefined;
  openQuote?: "'" | '"';
  /** The first unquoted operator, if one was found (`|`, `>>`, `&&`, …). */
  operator?: string;
}

function scanWords(line: string): Scan {
  const words: string[] = [];
  let current: string | undefined;
  let quote: "'" | '"' | undefined;
  const chars = [...line];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else current = (current ?? '') + ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && i + 1 < chars.length && '"\\$`'.includes(chars[i + 1]!)) {
        current = (current ?? '') + chars[++i]!;
      } else current = (current ?? '') + ch;
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
      current ??= '';
      continue;
    }
    if (ch === '\\') {
      current = (current ?? '') + (chars[i + 1] ?? '');
      i++;
      continue;
    }
    if (OPERATORS.has(ch)) {
      const next = chars[i + 1];
      const operator = next !== undefined && (next === ch || (ch === '>' && next === '&')) ? ch + next : ch;
      return { words, current, operator };
    }
    current = (current ?? '') + ch;
  }
  return { words, current, ...(quote ? { openQuote: quote } : {}) };
}
