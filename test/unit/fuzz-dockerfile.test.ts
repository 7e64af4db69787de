// Fuzzing the Dockerfile front end (engine/builder/dockerfile.ts): arbitrary text and Dockerfiles built
// from instructions with hostile arguments (quotes, continuations, JSON, flags, heredocs, directives)
// either parse into steps that keep the builder's assumptions or are refused with a BuildError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandVariables, parseDockerfile } from '../../engine/builder/dockerfile.ts';
import { BuildError } from '../../engine/errors.ts';
import { fuzz, parsesOrRefuses } from '../fuzz/budget.ts';

const isBuildError = (err: unknown) => err instanceof BuildError;

const keyword = fc.oneof(
  fc.constantFrom(
    'FROM',
    'RUN',
    'CMD',
    'ENTRYPOINT',
    'SHELL',
    'COPY',
    'ADD',
    'ENV',
    'LABEL',
    'ARG',
    'WORKDIR',
    'USER',
    'STOPSIGNAL',
    'EXPOSE',
    'VOLUME',
    'ONBUILD',
    'HEALTHCHECK',
    'MAINTAINER',
  ),
  fc.constantFrom('from', 'Run', 'copy', 'env', 'BOGUS', '#', '', '\\', '__proto__', 'constructor'),
);

const word = fc.oneof(
  fc.constantFrom(
    'busybox',
    'AS',
    'stage',
    '--chown=1:1',
    '--from=x',
    '--mount=type=cache,target=/x',
    '--platform=linux/amd64',
    '--',
    '=',
    'A=1',
    'A="x y"',
    "B='q'",
    'C=',
    '"',
    "'",
    '\\',
    '\\\n',
    '$',
    '${',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
    '${A:-d}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
    '${A:+x}',
    '$A',
    '\\$A',
    '[',
    ']',
    '["sh","-c","x"]',
    '[1,2]',
    '["a",',
    '<<EOF',
    '\nEOF\n',
    '# comment',
    '\r',
    '\t',
    '\u0000',
    '\ufeff',
    '/',
    '.',
    '..',
  ),
  fc.string({ maxLength: 8 }),
);

const instruction = fc
  .tuple(keyword, fc.array(word, { maxLength: 6 }), fc.constantFrom(' ', '  ', '\t'))
  .map(([k, args, sep]) => [k, ...args].join(sep));

const dockerfileText = fc
  .tuple(
    fc.constantFrom('', '# escape=`\n', '# syntax=docker/dockerfile:1\n', '\ufeff', 'ARG V=1\n'),
    fc.boolean(),
    fc.array(instruction, { maxLength: 10 }),
    fc.constantFrom('\n', '\r\n', '\n\n', ' \\\n'),
  )
  .map(([head, from, lines, nl]) => head + (from ? 'FROM busybox\n' : '') + lines.join(nl));

/** The assumptions the builder makes about parsed steps. */
function expectBuildable(text: string): void {
  const steps = parsesOrRefuses(() => parseDockerfile(text), isBuildError);
  if (!steps) return;
  expect(steps.filter((s) => s.step.kind === 'FROM').length).toBeGreaterThanOrEqual(1);
  const first = steps.findIndex((s) => s.step.kind !== 'ARG');
  expect(steps[first]?.step.kind).toBe('FROM');
  for (const { step, text: shown, line } of steps) {
    expect(line).toBeGreaterThanOrEqual(1);
    expect(shown.toUpperCase().startsWith(step.kind)).toBe(true);
    switch (step.kind) {
      case 'COPY':
      case 'ADD':
        // A heredoc (`COPY <<EOF /x`) is an inline source, not a path of the context.
        expect(step.sources.length + ('inline' in step ? (step.inline?.length ?? 0) : 0)).toBeGreaterThan(0);
        expect(typeof step.dest).toBe('string');
        break;
      case 'RUN':
      case 'CMD':
      case 'ENTRYPOINT':
      case 'SHELL':
        expect(step.command.args.every((a) => typeof a === 'string')).toBe(true);
        break;
      case 'ENV':
      case 'LABEL':
        expect(step.pairs.length).toBeGreaterThan(0);
        break;
    }
  }
}

describe('fuzz: Dockerfile parser', () => {
  it('parses or refuses arbitrary text', async () => {
    await fuzz(
      'dockerfile/arbitrary-text',
      1000,
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => expectBuildable(text)),
    );
  });

  it('parses or refuses Dockerfiles of hostile instructions', async () => {
    await fuzz(
      'dockerfile/instructions',
      1500,
      fc.property(dockerfileText, (text) => expectBuildable(text)),
    );
  });

  it('expands variables in any text or refuses it with a BuildError', async () => {
    await fuzz(
      'dockerfile/expand-variables',
      1000,
      fc.property(
        fc.array(fc.oneof(word, fc.string({ maxLength: 4 })), { maxLength: 10 }).map((w) => w.join('')),
        fc.dictionary(
          fc.constantFrom('A', 'B', 'C', '__proto__', 'constructor'),
          fc.string({ maxLength: 5 }),
        ),
        (text, vars) => {
          // Docker's lexer refuses some words (an unclosed quote, `${`): with a BuildError, never another.
          const out = parsesOrRefuses(
            () => expandVariables(text, new Map(Object.entries(vars))),
            isBuildError,
          );
          if (out === undefined) return;
          expect(typeof out).toBe('string');
          // Without `$`, quotes and escapes, text is left as is.
          if (!/[$'"\\]/.test(text)) expect(out).toBe(text);
        },
      ),
    );
  });
});
