// `docker commit --change`: Dockerfile-style lines applied to the committed image's config.
import { describe, expect, it } from 'vitest';
import { applyChange } from '../../engine/commit.ts';

describe('applyChange', () => {
  it('takes CMD and ENTRYPOINT in exec and shell form', () => {
    expect(applyChange({}, 'CMD ["nginx", "-g", "daemon off;"]').Cmd).toEqual(['nginx', '-g', 'daemon off;']);
    expect(applyChange({}, 'CMD echo hi').Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(applyChange({}, 'entrypoint ["/init"]').Entrypoint).toEqual(['/init']);
  });

  it('merges ENV by name in both forms', () => {
    const base = { Env: ['PATH=/bin', 'A=1'] };
    expect(applyChange(base, 'ENV A=2 B="two words"').Env).toEqual(['PATH=/bin', 'A=2', 'B=two words']);
    expect(applyChange(base, 'ENV C hello world').Env).toEqual(['PATH=/bin', 'A=1', 'C=hello world']);
  });

  it('sets LABEL, EXPOSE, USER, STOPSIGNAL, and WORKDIR relative to the last one', () => {
    let c = applyChange({ Labels: { a: '1' } }, 'LABEL b=2 "c d"=3');
    expect(c.Labels).toEqual({ a: '1', b: '2', 'c d': '3' });
    c = applyChange(c, 'EXPOSE 80 53/udp');
    expect(c.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    c = applyChange(applyChange(c, 'WORKDIR /app'), 'WORKDIR src');
    expect(c.WorkingDir).toBe('/app/src');
    expect(applyChange(c, 'USER alice:staff').User).toBe('alice:staff');
    expect(applyChange(c, 'STOPSIGNAL SIGINT').StopSignal).toBe('SIGINT');
  });

  it('refuses what commit cannot change', () => {
    expect(() => applyChange({}, 'RUN echo hi')).toThrow('RUN is not a valid change command');
    expect(() => applyChange({}, 'ENV')).toThrow('needs at least one argument');
  });
});
