// Docker's rules for the process a container runs: Entrypoint/Cmd/--entrypoint, Env, User.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PATH,
  mergeEnv,
  mergeProcess,
  processArgs,
  runtimeEnv,
} from '../../engine/container/process.ts';
import { resolveUser } from '../../engine/container/user.ts';

describe('mergeProcess', () => {
  const image = { Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx', '-g', 'daemon off;'], Env: ['A=1'] };

  it('keeps the image Entrypoint and Cmd when nothing is given', () => {
    const m = mergeProcess(image, {});
    expect(processArgs(m)).toEqual(['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']);
  });

  it('replaces Cmd with the run arguments and keeps the Entrypoint', () => {
    expect(processArgs(mergeProcess(image, { cmd: ['sh'] }))).toEqual(['/docker-entrypoint.sh', 'sh']);
  });

  it('drops the image Cmd when --entrypoint is given', () => {
    expect(processArgs(mergeProcess(image, { entrypoint: ['/bin/ls'] }))).toEqual(['/bin/ls']);
    expect(processArgs(mergeProcess(image, { entrypoint: ['/bin/ls'], cmd: ['-l'] }))).toEqual([
      '/bin/ls',
      '-l',
    ]);
  });

  it('resets the entrypoint with --entrypoint ""', () => {
    expect(mergeProcess(image, { entrypoint: [''], cmd: ['true'] })).toMatchObject({
      entrypoint: null,
      cmd: ['true'],
    });
  });

  it('refuses a container with no command, as Docker does', () => {
    expect(() => processArgs(mergeProcess({}, {}))).toThrow('No command specified');
  });

  it('takes WorkingDir and User from the run options first', () => {
    const m = mergeProcess(
      { WorkingDir: '/app', User: 'nobody', Cmd: ['x'] },
      { workingDir: '/srv', user: '1000:50' },
    );
    expect(m).toMatchObject({ workingDir: '/srv', user: '1000:50' });
    expect(mergeProcess({ WorkingDir: '/app', User: 'nobody', Cmd: ['x'] }, {})).toMatchObject({
      workingDir: '/app',
      user: 'nobody',
    });
  });
});

describe('mergeEnv', () => {
  it('overrides by name in order and adds the PATH default', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['A=3', 'C=4'])).toEqual(['A=3', 'B=2', 'C=4', `PATH=${DEFAULT_PATH}`]);
  });

  it('keeps an image PATH', () => {
    expect(mergeEnv(['PATH=/opt/bin'], [])).toEqual(['PATH=/opt/bin']);
  });

  it('rejects an empty name', () => {
    expect(() => mergeEnv([], ['=x'])).toThrow('invalid environment variable: =x');
  });

  it('adds HOSTNAME, HOME and TERM at start without overriding', () => {
    expect(runtimeEnv(['PATH=/bin', 'HOME=/x'], { hostname: 'abc', home: '/root', tty: true })).toEqual([
      'HOSTNAME=abc',
      'PATH=/bin',
      'HOME=/x',
      'TERM=xterm',
    ]);
  });
});

describe('resolveUser', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n';
  const group = 'root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nwheel:x:10:bob\n';

  it('defaults to root', () => {
    expect(resolveUser('', passwd, group)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root' });
  });

  it('resolves a name with its primary and supplementary groups', () => {
    expect(resolveUser('alice', passwd, group)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [50],
      home: '/home/alice',
    });
  });

  it('accepts uid, uid:gid and name:group', () => {
    expect(resolveUser('1000', passwd, group)).toMatchObject({ uid: 1000, gid: 1000 });
    expect(resolveUser('4242', passwd, group)).toMatchObject({ uid: 4242, gid: 0, home: '/' });
    expect(resolveUser('4242:7', passwd, group)).toMatchObject({ uid: 4242, gid: 7, additionalGids: [] });
    expect(resolveUser('alice:staff', passwd, group)).toMatchObject({
      uid: 1000,
      gid: 50,
      additionalGids: [],
    });
  });

  it('reports unknown names like runc', () => {
    expect(() => resolveUser('bob', passwd, group)).toThrow(
      'unable to find user bob: no matching entries in passwd file',
    );
    expect(() => resolveUser('alice:nogroup', passwd, group)).toThrow(
      'unable to find group nogroup: no matching entries in group file',
    );
  });

  it('works without passwd and group files for numeric ids', () => {
    expect(resolveUser('5:6', undefined, undefined)).toEqual({
      uid: 5,
      gid: 6,
      additionalGids: [],
      home: '/',
    });
  });
});
