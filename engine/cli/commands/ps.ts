// `layerlab ps`: the container table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES),
// with Docker's --filter, --format, -n/-l, -q.
import { type ContainerRow, listContainers, sizeText, statusText } from '../../container/views.ts';
import type { EngineContext } from '../../context.ts';
import { InvalidArgumentError, NotFoundError } from '../../errors.ts';
import { ago, ellipsis, goQuote } from '../../format/text.ts';
import { isFrozen } from '../../host/cgroups.ts';
import { type Digest, isDigest } from '../../oci/digest.ts';
import { getImageRecord, resolveImageId } from '../../store/images.ts';
import { bool, int, list, str } from '../args.ts';
import type { Command } from '../cli.ts';
import { type Filters, matchLabels, parseFilters } from '../filters.ts';
import { LIST_FORMAT_FLAG } from '../format-flags.ts';
import { formatList, goTime, type ListFormat, type RowContext } from '../formatter.ts';

const FILTERS = ['id', 'name', 'label', 'exited', 'status', 'ancestor', 'before', 'since'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export const PS_FORMAT: ListFormat = {
  defaultTable:
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  headers: {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Command: 'COMMAND',
    CreatedAt: 'CREATED AT',
    RunningFor: 'CREATED',
    Ports: 'PORTS',
    State: 'STATE',
    Status: 'STATUS',
    Size: 'SIZE',
    Names: 'NAMES',
    Labels: 'LABELS',
    Label: 'LABEL',
    Mounts: 'MOUNTS',
    Networks: 'NETWORKS',
    LocalVolumes: 'LOCAL VOLUMES',
  },
};

/** A row as `ps` shows it: the engine's row plus whether its processes are frozen (`pause`). */
type PsRow = ContainerRow & { paused: boolean };

export const command: Command = {
  spec: {
    name: 'ps',
    usage: '[OPTIONS]',
    description: 'List containers',
    maxArgs: 0,
    aliases: ['container ls', 'container list', 'container ps'],
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Show all containers (default shows just running)',
      },
      {
        name: 'filter',
        short: 'f',
        type: 'list',
        valueName: 'filter',
        description: 'Filter output based on conditions provided',
      },
      LIST_FORMAT_FLAG,
      {
        name: 'last',
        short: 'n',
        type: 'int',
        description: 'Show n last created containers (includes all states)',
      },
      {
        name: 'latest',
        short: 'l',
        type: 'bool',
        description: 'Show the latest created container (includes all states)',
      },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
      { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      {
        name: 'external',
        type: 'bool',
        description: "Show containers created by builds (Layerlab's `layerlab build`)",
      },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const filters = parseFilters('ps', list(parsed, 'filter'), FILTERS);
    for (const status of filters.get('status') ?? []) {
      if (!STATUSES.includes(status))
        throw new InvalidArgumentError(`invalid filter 'status=${status}'`, status);
    }
    const last = bool(parsed, 'latest') ? 1 : (int(parsed, 'last') ?? -1);
    // A template that reads .Size, or marshals the whole row (`json`, `{{json .}}`: Docker 20.10 prints
    // its Size as `0B (virtual 1.98MB)` then), asks for the sizes, as Docker's ps does.
    const formatText = str(parsed, 'format') ?? '';
    const size =
      bool(parsed, 'size') ||
      /\.Size\b/.test(formatText) ||
      formatText.trim() === 'json' ||
      /\{\{-?\s*json\s+\.\s*-?\}\}/.test(formatText);
    const noTrunc = bool(parsed, 'no-trunc');
    // Docker: -n, -l and the exited and status filters (other than running) look at every container.
    const all =
      bool(parsed, 'all') ||
      last > 0 ||
      filters.has('exited') ||
      (filters.get('status') ?? []).some((s) => s !== 'running');
    const listed = await listContainers(ctx, { all, size, external: bool(parsed, 'external') });
    let rows: PsRow[] = await shownImages(
      ctx,
      listed.map((row) => ({
        ...row,
        paused: row.status === 'running' && isFrozen(row.id),
      })),
    );
    rows = await applyFilters(ctx, rows, filters, listed);
    if (last > 0) rows = rows.slice(0, last);
    if (bool(parsed, 'quiet')) {
      cli.stdout.write(rows.map((r) => `${noTrunc ? r.id : r.id.slice(0, 12)}\n`).join(''));
      return 0;
    }
    const now = Date.now();
    let format = str(parsed, 'format');
    if (!format && size) format = `${PS_FORMAT.defaultTable}\t{{.Size}}`;
    cli.stdout.write(
      formatList(
        format,
        rows.map((r) => psContext(r, { noTrunc, size, now })),
        PS_FORMAT,
      ),
    );
    return 0;
  },
};

/**
 * The image as Docker's ps names it (moby daemon/list.go, refreshImage): the name the container was
 * made from while it still means the container's image; once that tag moved or went (`rmi -f`,
 * `tag` over it), the image's id.
 */
async function shownImages(ctx: EngineContext, rows: PsRow[]): Promise<PsRow[]> {
  const current = new Map<string, Promise<Digest | undefined>>();
  const out: PsRow[] = [];
  for (const row of rows) {
    let resolved = current.get(row.image);
    if (!resolved) {
      resolved = resolveImageId(ctx, row.image).catch(() => undefined);
      current.set(row.image, resolved);
    }
    out.push((await resolved) === row.imageId ? row : { ...row, image: row.imageId });
  }
  return out;
}

/** Docker's STATUS for a row, "(Paused)" added to a frozen one. */
function status(row: PsRow, now: number): string {
  const text = statusText(row, now);
  return row.paused ? `${text} (Paused)` : text;
}

/** The fields of Docker's ContainerContext, for templates. */
export function psContext(row: PsRow, opts: { noTrunc: boolean; size: boolean; now: number }): RowContext {
  const labels = Object.entries(row.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    ID: opts.noTrunc ? row.id : row.id.slice(0, 12),
    // An image shown by its id is cut as IDs are (docker/cli ContainerContext.Image).
    Image: !opts.noTrunc && /^sha256:[a-f0-9]{64}$/.test(row.image) ? row.image.slice(7, 19) : row.image,
    Command: goQuote(opts.noTrunc ? row.command : ellipsis(row.command, 20)),
    CreatedAt: goTime(row.created),
    RunningFor: ago(row.created, opts.now),
    Ports: '',
    State: row.paused ? 'paused' : row.status,
    Status: status(row, opts.now),
    Size: opts.size ? sizeText(row) : '0B',
    Names: row.name,
    Labels: labels,
    Label: (name) => (typeof name === 'string' ? (row.labels[name] ?? '') : ''),
    Mounts: '',
    Networks: 'none',
    LocalVolumes: '0',
  };
}

async function applyFilters(
  ctx: EngineContext,
  rows: PsRow[],
  filters: Filters,
  everything: readonly ContainerRow[],
): Promise<PsRow[]> {
  if (filters.size === 0) return rows;
  const createdOf = (ref: string, key: string): string => {
    const found =
      everything.find((r) => r.id === ref || r.name === ref.replace(/^\//, '')) ??
      (/^[a-f0-9]+$/.test(ref) ? everything.find((r) => r.id.startsWith(ref)) : undefined);
    if (!found) throw new NotFoundError(`No such container: ${ref}`, `${key}=${ref}`);
    return found.created;
  };
  const before = (filters.get('before') ?? []).map((ref) => createdOf(ref, 'before'));
  const since = (filters.get('since') ?? []).map((ref) => createdOf(ref, 'since'));
  const exited = (filters.get('exited') ?? []).map((code) => {
    if (!/^-?\d+$/.test(code)) throw new InvalidArgumentError(`invalid filter 'exited=${code}'`, code);
    return Number(code);
  });
  const ancestors = await Promise.all(
    (filters.get('ancestor') ?? []).map((ref) => resolveImageId(ctx, ref).catch(() => undefined)),
  );
  const result: PsRow[] = [];
  for (const row of rows) {
    const state = row.paused ? 'paused' : row.status;
    const ok =
      anyOf(filters, 'id', (v) => row.id.startsWith(v)) &&
      anyOf(filters, 'name', (v) => nameMatches(v, row.name)) &&
      anyOf(filters, 'status', (v) => v === state) &&
      (exited.length === 0 || (row.status === 'exited' && exited.includes(row.exitCode))) &&
      matchLabels(filters, row.labels) &&
      before.every((t) => row.created < t) &&
      since.every((t) => row.created > t) &&
      (!filters.has('ancestor') ||
        (isDigest(row.imageId) && (await descendsFrom(ctx, row.imageId, ancestors))));
    if (ok) result.push(row);
  }
  return result;
}

/** True when no value is given for `key`, or `test` holds for one of them. */
function anyOf(filters: Filters, key: string, test: (value: string) => boolean): boolean {
  const values = filters.get(key);
  return !values || values.some(test);
}

/** Docker matches names as a regular expression against `/name`; a bad pattern matches as text. */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(`/${name}`);
  } catch {
    return `/${name}`.includes(pattern);
  }
}

/** Whether `image` is one of `ancestors` or was built on one (the image records' parent chain). */
async function descendsFrom(
  ctx: EngineContext,
  image: Digest,
  ancestors: readonly (Digest | undefined)[],
): Promise<boolean> {
  const wanted = new Set(ancestors.filter((a): a is Digest => a !== undefined));
  let current: Digest | undefined = image;
  const seen = new Set<Digest>();
  while (current !== undefined && !seen.has(current)) {
    if (wanted.has(current)) return true;
    seen.add(current);
    current = await getImageRecord(ctx, current).then(
      (r) => r.parent,
      () => undefined,
    );
  }
  return false;
}
