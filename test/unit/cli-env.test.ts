// The caller's environment reaches the CLI only as `cli.env`: `-e NAME`, `--build-arg NAME` and
// LAYERLAB_ROOT read it, never `process.env` (in the server the caller is a visitor's shell, and the
// server's environment holds the operator's secrets). Also the browser shell's own environment.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs } from '../../engine/cli/args.ts';
import { createCli, type Environment } from '../../engine/cli/cli.ts';
import { command as build } from '../../engine/cli/commands/build.ts';
import { command as run } from '../../engine/cli/commands/run.ts';
import { createOptions } from '../../engine/cli/container-flags.ts';
import { parseGlobal } from '../../engine/cli/main.ts';
import { InvalidArgumentError } from '../../engine/errors.ts';
import { takeSecret } from '../../server/secrets.ts';
import { INITIAL_ENV, MAX_VARIABLES, ShellEnv } from '../../server/terminal/shell-env.ts';

const SECRET = 'LAYERLAB_TEST_SERVER_SECRET';

beforeEach(() => {
  process.env[SECRET] = 'server-only-value';
});
afterEach(() => {
  delete process.env[SECRET];
});

function cliWith(env: Environment) {
  const stream = () => new PassThrough() as unknown as NodeJS.WriteStream;
  return createCli({
    root: '/nonexistent',
    debug: false,
    signal: new AbortController().signal,
    env,
    hideHostPaths: true,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    stdout: stream(),
    stderr: stream(),
    context: () => {
      throw new Error('reached the engine');
    },
  });
}

describe('the CLI reads the caller’s environment', () => {
  it('-e NAME copies NAME from the caller, drops it when the caller has none, and ignores process.env', () => {
    const parsed = parseArgs(run.spec, ['-e', 'FOO', '-e', SECRET, '-e', 'A=1', '-e', 'toString', 'busybox']);
    expect(createOptions(parsed, { FOO: 'bar' }).env).toEqual(['FOO=bar', 'A=1']);
    expect(createOptions(parsed, { [SECRET]: 'the caller’s' }).env).toEqual([
      `${SECRET}=the caller’s`,
      'A=1',
    ]);
  });

  it('--build-arg NAME takes NAME from the caller only', async () => {
    const parsed = parseArgs(build.spec, ['--build-arg', SECRET, '/lessons/x']);
    await expect(build.run(cliWith({}), parsed)).rejects.toThrow(
      new InvalidArgumentError(`build-arg ${SECRET}: no value and not set in the environment`),
    );
    // With the caller's value the command gets past the arguments, to the engine.
    await expect(build.run(cliWith({ [SECRET]: 'x' }), parsed)).rejects.toThrow('reached the engine');
  });

  it('defaults the root from the caller’s LAYERLAB_ROOT only', () => {
    const before = process.env.LAYERLAB_ROOT;
    process.env.LAYERLAB_ROOT = '/from/the/process';
    try {
      expect(parseGlobal(['ps']).root).toBe('/var/lib/layerlab');
      expect(parseGlobal(['ps'], { LAYERLAB_ROOT: '/srv/x' }).root).toBe('/srv/x');
    } finally {
      if (before === undefined) delete process.env.LAYERLAB_ROOT;
      else process.env.LAYERLAB_ROOT = before;
    }
  });
});

describe('the browser shell’s environment', () => {
  it('starts with HOME and PATH only, and export, unset and env work on it', () => {
    const shell = new ShellEnv();
    expect(shell.snapshot()).toEqual(INITIAL_ENV);
    expect(shell.export(['FOO=bar', 'EMPTY=', 'BARE'])).toEqual({ output: '', status: 0 });
    expect(shell.snapshot()).toMatchObject({ FOO: 'bar', EMPTY: '' });
    expect(shell.snapshot()).not.toHaveProperty('BARE');
    expect(shell.env([]).output).toContain('FOO=bar\n');
    expect(shell.export(['1X=2', 'a-b=c'])).toEqual({
      output: "export: `1X=2': not a valid identifier\nexport: `a-b=c': not a valid identifier\n",
      status: 1,
    });
    expect(shell.unset(['FOO'])).toEqual({ output: '', status: 0 });
    expect(shell.snapshot()).not.toHaveProperty('FOO');
    expect(shell.export(["Q=it's"]).status).toBe(0);
    expect(shell.export([]).output).toContain("export Q='it'\\''s'\n");
  });

  it('is a snapshot per command, and bounded', () => {
    const shell = new ShellEnv();
    const before = shell.snapshot();
    shell.export(['LATER=1']);
    expect(before).not.toHaveProperty('LATER');
    for (let i = 0; i < MAX_VARIABLES + 5; i++) shell.export([`V${i}=x`]);
    expect(Object.keys(shell.snapshot()).length).toBe(MAX_VARIABLES);
    expect(shell.export(['BIG=x']).output).toMatch(/too many variables/);
    const fresh = new ShellEnv();
    expect(fresh.export([`HUGE=${'x'.repeat(70 * 1024)}`]).output).toMatch(/would exceed 64 KiB/);
  });

  it('never holds anything of the server process', () => {
    expect(new ShellEnv().snapshot()).not.toHaveProperty(SECRET);
  });
});

describe('the server’s start-up secrets', () => {
  it('are taken from the environment or a file, and removed from the environment either way', () => {
    const env: NodeJS.ProcessEnv = { LAYERLAB_TEACHER_PASSWORD: 'from-env', OTHER: 'kept' };
    expect(takeSecret(env, 'LAYERLAB_TEACHER_PASSWORD')).toBe('from-env');
    expect(env).toEqual({ OTHER: 'kept' });

    const dir = mkdtempSync(join(tmpdir(), 'layerlab-secret-'));
    try {
      const file = join(dir, 'pw');
      writeFileSync(file, 'from-file\n');
      const both: NodeJS.ProcessEnv = { LAYERLAB_ADMIN_PASSWORD: 'x', LAYERLAB_ADMIN_PASSWORD_FILE: file };
      expect(takeSecret(both, 'LAYERLAB_ADMIN_PASSWORD')).toBe('from-file');
      expect(both).toEqual({});
      expect(takeSecret({}, 'LAYERLAB_ADMIN_PASSWORD', file)).toBe('from-file');
      expect(takeSecret({}, 'LAYERLAB_ADMIN_PASSWORD')).toBeUndefined();
      writeFileSync(file, '\n');
      expect(() => takeSecret({}, 'LAYERLAB_ADMIN_PASSWORD', file)).toThrow(
        `LAYERLAB_ADMIN_PASSWORD: ${file} is empty`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
