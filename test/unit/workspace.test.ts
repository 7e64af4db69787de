// The browser terminal's virtual paths: relative, `~` and /workspace go to the session's workspace,
// /lessons/<name> to the read-only contexts, everything else is refused; symlinks never lead out;
// a save is capped by the workspace's size limit and never replaces the target on failure.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  contextDir,
  createForWriting,
  LESSON_CONTEXTS,
  listPath,
  openForReading,
  readableFile,
  removeFile,
  resolveWorkspacePath,
  type Workspace,
  WorkspaceError,
  workspaceBytes,
} from '../../server/sessions/workspace.ts';

let tmp: string;
let ws: Workspace;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'layerlab-ws-'));
  const contexts = join(tmp, 'contexts');
  mkdirSync(join(contexts, 'hello'), { recursive: true });
  writeFileSync(join(contexts, 'hello', 'Dockerfile'), 'FROM scratch\n');
  mkdirSync(join(tmp, 'secret'));
  writeFileSync(join(tmp, 'secret', 'key'), 'do not read');
  ws = { dir: join(tmp, 'session', 'workspace'), contexts, limitBytes: 1000 };
});

afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const OUTSIDE =
  "is outside this terminal's workspace: use /lessons/<name> for the lesson build contexts, or a relative path for your workspace";

describe('resolveWorkspacePath', () => {
  it('maps relative paths, ~ and /workspace into the workspace, writable', () => {
    for (const [input, rel] of [
      ['image.tar', 'image.tar'],
      ['./a/../image.tar', 'image.tar'],
      ['~', ''],
      ['~/image.tar', 'image.tar'],
      ['/workspace/image.tar', 'image.tar'],
      ['.', ''],
    ] as const) {
      const p = resolveWorkspacePath(ws, input);
      expect(p, input).not.toBeInstanceOf(WorkspaceError);
      if (p instanceof WorkspaceError) continue;
      expect(p.hostPath, input).toBe(join(ws.dir, rel));
      expect(p.writable, input).toBe(true);
    }
  });

  it('maps /lessons/<name> to that context, read-only', () => {
    const p = resolveWorkspacePath(ws, '/lessons/hello/sub');
    if (p instanceof WorkspaceError) throw p;
    expect(p).toMatchObject({ hostPath: join(ws.contexts, 'hello', 'sub'), writable: false, scope: 'hello' });
  });

  it('refuses every other path, with a message saying where to look', () => {
    for (const input of ['/etc/passwd', '/etc', '../../x.tar', '/lessons/../etc', '/workspacex', '']) {
      const p = resolveWorkspacePath(ws, input);
      expect(p, input).toBeInstanceOf(WorkspaceError);
      if (input !== '') expect((p as Error).message, input).toBe(`path ${input} ${OUTSIDE}`);
    }
  });

  it('points at the repository lesson contexts by default', () => {
    expect(readFileSync(join(LESSON_CONTEXTS, 'hello-build', 'Dockerfile'), 'utf8')).toContain(
      'FROM busybox',
    );
  });
});

describe('checks on disk', () => {
  it('gives a context directory and refuses a missing one or a file', async () => {
    expect(await contextDir(ws, '/lessons/hello')).toBe(join(ws.contexts, 'hello'));
    await expect(contextDir(ws, '/lessons/nope')).rejects.toThrow(
      'unable to prepare context: path "/lessons/nope" not found',
    );
    await expect(contextDir(ws, '/lessons/hello/Dockerfile')).rejects.toThrow('context must be a directory');
    expect(await contextDir(ws, '.')).toBe(ws.dir); // the workspace itself, made on first use
  });

  it('refuses a symlink out of a context or out of the workspace', async () => {
    symlinkSync(join(tmp, 'secret'), join(ws.contexts, 'hello', 'escape'));
    symlinkSync(join(ws.contexts, 'hello'), join(ws.contexts, 'alias'));
    await expect(contextDir(ws, '/lessons/hello/escape')).rejects.toThrow('through a symbolic link');
    // A context that is itself a link to another context is out of its own scope too.
    await expect(contextDir(ws, '/lessons/alias')).rejects.toThrow('through a symbolic link');
    await contextDir(ws, '.');
    symlinkSync(join(tmp, 'secret', 'key'), join(ws.dir, 'key'));
    symlinkSync(join(tmp, 'secret'), join(ws.dir, 'dir'));
    await expect(openForReading(ws, 'key')).rejects.toThrow('through a symbolic link');
    await expect(readableFile(ws, 'key')).rejects.toThrow('through a symbolic link');
    await expect(openForReading(ws, 'dir/key')).rejects.toThrow('through a symbolic link');
    await expect(createForWriting(ws, 'dir/x.tar')).rejects.toThrow('through a symbolic link');
    await expect(listPath(ws, 'dir')).rejects.toThrow('through a symbolic link');
  });

  it('writes through a temporary file renamed into place, replacing a symlink rather than following it', async () => {
    await contextDir(ws, '.');
    symlinkSync(join(tmp, 'secret', 'key'), join(ws.dir, 'out.tar'));
    const pending = await createForWriting(ws, 'out.tar');
    await pending.handle.write('archive');
    await pending.commit();
    expect(readFileSync(join(tmp, 'secret', 'key'), 'utf8')).toBe('do not read');
    expect(readFileSync(join(ws.dir, 'out.tar'), 'utf8')).toBe('archive');
    const handle = await openForReading(ws, '~/out.tar');
    expect((await handle.readFile()).toString()).toBe('archive');
    await handle.close();
    expect(await listPath(ws)).toEqual([{ name: 'out.tar', size: 7, dir: false }]);
  });

  it('leaves the target as it was when the write is aborted', async () => {
    await contextDir(ws, '.');
    writeFileSync(join(ws.dir, 'keep.tar'), 'old');
    const pending = await createForWriting(ws, 'keep.tar');
    await pending.handle.write('half');
    await pending.abort();
    expect(readFileSync(join(ws.dir, 'keep.tar'), 'utf8')).toBe('old');
    expect(await listPath(ws)).toEqual([{ name: 'keep.tar', size: 3, dir: false }]);
    expect(await workspaceBytes(ws)).toBe(3);
  });

  it('refuses writes to /lessons and undoes a write past the size limit', async () => {
    await expect(createForWriting(ws, '/lessons/hello/x.tar')).rejects.toThrow('is read-only');
    const big = await createForWriting(ws, 'big.tar');
    await big.handle.write(Buffer.alloc(1500));
    await expect(big.commit()).rejects.toThrow(/over its limit of 1(\.0)?kB/i);
    expect(await workspaceBytes(ws)).toBe(0);
    writeFileSync(join(ws.dir, 'full.tar'), Buffer.alloc(1000));
    await expect(createForWriting(ws, 'next.tar')).rejects.toMatchObject({ code: 'SIZE_EXCEEDED' });
    // Replacing the file that fills the workspace is allowed: its old size does not count.
    const again = await createForWriting(ws, 'full.tar');
    await again.handle.write('small');
    await again.commit();
    expect(await workspaceBytes(ws)).toBe(5);
  });

  it('removes workspace files, never a context file or a symlink target', async () => {
    await contextDir(ws, '.');
    symlinkSync(join(tmp, 'secret', 'key'), join(ws.dir, 'link'));
    await removeFile(ws, 'link');
    expect(readFileSync(join(tmp, 'secret', 'key'), 'utf8')).toBe('do not read');
    await expect(removeFile(ws, '/lessons/hello/Dockerfile')).rejects.toThrow('Read-only');
    await expect(removeFile(ws, 'missing')).rejects.toThrow('No such file or directory');
    await expect(removeFile(ws, '/etc/passwd')).rejects.toThrow(OUTSIDE);
  });

  it('lists the lesson contexts', async () => {
    expect(await listPath(ws, '/lessons')).toEqual([{ name: 'hello', size: expect.any(Number), dir: true }]);
  });
});
