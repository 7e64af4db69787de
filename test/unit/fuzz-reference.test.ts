// Fuzzing the reference parser (engine/reference/reference.ts): valid references, mutated ones and
// arbitrary text either parse to a reference that round-trips through its full form (and, where Docker's
// familiar form is unambiguous, through that too) or are refused with InvalidReferenceError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from '../../engine/errors.ts';
import {
  familiarName,
  formatReference,
  isValidTag,
  parseReference,
  type Reference,
} from '../../engine/reference/reference.ts';
import { fuzz, parsesOrRefuses } from '../fuzz/budget.ts';

const isInvalidReference = (err: unknown) => err instanceof InvalidReferenceError;

const component = fc.oneof(
  fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, { maxLength: 24 }),
  fc.constantFrom('library', 'localhost', 'a.b', 'x--y', 'a__b', 'docker.io', 'index.docker.io'),
);
const domain = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    'docker.io/',
    'index.docker.io/',
    'localhost/',
    'localhost:5000/',
    '127.0.0.1:5000/',
    '[::1]:5000/',
    '[fe80::1]/',
    'Example.COM/',
    'a-b.c/',
    'REG:1/',
  ),
);
const tag = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[\w][\w.-]{0,30}$/).map((t) => `:${t}`),
);
const digest = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `@sha256:${h}`),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `@sha512:${h}`),
  fc.stringMatching(/^[a-fA-F0-9]{32,70}$/).map((h) => `@sha256:${h}`),
);
const validish = fc
  .tuple(domain, fc.array(component, { minLength: 1, maxLength: 4 }), tag, digest)
  .map(([d, path, t, g]) => d + path.join('/') + t + g);

/** Edits a reference could suffer: a character inserted, removed or replaced, a part upper-cased. */
const mutated = fc
  .tuple(
    validish,
    fc.array(
      fc.tuple(
        fc.constantFrom('insert', 'delete', 'replace', 'upper'),
        fc.nat(),
        fc.constantFrom('/', ':', '@', '.', '-', '_', '__', 'A', ' ', '\0', '[', ']', '%', 'é', '\n', '//'),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([s, edits]) =>
    edits.reduce((acc, [op, at, ch]) => {
      const i = acc.length === 0 ? 0 : at % (acc.length + 1);
      if (op === 'insert') return acc.slice(0, i) + ch + acc.slice(i);
      if (op === 'delete') return acc.slice(0, i) + acc.slice(i + 1);
      if (op === 'replace') return acc.slice(0, i) + ch + acc.slice(i + 1);
      return acc.slice(0, i) + acc.slice(i).toUpperCase();
    }, s),
  );

/** Docker's familiar form drops `docker.io/`, so a first path component that looks like a host is read as one. */
function familiarIsAmbiguous(ref: Reference): boolean {
  const first = ref.path.split('/')[0]!;
  return ref.domain === 'docker.io' && (/[.:]/.test(first) || first === 'localhost');
}

function expectRoundTrip(input: string): void {
  const ref = parsesOrRefuses(() => parseReference(input), isInvalidReference);
  if (!ref) return;
  expect(ref.tag !== undefined || ref.digest !== undefined).toBe(true);
  if (ref.tag !== undefined) expect(isValidTag(ref.tag)).toBe(true);
  const full = formatReference(ref);
  expect(parseReference(full)).toEqual(ref);
  expect(formatReference(parseReference(full))).toBe(full);
  if (!familiarIsAmbiguous(ref)) expect(parseReference(familiarName(ref))).toEqual(ref);
}

describe('fuzz: reference parser', () => {
  it('parse(format(parse(x))) equals parse(x) for valid-looking references', async () => {
    await fuzz('reference/valid', 2000, fc.property(validish, expectRoundTrip));
  });

  it('parses or refuses mutated references, and what parses round-trips', async () => {
    await fuzz('reference/mutated', 3000, fc.property(mutated, expectRoundTrip));
  });

  it('parses or refuses arbitrary text, long text included', async () => {
    await fuzz(
      'reference/arbitrary',
      2000,
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          // Long runs of what the grammar's repetitions match: a backtracking regexp would stall here.
          fc
            .tuple(
              fc.constantFrom('a', 'a-', 'a.', 'a_', 'a/', '1', ':', '['),
              fc.integer({ min: 100, max: 3000 }),
              fc.constantFrom('', '!', '-', 'A', '/', ':'),
            )
            .map(([unit, n, end]) => unit.repeat(n) + end),
        ),
        expectRoundTrip,
      ),
    );
  });

  it('regression: a docker.io path whose first component looks like a host is not familiar-safe (as in Docker)', () => {
    // Found by the fuzzer: `docker.io/localhost/x` shows as `localhost/x`, which reads back as a registry.
    // Docker's FamiliarName has the same ambiguity; the full form is what round-trips.
    const ref = parseReference('docker.io/localhost/x');
    expect(familiarName(ref)).toBe('localhost/x:latest');
    expect(parseReference(formatReference(ref))).toEqual(ref);
    expect(parseReference(familiarName(ref)).domain).toBe('localhost');
  });
});
