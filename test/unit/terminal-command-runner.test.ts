// Command dispatch without a server: how a typed line is classified, what is refused, which container
// exec/attach name, and a program run through a stand-in for the engine CLI's main().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Environment } from '../../engine/cli/cli.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { parseDigest } from '../../engine/oci/digest.ts';
import type { Workspace } from '../../server/sessions/workspace.ts';
import {
  type CliMain,
  containerArgument,
  dispatch,
  type RunnerSession,
  refusal,
  runProgram,
  targetContainer,
} from '../../server/terminal/command-runner.ts';
import { ForegroundCommand, ModeSwitch } from '../../server/terminal/container-attach.ts';

describe('dispatch', () => {
  it('tells programs, builtins, refusals, unknown names and bad quoting apart', () => {
    expect(dispatch('   ')).toEqual({ kind: 'empty' });
    expect(dispatch('docker ps -a')).toEqual({ kind: 'program', program: 'docker', args: ['ps', '-a'] });
    expect(dispatch("podman run 'a b'")).toEqual({
      kind: 'program',
      program: 'podman',
      args: ['run', 'a b'],
    });
    expect(dispatch('export A=1')).toEqual({ kind: 'builtin', name: 'export', args: ['A=1'] });
    expect(dispatch('vim x')).toEqual({ kind: 'unknown', name: 'vim' });
    expect(dispatch('toString')).toEqual({ kind: 'unknown', name: 'toString' });
    expect(dispatch('layerlab serve')).toEqual({
      kind: 'refused',
      message: "layerlab: 'serve' is not available in the browser terminal",
    });
    expect(dispatch('docker "unclosed').kind).toBe('invalid');
    expect(dispatch('docker ps | grep x').kind).toBe('invalid');
  });
});

describe('refusal', () => {
  it('refuses --root in any form and the serve command', () => {
    expect(refusal('docker', ['--root', '/', 'ps'])).toBe(
      'docker: --root is not available in the browser terminal',
    );
    expect(refusal('docker', ['--root=/x', 'ps'])).toContain('--root');
    expect(refusal('layerlab', ['--debug', 'serve'])).toContain("'serve'");
    expect(refusal('docker', ['run', 'busybox', 'serve'])).toBeUndefined();
    expect(refusal('docker', ['ps'])).toBeUndefined();
  });
});

describe('containerArgument', () => {
  it('finds the container exec, attach and start name, past flags and their values', () => {
    expect(containerArgument(['exec', '-it', 'web', 'sh'])).toBe('web');
    expect(containerArgument(['exec', '-e', 'A=1', '--workdir', '/tmp', '-u', 'root', 'web', 'sh'])).toBe(
      'web',
    );
    expect(containerArgument(['container', 'attach', 'db'])).toBe('db');
    expect(containerArgument(['--debug', 'attach', 'db'])).toBe('db');
    expect(containerArgument(['start', '-a', 'sleepy'])).toBe('sleepy');
    expect(containerArgument(['run', '-it', 'busybox'])).toBeUndefined();
    expect(containerArgument(['exec', '-it'])).toBeUndefined();
  });
});

let root: string;
let ctx: EngineContext;
let seen: EngineEvent[];
const workspace = (): Workspace => ({
  dir: join(root, 'workspace'),
  contexts: join(root, 'contexts'),
  limitBytes: 1 << 20,
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'layerlab-runner-'));
  seen = [];
  ctx = createContext(root, { events: (event) => seen.push(event) });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function job(): { job: ForegroundCommand; screen: () => string } {
  let screen = '';
  const fg = new ForegroundCommand({
    write: (data) => {
      screen += data.toString();
      return true;
    },
    columns: () => 80,
    rows: () => 24,
    mode: new ModeSwitch(),
    abandoned: () => {},
  });
  return { job: fg, screen: () => screen };
}

describe('targetContainer', () => {
  it('answers undefined for other commands and for a name the engine does not know', async () => {
    expect(await targetContainer(ctx, ['ps'])).toBeUndefined();
    expect(await targetContainer(ctx, ['exec', 'nosuch', 'sh'])).toBeUndefined();
  });
});

describe('runProgram', () => {
  it('runs the CLI with the session context, the shell environment and the program name', async () => {
    const calls: { argv: readonly string[]; program: string | undefined; env: Environment | undefined }[] =
      [];
    const cli: CliMain = async (argv, streams, signal, options = {}) => {
      calls.push({ argv, program: options.program, env: options.env });
      const opCtx = options.context?.();
      opCtx?.events({
        type: 'container.created',
        id: 'c1',
        name: 'n',
        imageId: parseDigest(`sha256:${'0'.repeat(64)}`),
      });
      expect(opCtx?.signal).toBe(signal);
      streams.stdout.write('ran\n');
      return 3;
    };
    const session: RunnerSession = {
      ctx,
      workspace: workspace(),
      env: () => ({ HOME: '/home/reader' }),
      cli,
    };
    const { job: fg, screen } = job();
    const status = await runProgram(fg, 'podman', ['ps', '-a'], session);
    expect(status).toBe(3);
    expect(calls).toEqual([{ argv: ['ps', '-a'], program: 'podman', env: { HOME: '/home/reader' } }]);
    expect(screen()).toBe('ran\r\n');
    expect(fg.container).toBe('c1');
    expect(seen.map((e) => e.type)).toEqual(['container.created']);
    // The streams are closed once the command is over: later writes are dropped.
    fg.streams.stdout.write('late\n');
    expect(screen()).toBe('ran\r\n');
  });

  it('reports a thrown error on stderr with status 1', async () => {
    const cli: CliMain = async () => {
      throw new Error('refused path');
    };
    const { job: fg, screen } = job();
    const status = await runProgram(fg, 'docker', ['ps'], {
      ctx,
      workspace: workspace(),
      env: () => ({}),
      cli,
    });
    expect(status).toBe(1);
    expect(screen()).toBe('docker: refused path\r\n');
  });
});
