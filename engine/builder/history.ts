// How BuildKit's Dockerfile frontend (dockerfile2llb, Docker's default builder) words an instruction in
// the image's history: Go's fmt verbs over the instruction's values (`CMD ["sh" "-c" "x"]`,
// `EXPOSE map[80/tcp:{}]`, `HEALTHCHECK &{…}`), reproduced here so `docker history` reads the same.
// The classic builder's `/bin/sh -c #(nop) …` form stays in build.ts, where the steps are made.

import type { Healthcheck } from './dockerfile.ts';

/** The `comment` of every history entry dockerfile2llb writes (its historyComment). */
export const BUILDKIT_HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** The builder whose history text (and WORKDIR layers) a build follows. */
export type HistoryStyle = 'buildkit' | 'classic';

const SHORT_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  11: '\\v',
};

/** Go's unicode.IsPrint, close enough: letters, marks, numbers, punctuation, symbols and ASCII space. */
function isPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/** One character as Go's strconv.Quote and QuoteRune escape it (`quote` is the delimiter). */
function escapeChar(ch: string, quote: '"' | "'"): string {
  const code = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (isPrint(ch)) return ch;
  const short = SHORT_ESCAPES[code];
  if (short !== undefined) return short;
  if (code < 0x20 || code === 0x7f) return `\\x${hex(code, 2)}`;
  return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
}

/** Go's `%q` of a string (strconv.Quote). */
export function goQuote(text: string): string {
  return `"${Array.from(text, (ch) => escapeChar(ch, '"')).join('')}"`;
}

/** Go's `%q` of an integer: the character of that code point, single-quoted (strconv.QuoteRune). */
export function goQuoteRune(code: number): string {
  const valid =
    Number.isInteger(code) && code >= 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
  return `'${escapeChar(String.fromCodePoint(valid ? code : 0xfffd), "'")}'`;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** Go's `%v` of a []string: `[a b]`. */
export function goList(list: readonly string[]): string {
  return `[${list.join(' ')}]`;
}

/** A fraction of a unit as Go prints it: trailing zeros dropped (`1.5`, `2`). */
function fraction(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const rest = (value % unit)
    .toString()
    .padStart(unit.toString().length - 1, '0')
    .replace(/0+$/, '');
  return rest === '' ? whole.toString() : `${whole}.${rest}`;
}

/** Go's time.Duration.String() of a number of nanoseconds (`0s`, `500ms`, `1m30s`, `1h0m0s`). */
export function goDuration(nanoseconds: number): string {
  let ns = BigInt(Math.trunc(nanoseconds));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  if (ns < 1_000n) return `${sign}${ns}ns`;
  if (ns < 1_000_000n) return `${sign}${fraction(ns, 1_000n)}µs`;
  if (ns < 1_000_000_000n) return `${sign}${fraction(ns, 1_000_000n)}ms`;
  const second = 1_000_000_000n;
  const hours = ns / (3600n * second);
  const minutes = (ns / (60n * second)) % 60n;
  const seconds = fraction(ns % (60n * second), second);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/**
 * `HEALTHCHECK %q` of Docker 20.10's HealthConfig pointer: `&{["CMD" "true"] "0s" "0s" "0s" '\x00'}`
 * (test, interval, timeout, start period, retries — unset ones zero).
 */
export function healthcheckHistory(health: Healthcheck): string {
  const fields = [
    goQuoteList(health.Test ?? []),
    goQuote(goDuration(health.Interval ?? 0)),
    goQuote(goDuration(health.Timeout ?? 0)),
    goQuote(goDuration(health.StartPeriod ?? 0)),
    goQuoteRune(health.Retries ?? 0),
  ];
  return `HEALTHCHECK &{${fields.join(' ')}}`;
}

/** `EXPOSE %v` of the ports this instruction names: a Go map, its keys sorted (`map[80/tcp:{}]`). */
export function exposeHistory(ports: readonly string[]): string {
  const keys = [...new Set(ports)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `EXPOSE map[${keys.map((k) => `${k}:{}`).join(' ')}]`;
}

/** What commitToHistory appends to the steps that change files through an LLB state (RUN, COPY, ADD). */
export function withBuildkitMark(text: string): string {
  return `${text} # buildkit`;
}
