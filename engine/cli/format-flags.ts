// The `--format` flag as Docker's commands declare it: inspect-style commands take `-f` and a
// template or `json`; list commands take no short form and also `table`.

import type { FlagSpec } from './args.ts';

export const INSPECT_FORMAT_FLAG: FlagSpec = {
  name: 'format',
  short: 'f',
  type: 'string',
  description: "Format output using a custom template: 'json', or a Go template",
};

export const LIST_FORMAT_FLAG: FlagSpec = {
  name: 'format',
  type: 'string',
  description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'",
};
