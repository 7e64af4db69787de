// The in-page editor's workspace files: list, read and write by the terminal's virtual paths, never
// outside the workspace, never through a symlink; size, name and entry limits; a seed copies a lesson
// context once and keeps the reader's edits after that.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Workspace } from '../../server/sessions/workspace.ts';
import {
  listWorkspaceDir,
  readWorkspaceText,
  seedWorkspaceDir,
  writeWorkspaceText,
} from '../../server/sessions/workspace-files.ts';
import { EDIT_FILE_MAX_BYTES, WORKSPACE_MAX_ENTRIES } from '../../server/sessions/workspace-limits.ts';

let tmp: string;
let ws: Workspace;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'layerlab-wsf-'));
  const contexts = join(tmp, 'contexts');
  mkdirSync(join(contexts, 'demo', 'src'), { recursive: true });
  writeFileSync(join(contexts, 'demo', 'Dockerfile'), 'FROM busybox\nCOPY . /app\n');
  writeFileSync(join(contexts, 'demo', 'src', 'app.txt'), 'hello\n');
  symlinkSync('/etc/passwd', join(contexts, 'demo', 'link'));
  mkdirSync(join(tmp, 'secret'));
  writeFileSync(join(tmp, 'secret', 'key'), 'do not read');
  ws = { dir: join(tmp, 'session', 'workspace'), contexts, limitBytes: 200_000 };
});

afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** The rejection's code and message. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: string; message?: string } | undefined;
  expect(err, 'expected a refusal').toBeDefined();
  return { code: String(err?.code), message: String(err?.message) };
}

describe('workspace files', () => {
  it('writes, lists and reads back a file, making its directories', async () => {
    const written = await writeWorkspaceText(ws, '~/app/sub/Dockerfile', 'FROM busybox\n');
    expect(written).toEqual({ path: '~/app/sub/Dockerfile', size: 13, created: true });
    expect(readFileSync(join(ws.dir, 'app', 'sub', 'Dockerfile'), 'utf8')).toBe('FROM busybox\n');
    const again = await writeWorkspaceText(ws, '/workspace/app/sub/Dockerfile', 'FROM alpine\n');
    expect(again.created).toBe(false);
    expect(await readWorkspaceText(ws, 'app/sub/Dockerfile')).toEqual({
      path: '~/app/sub/Dockerfile',
      text: 'FROM alpine\n',
      size: 12,
      writable: true,
    });
    const list = await listWorkspaceDir(ws, '~/app');
    expect(list).toMatchObject({ path: '~/app', exists: true, writable: true, truncated: false });
    expect(list.entries).toEqual([
      { path: 'sub', kind: 'dir', size: 0 },
      { path: 'sub/Dockerfile', kind: 'file', size: 12 },
    ]);
    expect(await listWorkspaceDir(ws, '~/missing')).toMatchObject({ exists: false, entries: [] });
  });

  it('reads the lesson contexts but never writes them', async () => {
    expect((await readWorkspaceText(ws, '/lessons/demo/Dockerfile')).writable).toBe(false);
    const list = await listWorkspaceDir(ws, '/lessons/demo');
    expect(list.entries.map((e) => `${e.kind} ${e.path}`)).toEqual([
      'file Dockerfile',
      'symlink link',
      'dir src',
      'file src/app.txt',
    ]);
    expect((await refusal(writeWorkspaceText(ws, '/lessons/demo/Dockerfile', 'x'))).message).toMatch(
      /read-only/,
    );
    expect((await refusal(readWorkspaceText(ws, '/lessons/demo/link'))).message).toMatch(/symbolic link/);
  });

  it('refuses paths outside the workspace, NUL bytes and control characters', async () => {
    for (const path of ['../secret/key', '~/../../secret/key', join(tmp, 'secret', 'key'), '/etc/passwd']) {
      expect((await refusal(readWorkspaceText(ws, path))).message, path).toMatch(
        /outside this terminal's workspace/,
      );
      expect((await refusal(writeWorkspaceText(ws, path, 'x'))).code, path).toBe('INVALID_ARGUMENT');
    }
    expect((await refusal(writeWorkspaceText(ws, 'a\0b', 'x'))).message).toMatch(/invalid path/);
    expect((await refusal(writeWorkspaceText(ws, 'a\x01b', 'x'))).message).toMatch(/control characters/);
    expect((await refusal(writeWorkspaceText(ws, `${'n'.repeat(256)}`, 'x'))).message).toMatch(/too long/);
    expect((await refusal(writeWorkspaceText(ws, '~', 'x'))).message).toMatch(/is a directory/);
    expect(readFileSync(join(tmp, 'secret', 'key'), 'utf8')).toBe('do not read');
  });

  it('never follows a symlink in the workspace, to read, list or write', async () => {
    mkdirSync(ws.dir, { recursive: true });
    symlinkSync(join(tmp, 'secret'), join(ws.dir, 'out'));
    symlinkSync(join(tmp, 'secret', 'key'), join(ws.dir, 'key'));
    for (const [what, attempt] of [
      ['read through a dir link', () => readWorkspaceText(ws, '~/out/key')],
      ['read a file link', () => readWorkspaceText(ws, '~/key')],
      ['list a dir link', () => listWorkspaceDir(ws, '~/out')],
      ['write through a dir link', () => writeWorkspaceText(ws, '~/out/key', 'pwned')],
      ['write over a file link', () => writeWorkspaceText(ws, '~/key', 'pwned')],
      ['write below a dir link', () => writeWorkspaceText(ws, '~/out/new/file', 'pwned')],
    ] as const) {
      const r = await refusal(attempt());
      expect(r.code, what).toBe('INVALID_ARGUMENT');
      expect(r.message, what).toMatch(/symbolic link/);
      expect(r.message, what).not.toContain(tmp);
    }
    expect(readFileSync(join(tmp, 'secret', 'key'), 'utf8')).toBe('do not read');
    const list = await listWorkspaceDir(ws, '~');
    expect(list.entries).toEqual([
      { path: 'key', kind: 'symlink', size: 0 },
      { path: 'out', kind: 'symlink', size: 0 },
    ]);
  });

  it('refuses binaries and files over the cap, and writes over the cap', async () => {
    mkdirSync(ws.dir, { recursive: true });
    writeFileSync(join(ws.dir, 'image.tar'), Buffer.from([0x75, 0x73, 0x00, 0x01]));
    writeFileSync(join(ws.dir, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    writeFileSync(join(ws.dir, 'big.txt'), 'x'.repeat(EDIT_FILE_MAX_BYTES + 1));
    expect((await refusal(readWorkspaceText(ws, 'image.tar'))).message).toMatch(/binary file/);
    expect((await refusal(readWorkspaceText(ws, 'latin1.txt'))).message).toMatch(/binary file/);
    const big = await refusal(readWorkspaceText(ws, 'big.txt'));
    expect(big.code).toBe('SIZE_EXCEEDED');
    expect(big.message).toMatch(/the editor opens and saves files up to 48KiB|up to 49.15kB/);
    // Multibyte text: the cap is in bytes, not characters.
    const r = await refusal(writeWorkspaceText(ws, 'wide.txt', 'é'.repeat(EDIT_FILE_MAX_BYTES / 2 + 1)));
    expect(r.code).toBe('SIZE_EXCEEDED');
  });

  it('keeps the workspace within its byte limit and its entry count', async () => {
    const small = { ...ws, limitBytes: 100 };
    await writeWorkspaceText(small, 'a.txt', 'x'.repeat(60));
    const over = await refusal(writeWorkspaceText(small, 'b.txt', 'x'.repeat(60)));
    expect(over.code).toBe('SIZE_EXCEEDED');
    expect(over.message).toMatch(/over its limit/);
    // Replacing a file counts its new size, not both.
    await writeWorkspaceText(small, 'a.txt', 'y'.repeat(90));

    mkdirSync(join(ws.dir, 'many'), { recursive: true });
    // Made on disk (as many saves would), one short of the cap with `many` and `a.txt` counted.
    for (let i = 0; i < WORKSPACE_MAX_ENTRIES - 3; i++) writeFileSync(join(ws.dir, 'many', `f${i}`), '');
    await writeWorkspaceText(ws, 'many/last', '');
    const full = await refusal(writeWorkspaceText(ws, 'many/one-more', ''));
    expect(full.code).toBe('SIZE_EXCEEDED');
    expect(full.message).toMatch(/files and directories, its limit is 500/);
    // An existing file can still be saved.
    await writeWorkspaceText(ws, 'many/last', 'edited');
    const listed = await listWorkspaceDir(ws, '~');
    expect(listed.entries).toHaveLength(WORKSPACE_MAX_ENTRIES);
    expect(listed.truncated).toBe(false);
  });

  it('seeds a directory from a lesson context once, then keeps the reader’s edits', async () => {
    const seeded = await seedWorkspaceDir(ws, 'demo', '~/app');
    expect(seeded).toEqual({ path: '~/app', copied: ['Dockerfile', 'src/app.txt'], kept: false });
    await writeWorkspaceText(ws, '~/app/Dockerfile', 'FROM mine\n');
    expect(await seedWorkspaceDir(ws, 'demo', '~/app')).toEqual({ path: '~/app', copied: [], kept: true });
    expect((await readWorkspaceText(ws, '~/app/Dockerfile')).text).toBe('FROM mine\n');
    const again = await seedWorkspaceDir(ws, 'demo', '~/app', { overwrite: true });
    expect(again.copied).toEqual(['Dockerfile', 'src/app.txt']);
    expect((await readWorkspaceText(ws, '~/app/Dockerfile')).text).toBe('FROM busybox\nCOPY . /app\n');
    // The context's symlink is not copied.
    expect((await listWorkspaceDir(ws, '~/app')).entries.map((e) => e.path)).not.toContain('link');
    expect((await refusal(seedWorkspaceDir(ws, 'nope', '~/x'))).code).toBe('NOT_FOUND');
    expect((await refusal(seedWorkspaceDir(ws, '..', '~/x'))).code).toBe('INVALID_ARGUMENT');
    expect((await refusal(seedWorkspaceDir(ws, 'demo', '/lessons/demo'))).message).toMatch(/read-only/);
  });
});
