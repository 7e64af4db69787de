// A state root with a long path (150 characters) and a server session's root under it: containers
// run, exec and attach there, because the shims' sockets live under a short path of the root's own
// (engine/store/paths.ts runRootOf) rather than under the root, where they would pass the 108-byte
// limit of a unix socket path.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachContainer,
  execContainer,
  removeContainer,
  runContainer,
} from '../../engine/container/index.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { ShimConnection } from '../../engine/runtime/shim.ts';
import { containerRunPath, rootPaths, sessionRoot } from '../../engine/store/paths.ts';
import { makeBusyboxImage } from '../support/busybox-image.ts';
import { disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext, testRegistryCredentials } from '../support/context.ts';

const ROOT_LENGTH = 150;
/** sun_path holds 108 bytes with the terminating NUL. */
const SOCKET_PATH_MAX = 107;

let root: string;
let plain: TestContext;
let session: TestContext;

/** A test context at `dir` with the config (registry mirror) freshContext would give it. */
function contextAt(dir: string, sharedContent?: string): TestContext {
  const { config } = freshContext().ctx;
  const ctx = createContext(dir, {
    config,
    ...(sharedContent ? { sharedContent } : {}),
    registry: { credentials: testRegistryCredentials() },
  });
  return {
    ctx,
    events: [],
    root: dir,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
      rmSync(ctx.paths.run, { recursive: true, force: true });
    },
  };
}

beforeAll(async () => {
  const base = join(tmpdir(), `layerlab-test-long-${randomBytes(4).toString('hex')}-`);
  root = base + 'x'.repeat(ROOT_LENGTH - base.length);
  mkdirSync(root, { recursive: true });
  plain = contextAt(root);
  session = contextAt(sessionRoot(root, randomBytes(16).toString('hex')), root);
  await makeBusyboxImage(plain.ctx);
  await makeBusyboxImage(session.ctx);
});

afterAll(async () => {
  await disposeContainers(session);
  await disposeContainers(plain);
});

function collect(connection: ShimConnection): () => string {
  let text = '';
  connection.onData((_stream, data) => {
    text += data.toString();
  });
  return () => text;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each([
  ['a state root', () => plain.ctx],
  ["a server session's root", () => session.ctx],
])('a container under %s with a 150-character path', (_name, context) => {
  let ctx: EngineContext;
  beforeAll(() => {
    ctx = context();
  });

  it('keeps its sockets under a short path of its own', () => {
    expect(root.length).toBe(ROOT_LENGTH);
    expect(ctx.root.startsWith(root)).toBe(true);
    const execSocket = join(containerRunPath(ctx.paths, 'f'.repeat(64)), 'x01234567', 'attach.sock');
    expect(execSocket.length).toBeLessThanOrEqual(SOCKET_PATH_MAX);
    // The same root spelled another way finds the same run dirs.
    expect(rootPaths(`${ctx.root}/./`).run).toBe(ctx.paths.run);
  });

  it('runs attached, execs, and attaches to a running container', async () => {
    const hello = await runContainer(ctx, { image: 'busybox', cmd: ['echo', 'hello'], autoRemove: true });
    const helloText = collect(hello.connection!);
    expect(await hello.exited).toBe(0);
    await hello.connection!.closed;
    expect(helloText()).toBe('hello\n');

    const { record } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'read line; echo got:$line'],
      openStdin: true,
      detach: true,
    });
    expect(existsSync(join(containerRunPath(ctx.paths, record.id), 'attach.sock'))).toBe(true);

    const exec = await execContainer(ctx, record.id, { cmd: ['echo', 'from exec'] });
    const execText = collect(exec);
    expect(await exec.exitCode).toBe(0);
    await exec.closed;
    expect(execText()).toBe('from exec\n');

    const attached = await attachContainer(ctx, record.id);
    const attachedText = collect(attached);
    attached.write('hi\n');
    await until('the attached output', () => attachedText().includes('got:hi'));
    attached.close();
    await removeContainer(ctx, record.id, { force: true });
    expect(existsSync(containerRunPath(ctx.paths, record.id))).toBe(false);
  });
});

it('gives the session a run dir root apart from its server root', () => {
  expect(session.ctx.paths.run).not.toBe(plain.ctx.paths.run);
});
