// `-v` and `--mount` read as Docker's CLI reads them, and volume names checked by Docker's rule
// (which also keeps a name one path component under the state root's volumes/).
import { describe, expect, it } from 'vitest';
import { parseMountFlag, parseVolumeFlag } from '../../engine/volume/mount-spec.ts';
import { isVolumeName } from '../../engine/volume/names.ts';

describe('-v', () => {
  it('reads a named volume, a host path, an anonymous volume and their modes', () => {
    expect(parseVolumeFlag('data:/data')).toEqual({
      type: 'volume',
      source: 'data',
      target: '/data',
      readonly: false,
      createSource: false,
    });
    expect(parseVolumeFlag('data:/data/:ro')).toMatchObject({
      source: 'data',
      target: '/data',
      readonly: true,
    });
    expect(parseVolumeFlag('/srv/x:/x:rw,z')).toMatchObject({
      type: 'bind',
      source: '/srv/x',
      readonly: false,
    });
    expect(parseVolumeFlag('/scratch')).toMatchObject({ type: 'volume', source: '', target: '/scratch' });
  });

  it('refuses what Docker refuses', () => {
    expect(() => parseVolumeFlag('data:relative')).toThrow(/invalid mode: relative/);
    expect(() => parseVolumeFlag('data:/x:rx')).toThrow('invalid mode: rx');
    expect(() => parseVolumeFlag('a/b:/x')).toThrow(/includes invalid characters for a local volume name/);
    expect(() => parseVolumeFlag('data:/')).toThrow("destination can't be '/'");
    expect(() => parseVolumeFlag('a:b:c:d')).toThrow("invalid volume specification: 'a:b:c:d'");
  });
});

describe('--mount', () => {
  it('reads type, source, target and readonly in any order and spelling', () => {
    expect(parseMountFlag('type=volume,source=data,target=/data,readonly')).toMatchObject({
      type: 'volume',
      source: 'data',
      target: '/data',
      readonly: true,
    });
    expect(parseMountFlag('dst=/d,src=vv,ro=false')).toMatchObject({
      type: 'volume',
      source: 'vv',
      readonly: false,
    });
    expect(parseMountFlag('type=bind,source=/etc,target=/host')).toMatchObject({
      type: 'bind',
      source: '/etc',
    });
    expect(parseMountFlag('target=/anon')).toMatchObject({ type: 'volume', source: '' });
  });

  it('refuses unknown keys and types, a missing target and a relative bind source', () => {
    expect(() => parseMountFlag('type=volume,src=vv,target=/x,bogus=1')).toThrow("unexpected key 'bogus'");
    expect(() => parseMountFlag('type=tmpfs,target=/t')).toThrow(
      'mount type tmpfs is not supported by Layerlab',
    );
    expect(() => parseMountFlag('source=vv')).toThrow('target is required');
    expect(() => parseMountFlag('type=bind,source=etc,target=/x')).toThrow('must be absolute');
    expect(() => parseMountFlag('source=vv,target=rel')).toThrow('must be absolute');
  });
});

describe('volume names', () => {
  it('allow Docker’s characters and never a path', () => {
    for (const name of ['data', 'my_vol.1', 'A-b', '0x']) expect(isVolumeName(name), name).toBe(true);
    for (const name of ['', 'x', '..', '.x', 'a/b', '../a', 'a b', '_x', 'é1'])
      expect(isVolumeName(name), name).toBe(false);
  });
});
