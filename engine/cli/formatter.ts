// Docker's `--format` for list commands (ps, images, history, stats): `table` (the default columns),
// `table TEMPLATE` (a header row from the column names, then the rows, laid out by tabwriter),
// `json` (one JSON object per row) or a bare template (one rendering per row). As in Docker's
// formatter, the literal two-character escapes `\t` and `\n` in the format become a tab and a newline.

import { formatTable } from '../format/text.ts';
import { HEADER_FUNCTIONS, MARSHALLED_AS_MAP, parseTemplate, type TemplateFunction } from './template.ts';

/** One row as a template sees it: Docker's field names; a function is a method with arguments. */
export type RowContext = Readonly<Record<string, string | TemplateFunction>>;

export interface ListFormat {
  /** Docker's default table template for the command (`table {{.ID}}\t{{.Image}}…`). */
  readonly defaultTable: string;
  /** Field name → column header (`ID` → `CONTAINER ID`). */
  readonly headers: Readonly<Record<string, string>>;
}

/** Docker's escape replacement and `table` prefix handling (formatter.Context.preFormat). */
function prepare(format: string, list: ListFormat): { table: boolean; template: string } {
  let text = format;
  let table = false;
  if (text === 'table' || text.startsWith('table ')) {
    table = true;
    text = text === 'table' ? list.defaultTable.slice('table '.length) : text.slice('table '.length);
  }
  if (text.trim() === 'json') text = '{{json .}}';
  text = text.trim().replaceAll('\\t', '\t').replaceAll('\\n', '\n');
  return { table, template: text };
}

/** Renders `rows` with `format` (undefined or empty: the default table). */
export function formatList(
  format: string | undefined,
  rows: readonly RowContext[],
  list: ListFormat,
): string {
  const { table, template } = prepare(format ? format : list.defaultTable, list);
  const tmpl = parseTemplate(template);
  const rendered = rows.map((row) => tmpl.execute({ ...row, [MARSHALLED_AS_MAP]: true }));
  if (!table) return rendered.map((r) => `${r}\n`).join('');
  const header: Record<string, string | TemplateFunction> = {};
  for (const [field, name] of Object.entries(list.headers)) header[field] = name;
  // A method's column (`{{.Label "k"}}`) is headed by its name, whatever the argument.
  for (const [field, value] of Object.entries(rows[0] ?? {})) {
    if (typeof value === 'function') header[field] = () => list.headers[field] ?? field.toUpperCase();
  }
  const headerTmpl = parseTemplate(template, { funcs: HEADER_FUNCTIONS });
  const lines = [headerTmpl.execute(header), ...rendered].flatMap((r) => r.split('\n'));
  return tabwrite(lines);
}

/** Go's tabwriter as Docker configures it (min width 10, padding 3): tab-terminated cells align. */
export function tabwrite(lines: readonly string[]): string {
  const cells = lines.map((line) => line.split('\t'));
  return formatTable(null, cells);
}

/** Go's `time.Time.String()` in UTC, as Docker prints CreatedAt: `2024-05-01 12:00:00 +0000 UTC`. */
export function goTime(iso: string | undefined): string {
  const t = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(t)) return '0001-01-01 00:00:00 +0000 UTC';
  return `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}
