// The quick config reader (engine/config-quick.ts, what `version` uses to skip zod) against the
// schema (engine/config.ts): whatever it accepts the schema accepts with the same reading, it knows
// every field the schema has, and on a config it does not accept it returns what loadConfig returns
// or throws loadConfig's error.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engineConfigSchema, loadConfig } from '../../engine/config.ts';
import { QUICK_KNOWN_FIELDS, quickConfig, readQuickConfig } from '../../engine/config-quick.ts';

/** Values for a field: mostly ones the schema takes for some field, plus the ones it refuses. */
const anyValue = fc.oneof(
  fc.constantFrom(
    'auto',
    'crun',
    'runc',
    'youki',
    '',
    0,
    -1,
    1.5,
    2 ** 53,
    Number.POSITIVE_INFINITY,
    null,
    true,
  ),
  fc.integer({ min: -5, max: 200_000 }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }), {
    maxKeys: 2,
  }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 2 }),
  fc.record({ pids: fc.integer({ min: -1, max: 5 }) }),
);
const fieldName = fc.constantFrom(...QUICK_KNOWN_FIELDS, 'unknownField', '__proto__', 'constructor');
/** A config.json's value as JSON.parse would give it (own keys, `__proto__` as a plain key). */
const rawConfig = fc
  .dictionary(fieldName, anyValue, { maxKeys: 5 })
  .map((o) => JSON.parse(JSON.stringify(o)) as unknown);

describe('the quick config reader', () => {
  it('knows every top-level field of the schema (a new field must be checked or deferred)', () => {
    expect([...QUICK_KNOWN_FIELDS].sort()).toEqual(Object.keys(engineConfigSchema.shape).sort());
  });

  it('accepts only what the schema accepts, and reads the same runtime', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(rawConfig, anyValue), (raw) => {
        const quick = quickConfig(raw);
        if (quick === undefined) return;
        accepted++;
        const parsed = engineConfigSchema.safeParse(raw);
        expect(parsed.success).toBe(true);
        expect(quick.runtime).toBe(parsed.data?.runtime);
      }),
      { numRuns: 1000 },
    );
    expect(accepted).toBeGreaterThan(50); // the property saw real acceptances, not only deferrals
  });

  it('answers (does not defer) for valid configs without limits', () => {
    const valid = fc.record(
      {
        mirrors: fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 2 }), { maxKeys: 2 }),
        insecureRegistries: fc.array(fc.string(), { maxLength: 2 }),
        usernsBase: fc.integer({ min: 1, max: 2 ** 31 }),
        usernsSize: fc.integer({ min: 1, max: 2 ** 31 }),
        runtime: fc.constantFrom('auto', 'crun', 'runc'),
        registryTimeoutMs: fc.integer({ min: 1, max: 600_000 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(valid, (raw) => {
        expect(engineConfigSchema.safeParse(raw).success).toBe(true);
        expect(quickConfig(raw)).toEqual({ runtime: engineConfigSchema.parse(raw).runtime });
      }),
      { numRuns: 200 },
    );
  });

  describe('on a root', () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'layerlab-quick-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const write = (text: string) => writeFileSync(join(root, 'config.json'), text);
    const loadError = () => {
      try {
        loadConfig(root);
      } catch (err) {
        return err;
      }
      throw new Error('loadConfig accepted it');
    };

    it('reads the defaults without a config.json, as loadConfig does', async () => {
      expect(await readQuickConfig(root)).toEqual({ runtime: loadConfig(root).runtime });
    });

    it('reads what loadConfig reads for a valid config, deferred or not', async () => {
      for (const config of [{ runtime: 'runc' }, { runtime: 'crun', limits: { pids: 5 } }, {}]) {
        write(JSON.stringify(config));
        expect(await readQuickConfig(root)).toEqual({ runtime: loadConfig(root).runtime });
      }
    });

    it('fails with loadConfig’s own error on an invalid config', async () => {
      for (const text of [
        '{"runtime": "youki"}',
        '{"usernsBase": -1}',
        '{"limits": {"pids": 0}}',
        '{"mirrors": []}',
        '{not json',
        '[]',
      ]) {
        write(text);
        const expected = loadError();
        await expect(readQuickConfig(root), text).rejects.toEqual(expected);
      }
    });
  });
});
