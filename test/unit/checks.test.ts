// The lesson check language: what it accepts, how it explains a mistake (naming the field), the
// bounds that keep a browser-sent check cheap, and the glob used by `command-ran`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import type { RegistryAccess } from '../../engine/registry/policy.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { checkDepth, globMatch, MAX_CHECK_DEPTH, parseCheck } from '../../server/checks/schema.ts';

describe('parseCheck', () => {
  it('accepts the issue examples and normalises diff paths', () => {
    const a = parseCheck({ kind: 'container', image: 'busybox', diff: { has: ['/hello.txt'] } });
    expect(a).toEqual({
      ok: true,
      check: { kind: 'container', image: 'busybox', diff: { has: [{ path: '/hello.txt' }] } },
    });
    expect(parseCheck({ kind: 'image', tag: 'my-image', topLayerAdds: '/hello.txt' }).ok).toBe(true);
    expect(parseCheck({ kind: 'containers-differ', image: 'busybox', path: '/etc/motd' }).ok).toBe(true);
    expect(
      parseCheck({
        all: [
          { kind: 'container', state: 'running', count: { min: 2 } },
          { any: [{ kind: 'command-ran', pattern: 'docker ps*' }, { not: { kind: 'image', tag: 'x' } }] },
        ],
        hint: 'Start two containers.',
      }).ok,
    ).toBe(true);
  });

  it('names the field that is wrong', () => {
    expect(parseCheck({ kind: 'container', diff: { has: ['hello.txt'] } })).toEqual({
      ok: false,
      message: 'check (container): diff.has.0.path: must be an absolute path such as /hello.txt',
    });
    expect(parseCheck({ kind: 'image', tagg: 'x' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^check \(image\): .*tagg/),
    });
    expect(parseCheck({ kind: 'network' })).toEqual({
      ok: false,
      message:
        'check: unknown kind "network" (expected one of: container, image, containers-differ, command-ran, workspace-file, volume, pushed, or all/any/not)',
    });
    expect(parseCheck('busybox')).toEqual({ ok: false, message: 'check must be an object' });
    expect(parseCheck({ image: 'busybox' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('needs a "kind"'),
    });
    expect(parseCheck({ kind: 'container', state: 'paused' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^check \(container\): state: /),
    });
  });

  it('accepts the state kinds that stand in for typed commands, and bounds what they name', () => {
    expect(
      parseCheck({ kind: 'workspace-file', path: 'webapp.tar', minBytes: 1, holdsImage: 'layerlab/webapp' })
        .ok,
    ).toBe(true);
    expect(parseCheck({ kind: 'container', name: 'proc', process: { command: 'sleep' } }).ok).toBe(true);
    expect(parseCheck({ kind: 'container', file: { path: '/log.txt', lines: { min: 2 } } }).ok).toBe(true);
    expect(parseCheck({ kind: 'image', tag: 'slow', builtBy: 'classic' }).ok).toBe(true);
    // A workspace file is named, never reached by a path: no directories, no `..`, no hidden names.
    for (const path of ['../etc/passwd', 'a/b.tar', '/webapp.tar', '..', '.hidden', '']) {
      expect(parseCheck({ kind: 'workspace-file', path })).toMatchObject({
        ok: false,
        message: expect.stringMatching(/^check \(workspace-file\): path: /),
      });
    }
    expect(parseCheck({ kind: 'volume', name: 'keep', file: { path: '/data.txt', contains: 'x' } }).ok).toBe(
      true,
    );
    expect(parseCheck({ kind: 'volume', name: 'keep', file: { path: 'data.txt' } }).ok).toBe(false);
    expect(parseCheck({ kind: 'image', builtBy: 'kaniko' }).ok).toBe(false);
    expect(parseCheck({ kind: 'container', process: { pid: 1 } }).ok).toBe(false);
  });

  it('names a pushed repository without its registry host, which differs between servers', () => {
    expect(parseCheck({ kind: 'pushed', repository: 'hello', tag: 'v2' })).toEqual({
      ok: true,
      check: { kind: 'pushed', repository: 'hello', tag: 'v2' },
    });
    expect(parseCheck({ kind: 'pushed', repository: 'team/my-app' }).ok).toBe(true);
    for (const repository of ['127.0.0.1:5000/hello', 'Hello', '/hello', 'hello/', 'a//b', 'hello:v1', '']) {
      expect(parseCheck({ kind: 'pushed', repository }), repository).toMatchObject({
        ok: false,
        message: expect.stringMatching(/^check \(pushed\): repository: /),
      });
    }
    for (const tag of ['-v1', 'v1@sha256', '', 'x'.repeat(129)]) {
      expect(parseCheck({ kind: 'pushed', repository: 'hello', tag }), tag).toMatchObject({
        ok: false,
        message: expect.stringMatching(/^check \(pushed\): tag: /),
      });
    }
    expect(parseCheck({ kind: 'pushed', repository: 'hello', registry: 'docker.io' }).ok).toBe(false);
  });

  it('refuses deep nesting and long lists before parsing them', () => {
    let deep: unknown = { kind: 'container' };
    for (let i = 0; i < 50; i++) deep = { not: deep };
    expect(checkDepth(deep)).toBe(MAX_CHECK_DEPTH + 1);
    expect(parseCheck(deep)).toEqual({
      ok: false,
      message: `check nests all/any/not deeper than ${MAX_CHECK_DEPTH} levels`,
    });
    const wide = { any: Array.from({ length: 100 }, () => ({ kind: 'container' })) };
    expect(parseCheck(wide).ok).toBe(false);
    expect(parseCheck({ kind: 'command-ran', pattern: 'x'.repeat(501) }).ok).toBe(false);
  });
});

describe('globMatch', () => {
  it('matches whole strings with * and ?', () => {
    expect(globMatch('docker run * busybox *', 'docker run -d --name b busybox sleep 1')).toBe(true);
    expect(globMatch('docker run*', 'docker run')).toBe(true);
    expect(globMatch('docker ps', 'docker ps -a')).toBe(false);
    expect(globMatch('d?cker ps', 'docker ps')).toBe(true);
    expect(globMatch('*commit*my-image*', 'docker commit hello my-image')).toBe(true);
    expect(globMatch('', '')).toBe(true);
    expect(globMatch('*', '')).toBe(true);
  });

  it('stays linear on patterns that make regular expressions backtrack', () => {
    const started = performance.now();
    expect(globMatch(`${'*a'.repeat(200)}b`, 'a'.repeat(5000))).toBe(false);
    // Not a speed assertion: a backtracking matcher would not finish at all.
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('the pushed check without a push', () => {
  async function evaluatePushed(registry: RegistryAccess | undefined) {
    const root = await mkdtemp(join(tmpdir(), 'layerlab-checks-'));
    try {
      const ctx = createContext(root, {
        config: engineConfigSchema.parse({}),
        ...(registry ? { registry } : {}),
      });
      const parsed = parseCheck({ kind: 'pushed', repository: 'hello', tag: 'v2' });
      if (!parsed.ok) throw new Error(parsed.message);
      return await evaluateCondition(ctx, parsed.check);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  it('fails for a context with no registry of its own (the operator CLI), asking no registry', async () => {
    expect(await evaluatePushed(undefined)).toEqual({
      pass: false,
      detail: 'this session has no registry of its own to push to',
    });
    expect(await evaluatePushed({ policy: { allowed: ['127.0.0.1:1'], description: 'none' } })).toMatchObject(
      {
        pass: false,
      },
    );
  });

  it("names the session's own registry, whatever its port, before any request", async () => {
    // Port 1 answers nothing: the check must decide from the store first (no image, no request).
    const own = { host: '127.0.0.1:1', namespace: 'sessions/abc' };
    expect(await evaluatePushed({ policy: { allowed: [own.host], description: 'test', own } })).toEqual({
      pass: false,
      detail: 'no image tagged 127.0.0.1:1/hello:v2 yet',
    });
  });
});
