// Fuzzing the CLI's argument parser (engine/cli/args.ts) against every command's real spec, and the
// command tables through main(): any argv parses into flags of the declared types or is refused with a
// UsageError, and main() answers every word (prototype names included) with help or a worded error.
// main() runs with `--help` before anything it could execute and a temp --root, so no command runs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CommandSpec, parseArgs, UsageError } from '../../engine/cli/args.ts';
import { groups, topLevel } from '../../engine/cli/commands/index.ts';
import { fuzz, parsesOrRefuses } from '../fuzz/budget.ts';
import { runCli } from '../support/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'layerlab-fuzz-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every command spec in the tables, by the name typed (`run`, `image ls`). */
const specs: CommandSpec[] = [];
beforeAll(async () => {
  const loaders = [
    ...Object.entries(topLevel),
    ...Object.entries(groups).flatMap(([g, { commands }]) =>
      Object.entries(commands).map(([c, l]) => [`${g} ${c}`, l] as const),
    ),
  ];
  for (const [name, load] of loaders) specs.push({ ...(await load()).command.spec, name });
});

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

/** Words built from a spec's own flags (valid, glued, mangled) and from noise. */
function argvFor(spec: CommandSpec): fc.Arbitrary<string[]> {
  const longs = spec.flags.map((f) => `--${f.name}`);
  const shorts = spec.flags.filter((f) => f.short).map((f) => `-${f.short}`);
  const word = fc.oneof(
    fc.constantFrom(...longs, '--', '-', '--=', '---', '--help', '-h', '--help=false', '-h=1', '--unknown'),
    shorts.length > 0 ? fc.constantFrom(...shorts) : fc.constant('-z'),
    fc
      .tuple(
        fc.constantFrom(...longs, '--x'),
        fc.constantFrom('=', '=1', '=true', '=-5', '=A=B', '=', '=0x1'),
      )
      .map(([f, v]) => f + v),
    fc
      .array(fc.constantFrom(...shorts.map((s) => s.slice(1)), 'h', 'Z', '='), { minLength: 1, maxLength: 4 })
      .map((l) => `-${l.join('')}`),
    fc.constantFrom('busybox', 'x', '1', '-1', '9999999999999999999999', 'true', 'A=b', ...PROTOTYPE_NAMES),
    fc.string({ maxLength: 10 }),
  );
  return fc.array(word, { maxLength: 8 });
}

describe('fuzz: parseArgs over every command spec', () => {
  it('parses into declared flags of declared types, or throws UsageError', async () => {
    expect(specs.length).toBeGreaterThan(40);
    const specArb = fc.integer({ min: 0, max: 1000 }).map((i) => specs[i % specs.length]!);
    await fuzz(
      'cli/parse-args',
      1500,
      fc.property(
        specArb.chain((spec) => argvFor(spec).map((argv) => [spec, argv] as const)),
        ([spec, argv]) => {
          const parsed = parsesOrRefuses(
            () => parseArgs(spec, argv),
            (err) => err instanceof UsageError && err.command === spec.name,
          );
          if (!parsed) return;
          const byName = new Map(spec.flags.map((f) => [f.name, f]));
          for (const [name, value] of Object.entries(parsed.flags)) {
            const flag = byName.get(name);
            expect(flag, `flag ${name} is not in ${spec.name}'s spec`).toBeDefined();
            const type = flag!.type;
            if (type === 'bool') expect(typeof value).toBe('boolean');
            if (type === 'string') expect(typeof value).toBe('string');
            if (type === 'int') expect(Number.isInteger(value) || Number.isNaN(value)).toBe(true);
            if (type === 'list') expect(Array.isArray(value)).toBe(true);
          }
          if (!parsed.help) {
            expect(parsed.args.length).toBeGreaterThanOrEqual(spec.minArgs ?? 0);
            expect(parsed.args.length).toBeLessThanOrEqual(spec.maxArgs ?? Number.POSITIVE_INFINITY);
          }
        },
      ),
    );
  });
});

const cli = (argv: string[]) => runCli(argv);

/** What main() may answer: help (0), an unknown command (1), a usage error (125 or 1 with usage). */
function expectWorded(r: { status: number; stdout: string; stderr: string }, argv: string[]): void {
  expect([0, 1, 125], JSON.stringify(argv)).toContain(r.status);
  // reportError's last resort for untyped errors: a TypeError from a table lookup would end up here.
  expect(r.stderr, JSON.stringify(argv)).not.toMatch(/^Error: /m);
  if (r.status === 0) expect(r.stdout).toMatch(/^Usage: {2}layerlab /);
  else expect(r.stderr).toMatch(/See 'layerlab |is not a layerlab command/);
}

describe('fuzz: the command tables through main()', () => {
  const commandWord = fc.oneof(
    fc.constantFrom(...Object.keys(topLevel), ...Object.keys(groups), ...PROTOTYPE_NAMES),
    fc.string({ maxLength: 10 }).map((s) => `x${s}`), // never a dash: global flags are chosen below
  );
  // Nothing after `--help` may turn it off again, so no command ever runs.
  const keepsHelp = (w: string) => !/help|^-[^-]*h/.test(w);
  const subWord = fc.oneof(
    fc.constantFrom(...Object.values(groups).flatMap((g) => Object.keys(g.commands)), ...PROTOTYPE_NAMES),
    fc.string({ maxLength: 10 }).filter(keepsHelp),
  );
  const rest = fc.array(fc.string({ maxLength: 10 }).filter(keepsHelp), { maxLength: 4 });

  it('answers any command words with help or a worded error, never an untyped one', async () => {
    await fuzz(
      'cli/main-tables',
      300,
      fc.asyncProperty(
        fc.constantFrom([], ['-D'], ['--debug']),
        commandWord,
        fc.option(subWord, { nil: undefined }),
        rest,
        async (global, command, sub, tail) => {
          // `--help` right after the command's name: before any positional (run, create and exec stop
          // reading flags at the first one), so the command can only print its help.
          const subs = sub === undefined ? [] : [sub];
          const words = Object.hasOwn(groups, command)
            ? [command, ...subs, '--help']
            : [command, '--help', ...subs];
          const argv = ['--root', root, ...global, ...words, ...tail];
          expectWorded(await cli(argv), argv);
        },
      ),
    );
  });

  // Found by the fuzzer: the tables are plain objects, so `layerlab constructor` found
  // Object.prototype.constructor and failed with "Error: Cannot convert undefined or null to object".
  it.each([
    ['constructor'],
    ['toString'],
    ['__proto__'],
    ['hasOwnProperty', 'x'],
    ['image', 'constructor'],
    ['container', '__proto__'],
    ['system', 'toString'],
  ])('regression: %s %s is an unknown command, not an internal error', async (...words) => {
    const r = await cli(['--root', root, ...words.filter((w) => w !== undefined)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not a layerlab command/);
  });
});
