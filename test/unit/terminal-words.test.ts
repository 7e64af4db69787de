// The prompt's word splitter: shell quoting, comments, and a clear refusal of pipes and redirection;
// plus click-to-run line splitting and the tty output's LF → CRLF.
import { describe, expect, it } from 'vitest';
import { toCrlf } from '../../server/terminal/streams.ts';
import { commandLines } from '../../server/terminal/terminal.ts';
import { quoteWord, splitPartial, splitWords } from '../../server/terminal/words.ts';

describe('splitWords', () => {
  it('splits on blanks', () => {
    expect(splitWords('  docker   run  busybox ')).toEqual({ ok: true, words: ['docker', 'run', 'busybox'] });
  });

  it('honours single quotes, double quotes and backslashes', () => {
    expect(splitWords(`docker run busybox sh -c 'echo $((6*7)) > /x'`)).toEqual({
      ok: true,
      words: ['docker', 'run', 'busybox', 'sh', '-c', 'echo $((6*7)) > /x'],
    });
    expect(splitWords(`echo "a \\"b\\" \\$HOME \\n" c\\ d ''`)).toEqual({
      ok: true,
      words: ['echo', 'a "b" $HOME \\n', 'c d', ''],
    });
    expect(splitWords(`it's"x"'y'`)).toEqual({
      ok: false,
      error: "unexpected EOF while looking for matching `''",
    });
  });

  it('leaves $VAR literal', () => {
    expect(splitWords('docker run -e A=$HOME busybox')).toEqual({
      ok: true,
      words: ['docker', 'run', '-e', 'A=$HOME', 'busybox'],
    });
  });

  it('refuses pipes, redirection and lists with a hint', () => {
    for (const [line, op] of [
      ['docker images | head', '|'],
      ['docker save busybox > b.tar', '>'],
      ['docker pull busybox && docker images', '&&'],
      ['docker ps; ls', ';'],
      ['docker ps 2>&1', '>&'],
    ] as const) {
      const result = splitWords(line);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toContain(`\`${op}\` is not supported here`);
        expect(result.error).toContain('docker run -it busybox sh');
      }
    }
    expect(splitWords("docker run busybox sh -c 'a | b > c'").ok).toBe(true);
  });

  it('drops comments that start a word', () => {
    expect(splitWords('docker images # list them')).toEqual({ ok: true, words: ['docker', 'images'] });
    expect(splitWords('echo a#b')).toEqual({ ok: true, words: ['echo', 'a#b'] });
  });
});

describe('splitPartial', () => {
  it('gives the finished words and the one under the cursor', () => {
    expect(splitPartial('docker ru')).toEqual({ words: ['docker'], current: 'ru' });
    expect(splitPartial('docker run ')).toEqual({ words: ['docker', 'run'], current: '' });
    expect(splitPartial("docker run 'bus")).toEqual({
      words: ['docker', 'run'],
      current: 'bus',
      openQuote: "'",
    });
  });
});

describe('quoteWord', () => {
  it('quotes only what needs it', () => {
    expect(quoteWord('busybox:latest')).toBe('busybox:latest');
    expect(quoteWord("it's here")).toBe(`'it'\\''s here'`);
    expect(splitWords(`x ${quoteWord("it's here")}`)).toEqual({ ok: true, words: ['x', "it's here"] });
  });
});

describe('commandLines', () => {
  it('splits a code block into commands, joining continuations and dropping comments', () => {
    expect(
      commandLines('# pull first\ndocker pull busybox\n\ndocker run --rm \\\n  busybox echo hi\n'),
    ).toEqual(['docker pull busybox', 'docker run --rm    busybox echo hi']);
  });
});

describe('toCrlf', () => {
  it('turns lone LFs into CRLF and leaves CRLF alone', () => {
    expect(toCrlf(Buffer.from('a\nb\r\nc\n')).toString()).toBe('a\r\nb\r\nc\r\n');
    const untouched = Buffer.from('no newline');
    expect(toCrlf(untouched)).toBe(untouched);
  });
});
