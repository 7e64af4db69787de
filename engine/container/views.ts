// What `ps`, `inspect`, `logs`, `diff` and `container prune` show: Docker's shapes, computed from the
// records (reconciled with the shims) and the upper dirs, plus the text formatter `ps` prints.

import type { EngineContext } from '../context.ts';
import {
  ago,
  commandLine,
  ellipsis,
  formatTable,
  goQuote,
  humanDuration,
  humanSize,
} from '../format/text.ts';
import { withTree } from '../fs/in-root.ts';
import { isFrozen } from '../host/cgroups.ts';
import { type Change, diffUpper } from '../layer/diff.ts';
import { rootfsPaths } from '../runtime/overlay.ts';
import { type LogRecord, readLog } from '../runtime/shim.ts';
import { getImageRecord, loadImage } from '../store/images.ts';
import { volumeDataDir } from '../volume/volumes.ts';
import { removeContainer, resolveContainer } from './lifecycle.ts';
import { type ContainerRecord, OWNER_LABEL, readAllRecords } from './record.ts';
import { containerDir, logPath, reconcile, runDir } from './state.ts';

export interface ContainerRow {
  id: string;
  name: string;
  image: string;
  imageId: string;
  /** Path and args as Docker's daemon joins them (args with spaces single-quoted), untruncated. */
  command: string;
  created: string;
  status: ContainerRecord['state']['status'];
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  labels: Record<string, string>;
  external: boolean;
  /** With `size`: bytes in the writable layer, and that plus the image (Docker's "virtual"). */
  sizeRw?: number;
  sizeRootFs?: number;
}

export interface ListOptions {
  /** `-a`: stopped ones too. */
  all?: boolean;
  /** `-s`: compute sizes (walks each upper dir). */
  size?: boolean;
  /** Show build working containers too. */
  external?: boolean;
  /** Only containers carrying this owner label (the server's session scoping). */
  owner?: string;
}

/**
 * Every container, newest first, reconciled with its shim. An exited `--rm` container found here
 * (its `run` was detached, so nobody waited) is removed, as Docker's daemon would have done.
 */
export async function listContainers(ctx: EngineContext, opts: ListOptions = {}): Promise<ContainerRow[]> {
  const rows: ContainerRow[] = [];
  const records = (await readAllRecords(ctx)).reverse();
  for (const stored of records) {
    const record = await reconcile(ctx, stored);
    if (record.autoRemove && record.state.status === 'exited') {
      await removeContainer(ctx, record.id, { force: true }).catch(() => {});
      continue;
    }
    if (!opts.all && record.state.status !== 'running') continue;
    if (record.external && !record.listed && !opts.external) continue;
    if (opts.owner !== undefined && record.config.labels[OWNER_LABEL] !== opts.owner) continue;
    const row: ContainerRow = {
      id: record.id,
      name: record.name,
      image: record.image,
      imageId: record.imageId,
      command: commandLine(record.path, record.args),
      created: record.created,
      status: record.state.status,
      exitCode: record.state.exitCode,
      startedAt: record.state.startedAt,
      finishedAt: record.state.finishedAt,
      labels: record.config.labels,
      external: record.external,
    };
    if (opts.size) {
      row.sizeRw = await writableSize(ctx, record.id);
      const image = await getImageRecord(ctx, record.imageId).catch(() => undefined);
      row.sizeRootFs = row.sizeRw + (image?.size ?? 0);
    }
    rows.push(row);
  }
  return rows;
}

/** Docker's STATUS column: "Up 3 seconds", "Exited (0) 5 seconds ago", "Created". */
export function statusText(
  row: Pick<ContainerRow, 'status' | 'exitCode' | 'startedAt' | 'finishedAt'>,
  now = Date.now(),
): string {
  switch (row.status) {
    case 'running':
      return `Up ${humanDuration(now - Date.parse(row.startedAt))}`;
    case 'exited':
      return `Exited (${row.exitCode}) ${humanDuration(now - Date.parse(row.finishedAt))} ago`;
    default:
      return 'Created';
  }
}

/** Docker's SIZE column: "2B (virtual 4.26MB)", three significant digits as `docker ps -s` prints. */
export function sizeText(row: Pick<ContainerRow, 'sizeRw' | 'sizeRootFs'>): string {
  return `${humanSize(row.sizeRw ?? 0, 3)} (virtual ${humanSize(row.sizeRootFs ?? 0, 3)})`;
}

/** `docker ps` as text, one line per row. `noTrunc` keeps full ids and commands. */
export function formatContainerTable(
  rows: readonly ContainerRow[],
  opts: { size?: boolean; noTrunc?: boolean; now?: number } = {},
): string {
  const header = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
  if (opts.size) header.push('SIZE');
  const now = opts.now ?? Date.now();
  const lines = rows.map((row) => {
    const cells = [
      opts.noTrunc ? row.id : row.id.slice(0, 12),
      row.image,
      goQuote(opts.noTrunc ? row.command : ellipsis(row.command, 20)),
      ago(row.created, now),
      statusText(row, now),
      '',
      row.name,
    ];
    if (opts.size) cells.push(sizeText(row));
    return cells;
  });
  return formatTable(header, lines);
}

/**
 * Bytes in the writable layer, counted as Docker does: file sizes, each hard-linked inode once. The
 * upper dir is the container's: it is walked through engine/fs/in-root.ts, never out of it.
 */
export async function writableSize(ctx: EngineContext, id: string): Promise<number> {
  const upper = rootfsPaths(containerDir(ctx, id)).upper;
  return withTree(upper, (tree) => {
    if (!tree) return 0;
    const seen = new Set<number>();
    let total = 0;
    const walk = (dir: string): void => {
      for (const name of tree.readdir(dir) ?? []) {
        const path = `${dir}/${name}`;
        const st = tree.lstat(path);
        if (st === undefined) continue;
        if (st.isDirectory()) {
          walk(path);
          continue;
        }
        if (st.nlink > 1) {
          if (seen.has(st.ino)) continue;
          seen.add(st.ino);
        }
        total += st.size;
      }
    };
    walk('');
    return total;
  });
}

/** `docker diff`: the container's changes from its upper dir (works on created and exited ones). */
export async function containerDiff(ctx: EngineContext, idOrName: string): Promise<Change[]> {
  const record = await resolveContainer(ctx, idOrName);
  return diffUpper(rootfsPaths(containerDir(ctx, record.id)).upper, record.lowerDirs);
}

/** `docker logs`: the recorded output, all or the last `tail` lines, then with `follow` what comes. */
export async function containerLogs(
  ctx: EngineContext,
  idOrName: string,
  opts: { follow?: boolean; tail?: number; since?: Date; signal?: AbortSignal } = {},
): Promise<AsyncGenerator<LogRecord>> {
  const record = await resolveContainer(ctx, idOrName);
  const signal = opts.signal ?? ctx.signal;
  return readLog(logPath(ctx, record.id), {
    follow: (opts.follow ?? false) && record.state.status === 'running',
    runDir: runDir(ctx, record.id),
    ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    ...(opts.since ? { since: opts.since } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** Docker's `container inspect` object (the fields Layerlab knows), with `RootFS` from the image. */
export async function inspectContainer(
  ctx: EngineContext,
  idOrName: string,
): Promise<Record<string, unknown>> {
  const record = await resolveContainer(ctx, idOrName);
  const dir = containerDir(ctx, record.id);
  const paths = rootfsPaths(dir);
  const diffIds = await loadImage(ctx, record.imageId).then(
    (img) => img.config.rootfs.diff_ids,
    () => [],
  );
  const running = record.state.status === 'running';
  const paused = running && isFrozen(record.id);
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: {
      Status: paused ? 'paused' : record.state.status,
      Running: running,
      Paused: paused,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? record.state.pid : 0,
      ExitCode: record.state.exitCode,
      Error: record.state.error,
      StartedAt: record.state.startedAt,
      FinishedAt: record.state.finishedAt,
    },
    Image: record.imageId,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: logPath(ctx, record.id),
    Name: `/${record.name}`,
    RestartCount: record.state.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      AutoRemove: record.autoRemove,
      Memory: record.config.memoryBytes ?? 0,
      NanoCpus: Math.round((record.config.cpus ?? 0) * 1e9),
      Init: record.config.init ?? null,
    },
    // Docker's order: a Go struct's fields as declared (Data, Name), a map's keys sorted.
    GraphDriver: {
      Data: {
        LowerDir: record.lowerDirs.join(':'),
        MergedDir: paths.merged,
        UpperDir: paths.upper,
        WorkDir: paths.work,
      },
      Name: 'overlay2',
    },
    RootFS: { Type: 'layers', Layers: diffIds },
    // Docker's list: named volumes and host paths (the anonymous VOLUMEs live on the container's tmpfs).
    Mounts: record.config.mounts.map((m) => ({
      Type: m.type,
      ...(m.type === 'volume' ? { Name: m.source } : {}),
      Source: m.type === 'volume' ? volumeDataDir(ctx, m.source) : m.source,
      Destination: m.target,
      ...(m.type === 'volume' ? { Driver: 'local' } : {}),
      Mode: m.type === 'volume' ? 'z' : '',
      RW: !m.readonly,
      Propagation: m.type === 'bind' ? 'rprivate' : '',
    })),
    Config: {
      Hostname: record.config.hostname,
      User: record.config.user,
      Tty: record.config.tty,
      OpenStdin: record.config.openStdin,
      AttachStdin: false,
      Env: record.config.env,
      Cmd: record.config.cmd,
      Image: record.image,
      WorkingDir: record.config.workingDir,
      Entrypoint: record.config.entrypoint,
      Labels: record.config.labels,
      ...(record.config.stopSignal ? { StopSignal: record.config.stopSignal } : {}),
    },
    NetworkSettings: { Networks: {} },
    Layerlab: { External: record.external, RunDir: runDir(ctx, record.id), ContainerDir: dir },
  };
}

/** `docker container prune`: removes every stopped container; returns their ids and the bytes freed. */
export async function pruneContainers(
  ctx: EngineContext,
  opts: { owner?: string } = {},
): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const deleted: string[] = [];
  let spaceReclaimed = 0;
  for (const stored of await readAllRecords(ctx)) {
    const record = await reconcile(ctx, stored);
    if (record.state.status === 'running') continue;
    if (opts.owner !== undefined && record.config.labels[OWNER_LABEL] !== opts.owner) continue;
    const size = await writableSize(ctx, record.id);
    await removeContainer(ctx, record.id);
    deleted.push(record.id);
    spaceReclaimed += size;
  }
  return { deleted, spaceReclaimed };
}
