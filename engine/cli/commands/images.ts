// `layerlab images`: the image table (REPOSITORY, TAG, IMAGE ID, CREATED, SIZE) as `docker images`,
// with Docker's --filter (dangling, reference, before, since, label), --digests and --format.
import type { EngineContext } from '../../context.ts';
import { ago, humanSize } from '../../format/text.ts';
import { type ImageRow, listImagesView } from '../../image/views.ts';
import { shortId } from '../../oci/digest.ts';
import { familiarRepository, parseReference } from '../../reference/reference.ts';
import { loadImage, resolveImageId } from '../../store/images.ts';
import { bool, list, str } from '../args.ts';
import type { Command } from '../cli.ts';
import { boolFilter, type Filters, matchLabels, parseFilters } from '../filters.ts';
import { LIST_FORMAT_FLAG } from '../format-flags.ts';
import { formatList, goTime, type RowContext } from '../formatter.ts';

const FILTERS = ['dangling', 'reference', 'before', 'since', 'label'];

const DEFAULT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const WITH_DIGESTS = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const IMAGES_HEADERS: Readonly<Record<string, string>> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export const command: Command = {
  spec: {
    name: 'images',
    usage: '[OPTIONS] [REPOSITORY[:TAG]]',
    description: 'List images',
    maxArgs: 1,
    aliases: ['image ls', 'image list'],
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Show all images (default hides intermediate images)',
      },
      { name: 'digests', type: 'bool', description: 'Show digests' },
      {
        name: 'filter',
        short: 'f',
        type: 'list',
        valueName: 'filter',
        description: 'Filter output based on conditions provided',
      },
      LIST_FORMAT_FLAG,
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const filters = parseFilters('images', list(parsed, 'filter'), FILTERS);
    const dangling = boolFilter(filters, 'dangling');
    let rows = await listImagesView(ctx, { all: bool(parsed, 'all'), danglingOnly: dangling === true });
    if (dangling === false) rows = rows.filter((r) => r.tag !== '<none>' || r.repository !== '<none>');
    const wanted = parsed.args[0];
    if (wanted !== undefined) rows = rows.filter((r) => matches(wanted, r));
    rows = await applyFilters(ctx, rows, filters);
    const noTrunc = bool(parsed, 'no-trunc');
    const id = (r: ImageRow) => (noTrunc ? r.id : shortId(r.id));
    if (bool(parsed, 'quiet')) {
      cli.stdout.write([...new Set(rows.map(id))].map((s) => `${s}\n`).join(''));
      return 0;
    }
    const now = Date.now();
    const contexts = rows.map(
      (r): RowContext => ({
        ID: id(r),
        Repository: r.repository,
        Tag: r.tag,
        Digest: r.digest,
        CreatedSince: ago(r.created, now),
        CreatedAt: goTime(r.created),
        Size: humanSize(r.size, 3),
        Containers: 'N/A',
        // docker/cli's imageContext: Size to 3 digits, VirtualSize with go-units' default 4 (`1.985MB`).
        VirtualSize: humanSize(r.size),
        SharedSize: 'N/A',
        UniqueSize: 'N/A',
      }),
    );
    const defaultTable = bool(parsed, 'digests') ? WITH_DIGESTS : DEFAULT;
    cli.stdout.write(formatList(str(parsed, 'format'), contexts, { defaultTable, headers: IMAGES_HEADERS }));
    return 0;
  },
};

/** `images busybox` lists every busybox tag; `images busybox:1` only that one. */
function matches(wanted: string, row: ImageRow): boolean {
  const ref = parseReference(wanted);
  if (familiarRepository(ref) !== row.repository) return false;
  const last = wanted.slice(wanted.lastIndexOf('/') + 1);
  return !last.includes(':') || ref.tag === row.tag;
}

/** Go's path.Match: `*` and `?` stop at `/`, `[…]` is a class; anything else is literal. */
export function pathMatch(text: string, pattern: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return false;
      source += `[${pattern.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) source += `\\${pattern[++i]}`;
    else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(`^${source}$`).test(text);
  } catch {
    return false;
  }
}

/** Docker's `reference=` filter: a glob over `repo` or `repo:tag` (familiar names). */
function referenceMatches(pattern: string, row: ImageRow): boolean {
  if (row.repository === '<none>') return false;
  return pathMatch(row.repository, pattern) || pathMatch(`${row.repository}:${row.tag}`, pattern);
}

async function applyFilters(ctx: EngineContext, rows: ImageRow[], filters: Filters): Promise<ImageRow[]> {
  const createdOf = async (ref: string): Promise<string> => {
    const image = await loadImage(ctx, ref);
    return rows.find((r) => r.id === image.id)?.created ?? image.config.created ?? '';
  };
  const before = await Promise.all((filters.get('before') ?? []).map(createdOf));
  const since = await Promise.all((filters.get('since') ?? []).map(createdOf));
  // `before`/`since` compare with the named image's own time, and leave that image out.
  const named = await Promise.all(
    [...(filters.get('before') ?? []), ...(filters.get('since') ?? [])].map((ref) =>
      resolveImageId(ctx, ref),
    ),
  );
  const result: ImageRow[] = [];
  for (const row of rows) {
    const references = filters.get('reference');
    if (references && !references.some((p) => referenceMatches(p, row))) continue;
    if (before.some((t) => !(row.created < t)) || since.some((t) => !(row.created > t))) continue;
    if (named.includes(row.id)) continue;
    if (filters.has('label')) {
      const labels = (await loadImage(ctx, row.id)).config.config?.Labels ?? {};
      if (!matchLabels(filters, labels)) continue;
    }
    result.push(row);
  }
  return result;
}
