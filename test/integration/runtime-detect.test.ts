// Runtime detection on the real host: it prepares cgroups for crun, proves the runtime with a real
// container, caches the verdict, and explains itself when a runtime cannot run containers.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../engine/errors.ts';
import { detectRuntime, prepareHost, runtimeCommand } from '../../engine/runtime/detect.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
const originalPath = process.env.PATH;

beforeAll(() => {
  t = freshContext();
});

afterEach(() => {
  process.env.PATH = originalPath;
});

afterAll(() => {
  t.cleanup();
});

describe('detectRuntime', () => {
  it('picks crun first, proves it and caches the verdict by path and version', async () => {
    const runtime = await detectRuntime(t.ctx);
    expect(runtime.name).toBe('crun');
    expect(runtime.version).toMatch(/^\d+\.\d+/);
    const cache = JSON.parse(readFileSync(join(t.ctx.paths.run, 'runtime.json'), 'utf8'));
    expect(cache[`${runtime.path}@${runtime.version}`]).toMatchObject({ ok: true });
    expect(runtimeCommand(t.ctx, runtime)).toEqual([runtime.path, '--root', join(t.ctx.paths.run, 'crun')]);
  });

  it('leaves the host ready for crun: the v1 hugetlb hierarchy is mounted', () => {
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    if (/ \/sys\/fs\/cgroup tmpfs /.test(mounts)) {
      expect(mounts).toMatch(/ \/sys\/fs\/cgroup\/hugetlb cgroup [^ ]*hugetlb/);
    }
    expect(prepareHost()).toEqual([]); // nothing left to do, the second time
  });

  it('says why for each runtime when none can run a container', async () => {
    // A fake runtime earlier on PATH: it has a version but fails every container.
    const fakeBin = join(t.root, 'fake-bin');
    mkdirSync(fakeBin);
    const fake = join(fakeBin, 'runc');
    writeFileSync(
      fake,
      '#!/bin/sh\ncase "$1" in --version) echo "runc version 0.0.1-fake";; *) echo "boom: no cgroups here" >&2; exit 1;; esac\n',
    );
    chmodSync(fake, 0o755);
    process.env.PATH = `${fakeBin}:${originalPath}`;
    const other = freshContext();
    other.ctx.config.runtime = 'runc';
    try {
      const detecting = detectRuntime(other.ctx);
      await expect(detecting).rejects.toBeInstanceOf(RuntimeError);
      await expect(detecting).rejects.toThrow(
        /^no working OCI runtime: runc 0\.0\.1-fake: cannot run a container: .*boom: no cgroups here.*\(fix: /,
      );
    } finally {
      other.cleanup();
    }
  });
});
