// Docker's text conventions in one place, for the CLI and the engine's views alike: tabwriter tables
// (min width 10, padding 3), decimal human sizes ("4.26MB"), human durations ("2 minutes"), the "…"
// truncation of long cells, and the quoting of the ps COMMAND column.

/**
 * Lays out rows as Docker's tabwriter does (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`): every
 * column but the last is padded to max(widest cell + 3, 10); the last is not padded.
 */
export function formatTable(header: readonly string[] | null, rows: readonly (readonly string[])[]): string {
  const all = header ? [header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const columns = Math.max(...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < columns - 1; c++) {
    const widest = Math.max(...all.map((r) => displayWidth(r[c] ?? '')));
    widths.push(Math.max(widest + 3, 10));
  }
  return all
    .map((row) =>
      row
        .map((cell, c) => (c < columns - 1 ? cell + ' '.repeat(widths[c]! - displayWidth(cell)) : cell))
        .join('')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** Width in terminal cells; Docker's cells are ASCII apart from "…", which is one cell wide. */
function displayWidth(text: string): number {
  return [...text].length;
}

/** Docker's `formatter.Ellipsis`: cut to `max` cells, the last one an ellipsis. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units `HumanSizeWithPrecision`: decimal units, Go's `%.*g` (`4.26MB`, `0B`, `1.2kB`). */
export function humanSize(bytes: number, precision = 4): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return goFormatG(size, precision) + DECIMAL_UNITS[unit];
}

/** Go's `%.<precision>g`: shortest of fixed and exponent form, trailing zeros dropped. */
export function goFormatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const rounded = Number(value.toPrecision(precision));
  const roundedExponent = Math.floor(Math.log10(Math.abs(rounded)));
  if (roundedExponent < -4 || roundedExponent >= precision) {
    const [mantissa, exp] = rounded.toExponential(precision - 1).split('e');
    const m = stripZeros(mantissa!);
    const e = Number(exp);
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return stripZeros(rounded.toFixed(Math.max(0, precision - 1 - roundedExponent)));
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** go-units `HumanDuration`, as in "Up 2 minutes" and "3 hours ago". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** "2 minutes ago" from an ISO timestamp; Docker prints "N/A" for a missing one. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  // Go's zero time (year 1) means unknown; the Unix epoch is a real date (reproducible builds use it).
  if (Number.isNaN(t) || t < 0) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/**
 * The command line as Docker's daemon reports it for `ps`: the path, then the arguments, each one that
 * holds a space wrapped in single quotes (`sh -c 'exit 3'`), without further escaping, as moby does.
 */
export function commandLine(path: string, args: readonly string[]): string {
  return [path, ...args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg))].join(' ');
}

/** Go's `strconv.Quote` for the printable ASCII we show (Docker quotes the ps COMMAND column). */
export function goQuote(text: string): string {
  return JSON.stringify(text).replace(/\\u007f/g, '\\x7f');
}

/** Docker's JSON for inspect: an array, four-space indent. */
export function inspectJson(values: readonly unknown[]): string {
  return `${JSON.stringify(values, null, 4)}\n`;
}
