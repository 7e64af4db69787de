// BuildKit's history text for the instructions it formats with Go's fmt verbs: the Go quoting,
// durations and maps reproduced in engine/builder/history.ts, checked against what Docker wrote
// (test/differential/cases/*/expect.json hold the same lines, recorded).

import { describe, expect, it } from 'vitest';
import {
  exposeHistory,
  goDuration,
  goList,
  goQuote,
  goQuoteList,
  goQuoteRune,
  healthcheckHistory,
  withBuildkitMark,
} from '../../engine/builder/history.ts';

describe('Go quoting (%q)', () => {
  it('quotes strings as strconv.Quote', () => {
    expect(goQuote('exec echo "$HOME"')).toBe('"exec echo \\"$HOME\\""');
    expect(goQuote('a\\b')).toBe('"a\\\\b"');
    expect(goQuote('tab\there\nnl\x07\x00\x7f')).toBe('"tab\\there\\nnl\\a\\x00\\x7f"');
    expect(goQuote('café ✓')).toBe('"café ✓"');
    expect(goQuote('\u2028')).toBe('"\\u2028"');
  });

  it('quotes integers as runes (strconv.QuoteRune)', () => {
    expect(goQuoteRune(0)).toBe("'\\x00'");
    expect(goQuoteRune(2)).toBe("'\\x02'");
    expect(goQuoteRune(10)).toBe("'\\n'");
    expect(goQuoteRune(65)).toBe("'A'");
    expect(goQuoteRune(39)).toBe("'\\''");
  });

  it('formats string slices with %q and %v', () => {
    expect(goQuoteList(['/bin/sh', '-c', 'hi there'])).toBe('["/bin/sh" "-c" "hi there"]');
    expect(goQuoteList([])).toBe('[]');
    expect(goList(['/data', '[/x,', '/y]'])).toBe('[/data [/x, /y]]');
  });
});

describe('Go durations', () => {
  it.each([
    [0, '0s'],
    [1, '1ns'],
    [1_500, '1.5µs'],
    [500_000_000, '500ms'],
    [1_000_000_000, '1s'],
    [1_500_000_000, '1.5s'],
    [90_000_000_000, '1m30s'],
    [3_600_000_000_000, '1h0m0s'],
    [3_725_500_000_000, '1h2m5.5s'],
  ])('%d ns is %s', (ns, text) => {
    expect(goDuration(ns)).toBe(text);
  });
});

describe('instruction lines', () => {
  it('words HEALTHCHECK as Docker 20.10 recorded it', () => {
    expect(
      healthcheckHistory({
        Test: ['CMD-SHELL', 'wget -q -O- http://localhost/ || exit 1'],
        Interval: 5e9,
        Timeout: 3e9,
        StartPeriod: 1e9,
        Retries: 2,
      }),
    ).toBe('HEALTHCHECK &{["CMD-SHELL" "wget -q -O- http://localhost/ || exit 1"] "5s" "3s" "1s" \'\\x02\'}');
    expect(healthcheckHistory({ Test: ['NONE'] })).toBe('HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}');
  });

  it('words EXPOSE as a Go map of this instruction’s ports, keys sorted', () => {
    expect(exposeHistory(['8000/tcp', '8001/tcp', '8002/tcp', '53/udp', '80/tcp', '80/tcp'])).toBe(
      'EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{} 8002/tcp:{}]',
    );
  });

  it('marks the steps BuildKit runs through its solver', () => {
    expect(withBuildkitMark('RUN /bin/sh -c echo hi')).toBe('RUN /bin/sh -c echo hi # buildkit');
  });
});
