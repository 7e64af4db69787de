// The pieces of the state API that need no engine: reading a layer's file for the content diff (text,
// binary, cut at the cap, symlinks never followed) and matching history lines to layers.

import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanContainerPath } from '../../engine/inspect/which-layer.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import type { Image } from '../../engine/oci/types.ts';
import { MAX_CONTENT_BYTES, readContentIn } from '../../server/pictures/files.ts';
import { emptyHistory, imageLayerRefs } from '../../server/pictures/layers.ts';

const dir = mkdtempSync(join(tmpdir(), 'layerlab-state-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `name` in the layer dir and returns its path in the layer. */
function file(name: string, data: string | Buffer): string {
  writeFileSync(join(dir, name), data);
  return `/${name}`;
}

const readContent = (path: string) => readContentIn(dir, path);

describe('readContent', () => {
  it('reads text, and marks binaries without sending them', () => {
    expect(readContent(file('motd', 'hello\n'))).toEqual({
      kind: 'text',
      text: 'hello\n',
      size: 6,
      truncated: false,
    });
    expect(readContent(file('bin', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])))).toEqual({
      kind: 'binary',
      size: 6,
    });
    expect(readContent(file('latin1', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])))).toEqual({
      kind: 'binary',
      size: 5,
    });
  });

  it('cuts long text at the cap without splitting a character', () => {
    const text = `${'a'.repeat(MAX_CONTENT_BYTES - 1)}é and more`;
    const content = readContent(file('long', text));
    expect(content).toMatchObject({ kind: 'text', truncated: true, size: Buffer.byteLength(text) });
    if (content?.kind !== 'text') throw new Error('expected text');
    expect(content.text).toBe('a'.repeat(MAX_CONTENT_BYTES - 1));
  });

  it('gives a symlink’s target and never follows it', () => {
    symlinkSync('/etc/shadow', join(dir, 'link'));
    expect(readContent('/link')).toEqual({ kind: 'symlink', target: '/etc/shadow' });
    // Nor through a directory on the way: a symlink there means the path is not in the layer.
    symlinkSync('/etc', join(dir, 'etc'));
    expect(readContent('/etc/passwd')).toBeNull();
  });
});

describe('cleanContainerPath', () => {
  it('normalises and keeps paths inside the root', () => {
    expect(cleanContainerPath('etc//passwd/')).toBe('/etc/passwd');
    expect(cleanContainerPath('/../../etc')).toBe('/etc');
    expect(cleanContainerPath('/')).toBe('/');
    expect(() => cleanContainerPath('')).toThrow(/invalid path/);
    expect(() => cleanContainerPath('a\0b')).toThrow(/invalid path/);
  });
});

describe('history and layers', () => {
  const d = (n: number) => `sha256:${String(n).repeat(64)}` as Digest;
  const image = {
    id: d(9),
    config: {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [d(1), d(2)] },
      history: [
        { created_by: 'COPY rootfs /' },
        { created_by: 'WORKDIR /app', empty_layer: true },
        { created_by: 'COPY index.html /app/' },
        { created_by: 'CMD ["sh"]', empty_layer: true },
      ],
    },
  } as unknown as Image;

  it('pairs each layer with the history line that made it, skipping empty steps', () => {
    expect(imageLayerRefs(image)).toEqual([
      { diffId: d(1), index: 0, createdBy: 'COPY rootfs /' },
      { diffId: d(2), index: 1, createdBy: 'COPY index.html /app/' },
    ]);
    expect(emptyHistory(image).map((h) => h.created_by)).toEqual(['WORKDIR /app', 'CMD ["sh"]']);
  });
});
