// The Dockerfile front end: instructions become typed steps; unsupported features fail with a reason.
import { describe, expect, it } from 'vitest';
import { expandVariables, parseCommandForm, parseDockerfile } from '../../engine/builder/dockerfile.ts';
import { BuildError } from '../../engine/errors.ts';

// Dockerfile variables look like template placeholders; spelling them with this keeps them literal.
const $ = '$';

describe('parseDockerfile', () => {
  // Words keep their quotes here: the builder removes them as it expands variables, as Docker does.
  it('turns each instruction into a typed step and keeps its text for the step output', () => {
    const parsed = parseDockerfile(
      [
        '# a comment',
        'ARG BASE=busybox',
        `FROM ${$}{BASE} AS app`,
        'ENV A=1 B="two words"',
        'ENV C 3',
        'RUN echo hi \\',
        '  && echo there',
        'RUN ["/bin/sh", "-c", "echo x"]',
        'COPY --chown=1:2 a b /dst/',
        'ADD ["with space", "/x"]',
        'LABEL a=b "c d"=e',
        'EXPOSE 80/tcp 90',
        'WORKDIR /app',
        'USER nobody',
        'CMD ["sh"]',
        'ENTRYPOINT echo hello',
      ].join('\n'),
    );
    expect(parsed.map((p) => p.step)).toEqual([
      { kind: 'ARG', name: 'BASE', defaultValue: 'busybox' },
      { kind: 'FROM', image: `${$}{BASE}`, stage: 'app' },
      {
        kind: 'ENV',
        pairs: [
          ['A', '1'],
          ['B', '"two words"'],
        ],
      },
      { kind: 'ENV', pairs: [['C', '3']] },
      { kind: 'RUN', command: { args: ['echo hi   && echo there'], shell: true }, heredocs: [] },
      { kind: 'RUN', command: { args: ['/bin/sh', '-c', 'echo x'], shell: false }, heredocs: [] },
      { kind: 'COPY', sources: ['a', 'b'], inline: [], dest: '/dst/', chown: '1:2' },
      { kind: 'ADD', sources: ['with space'], inline: [], dest: '/x' },
      {
        kind: 'LABEL',
        pairs: [
          ['a', 'b'],
          ['"c d"', 'e'],
        ],
      },
      { kind: 'EXPOSE', values: ['80/tcp', '90'] },
      { kind: 'WORKDIR', value: '/app' },
      { kind: 'USER', value: 'nobody' },
      { kind: 'CMD', command: { args: ['sh'], shell: false } },
      { kind: 'ENTRYPOINT', command: { args: ['echo hello'], shell: true } },
    ]);
    expect(parsed[1]?.text).toBe(`FROM ${$}{BASE} AS app`);
    expect(parsed[1]?.line).toBe(3);
    expect(parsed.at(-2)?.text).toBe('CMD ["sh"]');
  });

  it('requires FROM first', () => {
    expect(() => parseDockerfile('RUN true')).toThrow(/no build stage in current context/);
    expect(() => parseDockerfile('# nothing')).toThrow(BuildError);
  });

  it('names unsupported instructions and flags', () => {
    expect(() => parseDockerfile('FROM a\nCOPY --exclude=b x y')).toThrow(
      /line 2: COPY --exclude is not supported/,
    );
    expect(() => parseDockerfile('FROM a\nRUN --mount=type=cache true')).toThrow(
      /RUN --mount is not supported/,
    );
    expect(() => parseDockerfile('FROM a\nCOPY onlyone')).toThrow(/at least two arguments/);
    expect(() => parseDockerfile('FROM a\nFROBNICATE x')).toThrow(/unknown instruction: FROBNICATE/);
  });
});

describe('parseCommandForm', () => {
  it('takes a JSON array of strings as exec form and anything else as shell form', () => {
    expect(parseCommandForm('["a", "b c"]')).toEqual({ args: ['a', 'b c'], shell: false });
    expect(parseCommandForm('[not json')).toEqual({ args: ['[not json'], shell: true });
    expect(parseCommandForm('[1, 2]')).toEqual({ args: ['[1, 2]'], shell: true });
  });
});

describe('expandVariables', () => {
  const vars = new Map([
    ['A', 'x'],
    ['EMPTY', ''],
  ]);
  it('expands the forms Docker supports', () => {
    expect(expandVariables(`$A/${$}{A}/${$}{B:-d}/${$}{A:-d}/${$}{A:+alt}/${$}{B:+alt}/\\$A`, vars)).toBe(
      'x/x/d/x/alt//$A',
    );
    expect(expandVariables(`${$}{EMPTY:-fallback}`, vars)).toBe('fallback');
  });
});
