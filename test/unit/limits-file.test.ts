// `serve --limits FILE`: an operator's overrides are merged over the defaults; a typo or a bad value
// is refused with the file and the field named.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../engine/errors.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../../server/limits.ts';
import { loadLimitsFile, parseLimits } from '../../server/limits-file.ts';

describe('serve --limits', () => {
  it('overrides only the fields given, nested ones included', () => {
    const override = parseLimits(
      JSON.stringify({ maxSessions: 35, container: { memoryBytes: 134217728 }, ws: { burst: 50 } }),
      'class.json',
    );
    const limits = resolveLimits(override);
    expect(limits.maxSessions).toBe(35);
    expect(limits.container.memoryBytes).toBe(134217728);
    expect(limits.container.pids).toBe(DEFAULT_LIMITS.container.pids);
    expect(limits.ws.burst).toBe(50);
    expect(limits.ws.maxPayload).toBe(DEFAULT_LIMITS.ws.maxPayload);
  });

  it.each([
    ['{"maxSesions": 3}', /class\.json: .*maxSesions/],
    ['{"maxSessions": -1}', /class\.json: maxSessions: /],
    ['{"container": {"cpus": "two"}}', /class\.json: container\.cpus: /],
    ['{"ws": {"burst": 1.5}}', /class\.json: ws\.burst: /],
    ['{maxSessions: 3}', /class\.json: not JSON/],
  ])('refuses %s', (text, message) => {
    expect(() => parseLimits(text, 'class.json')).toThrow(InvalidArgumentError);
    expect(() => parseLimits(text, 'class.json')).toThrow(message);
  });

  it('reads a file and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layerlab-limits-'));
    const file = join(dir, 'class.json');
    writeFileSync(file, '{"maxContainersPerSession": 4}');
    expect(loadLimitsFile(file)).toEqual({ maxContainersPerSession: 4 });
    expect(() => loadLimitsFile(join(dir, 'nope.json'))).toThrow(/--limits .*nope\.json: ENOENT/);
  });
});
