// What a learner types as an answer, read as the engine would spell the value: a digest with or
// without `sha256:` (a short id of 12 or more hex digits is enough, as Docker's short ids are), a
// size with Docker's units ("4.3MB", "4300 kB", "1.9MiB", bytes), a count. Pure, with no Node
// imports: the page's <Predict> reads a predicted size with the same parser.

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** The shortest id prefix accepted: Docker's short ids are 12 hex digits. */
export const MIN_ID_PREFIX = 12;
/** Longer input than this is not an answer to any of these questions. */
export const MAX_GUESS_CHARS = 200;

/** Quotes, brackets and commas around a value copied out of `inspect`'s JSON. */
const WRAPPING = /^[\s"'`[\](){},]+|[\s"'`[\](){},]+$/g;

/** A digest or an id prefix: `sha256:abc…`, `abc…`; lower-cased hex, at least 12 digits. */
export function parseDigestGuess(text: string): Parsed<string> {
  if (text.length > MAX_GUESS_CHARS) return { ok: false, message: 'that is longer than any digest' };
  const bare = text.replace(WRAPPING, '').toLowerCase();
  const hex = bare.startsWith('sha256:') ? bare.slice('sha256:'.length) : bare;
  if (!/^[0-9a-f]+$/.test(hex)) {
    return { ok: false, message: 'a digest is sha256: followed by hex digits (0-9, a-f)' };
  }
  if (hex.length > 64) return { ok: false, message: 'a sha256 digest has 64 hex digits, no more' };
  if (hex.length < MIN_ID_PREFIX) {
    return { ok: false, message: `type at least the first ${MIN_ID_PREFIX} hex digits` };
  }
  return { ok: true, value: hex };
}

/** Whether `guess` (hex, as parseDigestGuess returns it) names the digest `truth` (`sha256:…` or hex). */
export function digestMatches(guess: string, truth: string): boolean {
  const hex = truth.startsWith('sha256:') ? truth.slice('sha256:'.length) : truth;
  return guess.length >= MIN_ID_PREFIX && hex.toLowerCase().startsWith(guess);
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * A size in bytes from "4.3MB", "4.3 mb", "4,3MB", "4300kB", "1.9MiB", "512" (bytes). Docker prints
 * decimal units (kB = 1000 B), so `MB` is 10^6 whatever its case; `MiB` is 2^20.
 */
export function parseSizeGuess(text: string): Parsed<number> {
  if (text.length > MAX_GUESS_CHARS) return { ok: false, message: 'that is not a size' };
  const m = /^\s*(\d{1,15}(?:[.,]\d{1,15})?|[.,]\d{1,15})\s*([a-z]{0,3})\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    return { ok: false, message: 'type a size with its unit, as Docker prints it: 4.3MB, 850kB, 12B' };
  }
  const value = Number(m[1]!.replace(',', '.')) * unit;
  if (!Number.isFinite(value)) return { ok: false, message: 'that is not a size' };
  return { ok: true, value };
}

/** Whether a size `guess` is within `tolerance` (a share of the truth: 0.05 is 5 %) of `truth`. */
export function sizeMatches(guess: number, truth: number, tolerance: number): boolean {
  // A size of a few bytes is compared to the byte: 5 % of 12 B is less than one.
  return Math.abs(guess - truth) <= Math.max(tolerance * truth, 0.5);
}

/** A whole number: "3", " 3 ", "3 layers". */
export function parseCountGuess(text: string): Parsed<number> {
  if (text.length > MAX_GUESS_CHARS) return { ok: false, message: 'that is not a number' };
  const m = /^\s*(\d{1,9})(?:\s+[a-z]+)?\s*$/i.exec(text);
  if (!m) return { ok: false, message: 'type a whole number, such as 3' };
  return { ok: true, value: Number(m[1]) };
}
