// Docker's Dockerfile word processing (engine/builder/shell-lex.ts, a port of BuildKit's
// frontend/dockerfile/shell/lex.go) and parser rules (dockerfile-syntax.ts, dockerfile.ts). Each
// expectation is what Docker produces; the source is cited per table.
import { describe, expect, it } from 'vitest';
import { parseDockerfile, parseStages } from '../../engine/builder/dockerfile.ts';
import { exposedPorts } from '../../engine/builder/ports.ts';
import { processWord, processWords } from '../../engine/builder/shell-lex.ts';

const $ = '$'; // keeps Dockerfile variables out of template syntax
const env = new Map([
  ['A', 'a'],
  ['EMPTY', ''],
  ['PATHV', '/usr/local/bin/app.tar.gz'],
]);

// Cases from BuildKit's shell/envVarTest and lex_test.go, and dockerfile reference "Environment replacement".
const WORDS: [string, string][] = [
  [`${$}A`, 'a'],
  [`${$}{A}`, 'a'],
  [`'${$}A'`, `${$}A`], // single quotes keep $A literally
  [`\\${$}A`, `${$}A`], // an escaped $ stays literal
  [`"${$}A"`, 'a'],
  [`"\\${$}A"`, `${$}A`],
  [`${$}{UNSET:-x}`, 'x'],
  [`${$}{EMPTY:-x}`, 'x'],
  [`${$}{EMPTY-x}`, ''], // without the colon an empty value counts as set (lex.go since 2023)
  [`${$}{UNSET-x}`, 'x'],
  [`${$}{A:+y}`, 'y'],
  [`${$}{EMPTY+y}`, 'y'],
  [`${$}{EMPTY:+y}`, ''],
  [`${$}{PATHV##*/}`, 'app.tar.gz'],
  [`${$}{PATHV#*/}`, 'usr/local/bin/app.tar.gz'],
  [`${$}{PATHV%%.*}`, '/usr/local/bin/app'],
  [`${$}{PATHV%.*}`, '/usr/local/bin/app.tar'],
  [`${$}{PATHV/local/opt}`, '/usr/opt/bin/app.tar.gz'],
  ['a\\ b', 'a b'],
  [`"it's"`, "it's"],
  [`'a"b'`, 'a"b'],
  [`${$}`, '$'],
  [`${$}UNSET`, ''],
];

describe('processWord (BuildKit shell lexer)', () => {
  it.each(WORDS)('%s → %s', (word, expected) => {
    expect(processWord(word, env)).toBe(expected);
  });

  it("refuses what Docker's lexer refuses, with its text", () => {
    expect(() => processWord(`${$}{`, env)).toThrow(`failed to process "${$}{": syntax error: missing '}'`);
    // Go's string(EOF) is U+FFFD: Docker's own message for an unclosed `${A`.
    expect(() => processWord(`${$}{A`, env)).toThrow('unsupported modifier (\ufffd) in substitution');
    expect(() => processWord(`${$}{}`, env)).toThrow('syntax error: bad substitution');
    expect(() => processWord(`${$}{A:x}`, env)).toThrow('unsupported modifier (:x) in substitution');
    expect(() => processWord(`${$}{UNSET?must be set}`, env)).toThrow('UNSET: must be set');
    expect(() => processWord(`${$}{EMPTY:?}`, env)).toThrow('EMPTY: is not allowed to be empty');
    expect(() => processWord("'open", env)).toThrow(
      'unexpected end of statement while looking for matching single-quote',
    );
  });

  it('splits words after expansion, quotes respected (ProcessWords)', () => {
    expect(processWords(`80 "81 82" ${$}A`, env)).toEqual(['80', '81 82', 'a']);
    expect(processWords(`${$}{V:-8000 8001}`, env)).toEqual(['8000', '8001']);
  });
});

describe('EXPOSE ports (convert_expose.go)', () => {
  it('expands a range to one entry per port and defaults to tcp', () => {
    expect(exposedPorts(['8000-8002'])).toEqual(['8000/tcp', '8001/tcp', '8002/tcp']);
    expect(exposedPorts(['53/UDP', '80'])).toEqual(['53/udp', '80/tcp']);
    expect(() => exposedPorts(['http'])).toThrow('invalid containerPort: http');
  });
});

describe('Dockerfile parser (BuildKit parser.go, instructions/parse.go)', () => {
  it('reads heredocs for RUN and COPY: several, <<- tab stripping, quoted delimiters', () => {
    const [, run, copy] = parseDockerfile(
      [
        'FROM busybox',
        'RUN <<A cat - <<-"B"',
        'echo 1',
        'A',
        '\tkeep $X',
        '\tB',
        'COPY <<EOF /x',
        'hi',
        'EOF',
      ].join('\n'),
    );
    expect(run?.step).toMatchObject({
      kind: 'RUN',
      heredocs: [
        { name: 'A', expand: true, chomp: false, content: 'echo 1\n' },
        { name: 'B', expand: false, chomp: true, content: '\tkeep $X\n' },
      ],
    });
    expect(copy?.step).toMatchObject({
      kind: 'COPY',
      inline: [{ name: 'EOF', data: 'hi\n', expand: true }],
      dest: '/x',
    });
  });

  it('parses stages, HEALTHCHECK, ONBUILD, MAINTAINER and SHELL', () => {
    const parsed = parseStages(
      [
        'FROM busybox AS Build',
        'FROM build',
        'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 CMD wget -q localhost',
        'ONBUILD RUN echo hi',
        'MAINTAINER someone <a@b.c>',
        'SHELL ["/bin/sh", "-ec"]',
      ].join('\n'),
    );
    expect(parsed.stages.map((s) => s.name)).toEqual(['build', undefined]);
    expect(parsed.stages[1]!.instructions.map((i) => i.step)).toEqual([
      {
        kind: 'HEALTHCHECK',
        health: {
          Test: ['CMD-SHELL', 'wget -q localhost'],
          Interval: 30e9,
          Timeout: 5e9,
          StartPeriod: 60e9,
          Retries: 3,
        },
      },
      { kind: 'ONBUILD', expression: 'RUN echo hi' },
      { kind: 'MAINTAINER', value: 'someone <a@b.c>' },
      { kind: 'SHELL', command: { args: ['/bin/sh', '-ec'], shell: false } },
    ]);
    expect(parseDockerfile('FROM a\nHEALTHCHECK NONE')[1]?.step).toEqual({
      kind: 'HEALTHCHECK',
      health: { Test: ['NONE'] },
    });
  });

  // Messages from BuildKit's instructions/parse.go and bflag.go (the classic builder's capitalisation).
  it.each([
    ['FROM a\nCOPY --xyz=1 a /b', 'Unknown flag: xyz'],
    ['FROM a\nRUN --foo true', 'Unknown flag: foo'],
    ['FROM a\nONBUILD ONBUILD RUN x', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['FROM a\nONBUILD FROM b', "FROM isn't allowed as an ONBUILD trigger"],
    ['FROM a\nHEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
    ['FROM a\nHEALTHCHECK --retries=-1 CMD true', '--retries cannot be negative (-1)'],
    ['FROM a\nCOPY x', 'COPY requires at least two arguments, but only one was provided'],
    ['FROM a\nCOPY a <<EOF\nx\nEOF', 'COPY cannot accept a heredoc as a destination'],
    ['FROM a AS 1x', 'invalid name for build stage: "1x"'],
    ['FROM a\nRUN <<EOF\nnever ends', 'unterminated heredoc'],
    ['FROM a\nENV A', 'ENV must have two arguments'],
    ['FROM a\nFROBNICATE x', 'unknown instruction: FROBNICATE'],
  ])('%j fails with %j', (text, message) => {
    expect(() => parseDockerfile(text)).toThrow(message);
  });
});
