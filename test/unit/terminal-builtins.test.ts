// The prompt's builtins over a fake context: each prints through `print` and returns its status;
// ls and rm work on a workspace in a temporary directory.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Workspace } from '../../server/sessions/workspace.ts';
import {
  type BuiltinContext,
  builtins,
  CLEAR,
  commandNotFound,
  HELP,
  isBuiltin,
} from '../../server/terminal/builtins.ts';
import { BUILTINS } from '../../server/terminal/complete.ts';
import { ShellEnv } from '../../server/terminal/shell-env.ts';

let base: string;
let out: string;
let ctx: BuiltinContext;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'layerlab-builtins-'));
  await mkdir(join(base, 'workspace'));
  await mkdir(join(base, 'contexts', 'hello'), { recursive: true });
  const workspace: Workspace = {
    dir: join(base, 'workspace'),
    contexts: join(base, 'contexts'),
    limitBytes: 1 << 20,
  };
  out = '';
  ctx = {
    print: (text) => {
      out += text;
    },
    history: { entries: ['docker images', 'history'] },
    workspace,
    env: new ShellEnv(),
  };
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Runs a builtin by name, as the prompt does. */
async function run(name: string, args: string[] = []): Promise<number> {
  if (!isBuiltin(name)) throw new Error(`${name} is not a builtin`);
  return builtins[name].run(ctx, args);
}

describe('builtins', () => {
  it('has one entry for every name completion offers, and nothing else', () => {
    expect(Object.keys(builtins).sort()).toEqual([...BUILTINS].sort());
    expect(isBuiltin('docker')).toBe(false);
    expect(isBuiltin('constructor')).toBe(false);
  });

  it('help, clear and exit print and succeed without being recorded', async () => {
    expect(await run('help')).toBe(0);
    expect(out).toBe(HELP);
    out = '';
    expect(await run('clear')).toBe(0);
    expect(out).toBe(CLEAR);
    out = '';
    expect(await run('exit')).toBe(0);
    expect(out).toContain('cannot be closed from here');
    for (const name of ['help', 'clear', 'history', 'exit'] as const) {
      const builtin = builtins[name];
      expect(builtin.disk === false && builtin.recorded, name).toBe(false);
    }
  });

  it('history numbers the entries, right-aligned', async () => {
    ctx = { ...ctx, history: { entries: Array.from({ length: 10 }, (_, i) => `cmd${i + 1}`) } };
    expect(await run('history')).toBe(0);
    expect(out.split('\n')[0]).toBe('   1  cmd1');
    expect(out.split('\n')[9]).toBe('  10  cmd10');
  });

  it('export, unset and env change and show the shell environment', async () => {
    expect(await run('export', ['GREETING=hi'])).toBe(0);
    expect(ctx.env.snapshot().GREETING).toBe('hi');
    expect(await run('env')).toBe(0);
    expect(out).toContain('GREETING=hi');
    expect(await run('unset', ['GREETING'])).toBe(0);
    expect(ctx.env.snapshot().GREETING).toBeUndefined();
    out = '';
    expect(await run('export', ['1BAD=x'])).toBe(1);
    expect(out).toContain('not a valid identifier');
    expect(builtins.export.disk === false && builtins.export.recorded).toBe(true);
  });

  it('ls lists the workspace and the lesson contexts', async () => {
    await writeFile(join(ctx.workspace.dir, 'image.tar'), 'x'.repeat(1234));
    await mkdir(join(ctx.workspace.dir, 'sub'));
    expect(await run('ls')).toBe(0);
    expect(out).toBe('1234  image.tar\n   -  sub/\n');
    out = '';
    expect(await run('ls', ['.', '/lessons'])).toBe(0);
    expect(out).toContain('.:\n');
    expect(out).toContain('/lessons:\n');
    expect(out).toContain('hello/');
    out = '';
    expect(await run('ls', ['missing'])).toBe(1);
    expect(out).toBe("ls: cannot access 'missing': No such file or directory\n");
  });

  it('rm removes workspace files and says why it will not', async () => {
    await writeFile(join(ctx.workspace.dir, 'a.tar'), 'a');
    expect(await run('rm')).toBe(1);
    expect(out).toBe('rm: missing operand\n');
    out = '';
    expect(await run('rm', ['a.tar', 'b.tar'])).toBe(1);
    expect(out).toBe("rm: cannot remove 'b.tar': No such file or directory\n");
    expect(await readdir(ctx.workspace.dir)).toEqual([]);
    out = '';
    expect(await run('rm', ['/lessons/hello'])).toBe(1);
    expect(out).toContain('Read-only');
  });

  it('answers anything else with the shell’s 127', () => {
    expect(commandNotFound(ctx, 'vim')).toBe(127);
    expect(out).toMatch(/^vim: command not found\n/);
  });
});
