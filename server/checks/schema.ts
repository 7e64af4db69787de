// The condition a lesson step declares on engine state ("a container from busybox has /hello.txt in
// its diff"): a small composable language as zod schemas, shared with the site's lesson frontmatter so
// a typo in a lesson fails the build. Bounded everywhere: the browser may send a check too.

import { z } from 'zod';

const MAX_LIST = 32;
/** Nesting of `all` / `any` / `not`; deeper is refused (a check is a few lines of a lesson). */
export const MAX_CHECK_DEPTH = 6;

const text = (max: number) => z.string().min(1).max(max);
/** An absolute path in the container. */
const containerPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path such as /hello.txt');
/** An image reference as a learner types it: `busybox`, `my-image:v1`, an id prefix. */
const imageRef = text(256);
const hint = text(500).optional();
const countRange = z.strictObject({
  min: z.number().int().min(0).optional(),
  max: z.number().int().min(0).optional(),
});

/** A path in a diff: `/hello.txt`, or `{ path, kind: 'A' }` to want one kind of change. */
export const diffPathSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { path: value } : value),
  z.strictObject({ path: containerPath, kind: z.enum(['A', 'C', 'D']).optional() }),
);
export type DiffPath = z.output<typeof diffPathSchema>;

/** A file in the container's merged view: exists, or holds (or equals) some text. */
export const fileConditionSchema = z.strictObject({
  path: containerPath,
  /** Default true; false wants the file absent. */
  exists: z.boolean().optional(),
  contains: z.string().max(4096).optional(),
  equals: z.string().max(65536).optional(),
  /** How many lines the text file holds (`{ min: 2 }`: a log a second run appended to). */
  lines: countRange.optional(),
});

export type FileCondition = z.output<typeof fileConditionSchema>;

export const containerCheckSchema = z.strictObject({
  kind: z.literal('container'),
  /** From this image (resolved in the session: `busybox` matches a container run from `busybox:latest`). */
  image: imageRef.optional(),
  name: text(128).optional(),
  state: z.enum(['created', 'running', 'exited']).optional(),
  /** How many containers must match everything else (default at least one). */
  count: countRange.optional(),
  diff: z
    .strictObject({
      has: z.array(diffPathSchema).max(MAX_LIST).optional(),
      lacks: z.array(diffPathSchema).max(MAX_LIST).optional(),
    })
    .optional(),
  file: fileConditionSchema.optional(),
  /**
   * Its main process is alive on the host, seen in the host's /proc by its host PID (what
   * `docker inspect -f '{{.State.Pid}}'` prints), its command line holding `command` when given.
   */
  process: z.strictObject({ command: text(256).optional() }).optional(),
  /** The container exited with this code. */
  exitCode: z.number().int().optional(),
  hint,
});

export const imageCheckSchema = z.strictObject({
  kind: z.literal('image'),
  /** The image this tag names (`my-image` means `my-image:latest`). Without it, any image. */
  tag: imageRef.optional(),
  /** The image's top (newest) layer holds this path (not as a whiteout): what a commit or COPY added. */
  topLayerAdds: containerPath.optional(),
  /** The image's top layer deletes this path (holds its whiteout). */
  topLayerDeletes: containerPath.optional(),
  layers: countRange.optional(),
  /** Shares at least one layer (same diff_id) with this image: built FROM it, or committed on it. */
  sharesLayersWith: imageRef.optional(),
  /** Untagged and no other image's parent, as `docker image prune` sees it (only without `tag`). */
  dangling: z.boolean().optional(),
  /** Which builder wrote the image's newest history entry: BuildKit (Docker's default) or the classic one. */
  builtBy: z.enum(['buildkit', 'classic']).optional(),
  count: countRange.optional(),
  hint,
});

export const containersDifferCheckSchema = z.strictObject({
  kind: z.literal('containers-differ'),
  /** Two (or more) containers from this image … */
  image: imageRef,
  /** … whose view of this file differs (content, or present in one and absent in the other). */
  path: containerPath,
  hint,
});

export const volumeCheckSchema = z.strictObject({
  kind: z.literal('volume'),
  /** The named volume (`docker volume create NAME`, or `-v NAME:/path` on first use). */
  name: text(128),
  /** A file in the volume, by its path from the volume's root (`/data.txt`). */
  file: fileConditionSchema.optional(),
  hint,
});

/** A file name in the session's workspace (what `save -o` writes), never a path out of it. */
const workspaceName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, 'must be a file name in the workspace such as image.tar');

export const workspaceFileCheckSchema = z.strictObject({
  kind: z.literal('workspace-file'),
  /** The file, in the workspace's top directory. */
  path: workspaceName,
  minBytes: z.number().int().min(0).optional(),
  /**
   * The file is an image archive (`docker save`) holding this image as the session has it now:
   * the config blob whose digest is the image's ID.
   */
  holdsImage: imageRef.optional(),
  hint,
});

/** A repository path as Docker's reference grammar spells one: `hello`, `team/app`. */
const repositoryPath = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
    'must be a repository name such as hello (lowercase, no registry host)',
  );

export const pushedCheckSchema = z.strictObject({
  kind: z.literal('pushed'),
  /**
   * The repository in the session's own registry, without its host (`hello` is `$REGISTRY/hello`):
   * the host:port differs between servers, so a lesson cannot spell it.
   */
  repository: repositoryPath,
  /** The tag pushed (default `latest`). */
  tag: z
    .string()
    .regex(/^\w[\w.-]{0,127}$/, 'must be a tag such as v1')
    .optional(),
  hint,
});

export const commandRanCheckSchema = z.strictObject({
  kind: z.literal('command-ran'),
  /**
   * A glob over the command line as typed: `*` any run of characters, `?` one. `docker run*busybox*`.
   * Globs, not regular expressions: a check may come from the browser, and a glob cannot backtrack
   * exponentially.
   */
  pattern: text(500),
  exitCode: z.number().int().optional(),
  hint,
});

export type ContainerCheck = z.output<typeof containerCheckSchema>;
export type ImageCheck = z.output<typeof imageCheckSchema>;
export type ContainersDifferCheck = z.output<typeof containersDifferCheckSchema>;
export type CommandRanCheck = z.output<typeof commandRanCheckSchema>;
export type WorkspaceFileCheck = z.output<typeof workspaceFileCheckSchema>;
export type VolumeCheck = z.output<typeof volumeCheckSchema>;
export type PushedCheck = z.output<typeof pushedCheckSchema>;

export type Check =
  | ContainerCheck
  | ImageCheck
  | ContainersDifferCheck
  | CommandRanCheck
  | WorkspaceFileCheck
  | VolumeCheck
  | PushedCheck
  | { all: Check[]; hint?: string | undefined }
  | { any: Check[]; hint?: string | undefined }
  | { not: Check; hint?: string | undefined };

/** Input type (before transforms), for the lesson frontmatter's typing. */
export type CheckInput =
  | z.input<typeof containerCheckSchema>
  | z.input<typeof imageCheckSchema>
  | z.input<typeof containersDifferCheckSchema>
  | z.input<typeof commandRanCheckSchema>
  | z.input<typeof workspaceFileCheckSchema>
  | z.input<typeof volumeCheckSchema>
  | z.input<typeof pushedCheckSchema>
  | { all: CheckInput[]; hint?: string }
  | { any: CheckInput[]; hint?: string }
  | { not: CheckInput; hint?: string };

export const checkSchema: z.ZodType<Check, CheckInput> = z.lazy(() =>
  z.union([
    containerCheckSchema,
    imageCheckSchema,
    containersDifferCheckSchema,
    commandRanCheckSchema,
    workspaceFileCheckSchema,
    volumeCheckSchema,
    pushedCheckSchema,
    z.strictObject({ all: z.array(checkSchema).min(1).max(MAX_LIST), hint }),
    z.strictObject({ any: z.array(checkSchema).min(1).max(MAX_LIST), hint }),
    z.strictObject({ not: checkSchema, hint }),
  ]),
);

/** How deep `all`/`any`/`not` nest in a raw value; measured before parsing, so a hostile one is cheap. */
export function checkDepth(value: unknown, limit = MAX_CHECK_DEPTH + 1): number {
  if (limit <= 0 || value === null || typeof value !== 'object') return 0;
  const v = value as { all?: unknown; any?: unknown; not?: unknown };
  const children = [
    ...(Array.isArray(v.all) ? v.all.slice(0, MAX_LIST) : []),
    ...(Array.isArray(v.any) ? v.any.slice(0, MAX_LIST) : []),
    ...(v.not !== undefined ? [v.not] : []),
  ];
  if (children.length === 0) return 0;
  return 1 + Math.max(...children.map((c) => checkDepth(c, limit - 1)));
}

export type ParsedCheck = { ok: true; check: Check } | { ok: false; message: string };

/** Validates a check; the message names the field, as the lesson author needs it. */
export function parseCheck(value: unknown): ParsedCheck {
  if (checkDepth(value) > MAX_CHECK_DEPTH) {
    return { ok: false, message: `check nests all/any/not deeper than ${MAX_CHECK_DEPTH} levels` };
  }
  const parsed = checkSchema.safeParse(value);
  if (parsed.success) return { ok: true, check: parsed.data };
  return { ok: false, message: describe(value, parsed.error) };
}

function describe(value: unknown, error: z.ZodError): string {
  // A union's own error says little; the branch chosen by `kind` says what is wrong.
  const kind = (value as { kind?: unknown } | null)?.kind;
  const branches: Record<string, z.ZodType> = {
    container: containerCheckSchema,
    image: imageCheckSchema,
    'containers-differ': containersDifferCheckSchema,
    'command-ran': commandRanCheckSchema,
    'workspace-file': workspaceFileCheckSchema,
    volume: volumeCheckSchema,
    pushed: pushedCheckSchema,
  };
  if (typeof kind === 'string') {
    const branch = branches[kind];
    if (!branch) {
      return `check: unknown kind ${JSON.stringify(kind.slice(0, 40))} (expected one of: ${Object.keys(branches).join(', ')}, or all/any/not)`;
    }
    const issue = branch.safeParse(value).error?.issues[0];
    if (issue) return `check (${kind}): ${issue.path.join('.') || '(check)'}: ${issue.message}`;
  }
  const issue = error.issues[0];
  if (value === null || typeof value !== 'object') return 'check must be an object';
  if (!('kind' in value) && !('all' in value) && !('any' in value) && !('not' in value)) {
    return 'check needs a "kind" (container, image, containers-differ, command-ran, workspace-file, volume, pushed) or all/any/not';
  }
  return `check: ${issue?.path.join('.') || '(check)'}: ${issue?.message ?? 'invalid'}`;
}

/** A glob (`*`, `?`) matched against a whole string without backtracking: O(pattern × text). */
export function globMatch(pattern: string, input: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < input.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === input[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
