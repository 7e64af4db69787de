// The part of Go templates `inspect -f` is used with in lessons: `{{.State.ExitCode}}`,
// `{{.Config.Cmd}}`, `{{json .RootFS.Layers}}`, and literal text around them.

import { InvalidArgumentError } from '../errors.ts';

/** Renders `template` against `value`; unknown syntax is refused rather than guessed at. */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    const json = /^json\s+(\S+)$/.exec(expression);
    const path = json ? json[1]! : expression;
    if (!/^\.(?:[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)?$/.test(path)) {
      throw new InvalidArgumentError(
        `template: unsupported expression {{${expression}}}: Layerlab supports {{.Field.Path}} and {{json .Field}}`,
        template,
      );
    }
    let current: unknown = value;
    for (const key of path.split('.').filter(Boolean)) {
      if (current === null || typeof current !== 'object' || !(key in current)) {
        if (json) return 'null';
        throw new InvalidArgumentError(`template: map has no entry for key "${key}"`, template);
      }
      current = (current as Record<string, unknown>)[key];
    }
    return json ? JSON.stringify(current) : goPrint(current);
  });
}

/** Go's `%v` for the values inspect holds: `[a b]` for lists, `map[k:v]` for objects, `<nil>` for null. */
function goPrint(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goPrint).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, v]) => `${k}:${goPrint(v)}`).join(' ')}]`;
  }
  return String(value);
}
