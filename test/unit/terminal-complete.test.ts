// Tab completion over fixed sources: programs, subcommands, group subcommands, flags, and image and
// container names in the positions Docker's own completion offers them.
import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../engine/cli/args.ts';
import {
  type CompletionSources,
  commonPrefix,
  complete,
  formatColumns,
} from '../../server/terminal/complete.ts';

const runSpec: CommandSpec = {
  name: 'run',
  usage: '',
  description: '',
  stopAtPositional: true,
  flags: [
    { name: 'interactive', short: 'i', type: 'bool', description: '' },
    { name: 'tty', short: 't', type: 'bool', description: '' },
    { name: 'name', type: 'string', description: '' },
    { name: 'env', short: 'e', type: 'list', description: '' },
    { name: 'rm', type: 'bool', description: '' },
  ],
};
const execSpec: CommandSpec = { ...runSpec, name: 'exec' };
const plain = (name: string): CommandSpec => ({ name, usage: '', description: '', flags: [] });

const sources: CompletionSources = {
  images: async () => ['busybox:latest', 'busybox:1.36', 'alpine:3.20', 'layerlab/big-layer:latest'],
  containers: async (running) =>
    running ? ['web', 'a1b2c3d4e5f6'] : ['web', 'a1b2c3d4e5f6', 'old', '0f0f0f0f0f0f'],
  spec: async (path) => ({ run: runSpec, exec: execSpec, 'container run': runSpec })[path] ?? plain(path),
};

const candidates = async (before: string) => (await complete(before, sources)).candidates;

describe('complete', () => {
  it('completes programs and builtins first', async () => {
    expect(await candidates('do')).toEqual(['docker']);
    expect(await candidates('h')).toEqual(['help', 'history']);
  });

  it('completes subcommands and management groups', async () => {
    expect(await candidates('docker ru')).toEqual(['run']);
    expect(await candidates('podman im')).toEqual(['image', 'images']);
    expect(await candidates('docker image l')).toEqual(['list', 'load', 'ls']);
    expect(await candidates('docker --debug pu')).toEqual(['pull', 'push']);
  });

  it("completes a command's long flags", async () => {
    expect(await candidates('docker run --r')).toEqual(['--rm']);
    expect(await candidates('docker run --')).toContain('--interactive');
  });

  it('completes an image for run, skipping flags and their values', async () => {
    expect(await candidates('docker run -it --name x busy')).toEqual(['busybox:1.36', 'busybox:latest']);
    expect(await candidates('docker run -e A=1 al')).toEqual(['alpine:3.20']);
    expect(await candidates('docker run busybox s')).toEqual([]); // the container's command
    expect(await candidates('docker rmi layer')).toEqual(['layerlab/big-layer:latest']);
    expect(await candidates('docker image rm al')).toEqual(['alpine:3.20']);
  });

  it('completes containers: running ones for exec, all for rm', async () => {
    expect(await candidates('docker exec -it ')).toEqual(['a1b2c3d4e5f6', 'web']);
    expect(await candidates('docker rm o')).toEqual(['old']);
    expect(await candidates('docker container rm 0')).toEqual(['0f0f0f0f0f0f']);
    expect(await candidates('docker commit old busy')).toEqual(['busybox:1.36', 'busybox:latest']);
  });

  it('offers nothing after an unknown program', async () => {
    expect(await candidates('ls /e')).toEqual([]);
  });
});

describe('commonPrefix and formatColumns', () => {
  it('finds the shared prefix', () => {
    expect(commonPrefix(['busybox:1.36', 'busybox:latest'])).toBe('busybox:');
    expect(commonPrefix(['日本a', '日本b'])).toBe('日本');
  });

  it('lists top to bottom in columns that fit the width', () => {
    expect(formatColumns(['a', 'bb', 'c', 'dd', 'e'], 12)).toBe('a   c   e\r\nbb  dd\r\n');
  });
});
