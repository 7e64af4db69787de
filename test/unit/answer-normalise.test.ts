// How a typed answer is read: digests with or without `sha256:` and as short ids, sizes in Docker's
// units, counts; and the matchers a <Predict> uses over a run's output. Properties with fast-check
// where a whole family of inputs must agree (every prefix of a digest, every unit of a size).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuessLimiter } from '../../server/checks/answer-evaluate.ts';
import {
  digestMatches,
  MIN_ID_PREFIX,
  parseCountGuess,
  parseDigestGuess,
  parseSizeGuess,
  sizeMatches,
} from '../../server/checks/answer-normalise.ts';
import { parseAnswer } from '../../server/checks/answer-schema.ts';
import { decideChoice, plainText } from '../../site/src/client/predict-outcome.ts';
import { predictPropsSchema } from '../../site/src/client/predict-schema.ts';

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('digests', () => {
  it('accept the full digest, the bare hex and any prefix of 12 digits or more, in any case', () => {
    fc.assert(
      fc.property(
        hex64,
        fc.integer({ min: MIN_ID_PREFIX, max: 64 }),
        fc.boolean(),
        fc.boolean(),
        (hex, n, prefixed, upper) => {
          let typed = (prefixed ? 'sha256:' : '') + hex.slice(0, n);
          if (upper) typed = typed.toUpperCase();
          const parsed = parseDigestGuess(`  ${typed} `);
          expect(parsed.ok).toBe(true);
          if (parsed.ok) expect(digestMatches(parsed.value, `sha256:${hex}`)).toBe(true);
        },
      ),
    );
  });

  it('accept a value copied out of inspect JSON, quotes and brackets included', () => {
    const hex = 'a'.repeat(64);
    const parsed = parseDigestGuess(`["sha256:${hex}",`);
    expect(parsed).toEqual({ ok: true, value: hex });
  });

  it('refuse short prefixes, non-hex and over-long input, saying why', () => {
    expect(parseDigestGuess('sha256:abc')).toMatchObject({
      ok: false,
      message: expect.stringContaining('12'),
    });
    expect(parseDigestGuess('busybox')).toMatchObject({ ok: false });
    expect(parseDigestGuess('a'.repeat(65))).toMatchObject({ ok: false });
    expect(parseDigestGuess('a'.repeat(500))).toMatchObject({ ok: false });
  });

  it('never match another digest', () => {
    fc.assert(
      fc.property(hex64, hex64, (a, b) => {
        fc.pre(a.slice(0, MIN_ID_PREFIX) !== b.slice(0, MIN_ID_PREFIX));
        const parsed = parseDigestGuess(a);
        expect(parsed.ok && digestMatches(parsed.value, `sha256:${b}`)).toBe(false);
      }),
    );
  });
});

describe('sizes', () => {
  it('read Docker’s decimal units whatever their case, binary units, bare bytes and a comma', () => {
    expect(parseSizeGuess('4.3MB')).toEqual({ ok: true, value: 4_300_000 });
    expect(parseSizeGuess('4.3 mb')).toEqual({ ok: true, value: 4_300_000 });
    expect(parseSizeGuess('4,3MB')).toEqual({ ok: true, value: 4_300_000 });
    expect(parseSizeGuess('850kB')).toEqual({ ok: true, value: 850_000 });
    expect(parseSizeGuess('2MiB')).toEqual({ ok: true, value: 2 * 1024 * 1024 });
    expect(parseSizeGuess('512')).toEqual({ ok: true, value: 512 });
    expect(parseSizeGuess('0B')).toEqual({ ok: true, value: 0 });
    expect(parseSizeGuess('1.2GB')).toEqual({ ok: true, value: 1_200_000_000 });
  });

  it('refuse what is not a size', () => {
    for (const bad of ['', 'big', '4.3 furlongs', '1e9', '-3MB', '4.3.1MB']) {
      expect(parseSizeGuess(bad).ok, bad).toBe(false);
    }
  });

  it('round-trip what Docker prints (humanSize) within the default 5 %', async () => {
    const { humanSize } = await import('../../engine/format/text.ts');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5e11 }), (bytes) => {
        for (const precision of [3, 4]) {
          const parsed = parseSizeGuess(humanSize(bytes, precision));
          expect(parsed.ok).toBe(true);
          if (parsed.ok) expect(sizeMatches(parsed.value, bytes, 0.05)).toBe(true);
        }
      }),
    );
  });

  it('compare within the tolerance, and tiny sizes to the byte', () => {
    expect(sizeMatches(23_000_000, 23_100_000, 0.05)).toBe(true);
    expect(sizeMatches(2_000_000, 23_100_000, 0.05)).toBe(false);
    expect(sizeMatches(12, 12, 0.05)).toBe(true);
    expect(sizeMatches(13, 12, 0.05)).toBe(false);
  });
});

describe('counts', () => {
  it('read a whole number, with a word after it', () => {
    expect(parseCountGuess(' 3 ')).toEqual({ ok: true, value: 3 });
    expect(parseCountGuess('3 layers')).toEqual({ ok: true, value: 3 });
    expect(parseCountGuess('three').ok).toBe(false);
    expect(parseCountGuess('3.5').ok).toBe(false);
  });
});

describe('answer declarations', () => {
  it('parse, and name the field that is wrong', () => {
    expect(parseAnswer({ kind: 'image-size', image: 'busybox', tolerance: 0.1 }).ok).toBe(true);
    expect(parseAnswer({ kind: 'shared-diff-id', images: ['busybox'] })).toMatchObject({
      ok: false,
      message: expect.stringContaining('images'),
    });
    expect(parseAnswer({ kind: 'system-df', row: 'Images', column: 'everything' }).ok).toBe(false);
    expect(parseAnswer({ kind: 'nope' }).ok).toBe(false);
  });
});

describe('guess limits', () => {
  it('allow so many guesses per answer in a window, then refuse until it passes', () => {
    let now = 0;
    const limiter = new GuessLimiter({ max: 3, windowMs: 1000, now: () => now });
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false]);
    expect(limiter.take('b')).toBe(true);
    now = 1001;
    expect(limiter.take('a')).toBe(true);
  });
});

describe('<Predict> outcomes', () => {
  const choices = [
    { label: 'It is there', match: '^written in container one$', why: 'w' },
    { label: 'It fails', exit: 'nonzero' as const, why: 'w' },
  ];

  it('take the first choice whose matcher and exit status hold, over plain text', () => {
    expect(decideChoice(choices, '\x1b[32mwritten in container one\x1b[0m\r\n', 0)).toBe(0);
    expect(decideChoice(choices, "cat: can't open /note.txt: No such file or directory\r\n", 1)).toBe(1);
    expect(decideChoice(choices, 'something else', 0)).toBe(-1);
    // No exit status reported: an `exit` condition does not hold.
    expect(decideChoice(choices, '', undefined)).toBe(-1);
  });

  it('strip escape sequences and carriage returns', () => {
    expect(plainText('\x1b]0;title\x07a\x1b[2K\rb\x1b[1A')).toBe('ab');
  });

  it('refuse props whose matcher does not compile, or that give both choices and a value', () => {
    const base = { id: 'p', question: 'q?' };
    expect(predictPropsSchema.safeParse({ ...base, choices }).success).toBe(true);
    expect(
      predictPropsSchema.safeParse({ ...base, choices: [{ label: 'a', match: '(', why: 'w' }, choices[1]] })
        .success,
    ).toBe(false);
    expect(
      predictPropsSchema.safeParse({ ...base, choices: [{ label: 'a', why: 'w' }, choices[1]] }).success,
    ).toBe(false);
    expect(predictPropsSchema.safeParse({ ...base, choices, value: { image: 'x', why: 'w' } }).success).toBe(
      false,
    );
  });
});
