// Docker's reference normalisation: the cases `docker pull` users meet, and properties over any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from '../../engine/errors.ts';
import {
  familiarName,
  familiarRepository,
  formatReference,
  parseReference,
  repositoryName,
} from '../../engine/reference/reference.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  const cases: [string, string, string][] = [
    // input, full form, familiar form
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['docker.io/user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
    ['127.0.0.1:5000/a/b:tag', '127.0.0.1:5000/a/b:tag', '127.0.0.1:5000/a/b:tag'],
    ['[::1]:5000/a', '[::1]:5000/a:latest', '[::1]:5000/a:latest'],
    ['example.com/a/b/c', 'example.com/a/b/c:latest', 'example.com/a/b/c:latest'],
    ['a.b-c__d.e', 'docker.io/library/a.b-c__d.e:latest', 'a.b-c__d.e:latest'],
    ['my--app/x_y', 'docker.io/my--app/x_y:latest', 'my--app/x_y:latest'],
    ['busybox:Tag_1.-x', 'docker.io/library/busybox:Tag_1.-x', 'busybox:Tag_1.-x'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
    [`127.0.0.1:5000/x@${D}`, `127.0.0.1:5000/x@${D}`, `127.0.0.1:5000/x@${D}`],
    ['Example.COM/x', 'Example.COM/x:latest', 'Example.COM/x:latest'],
  ];
  it.each(cases)('%s → %s', (input, full, familiar) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(full);
    expect(familiarName(ref)).toBe(familiar);
  });

  it('splits domain, path, tag and digest', () => {
    expect(parseReference('busybox')).toEqual({
      domain: 'docker.io',
      path: 'library/busybox',
      tag: 'latest',
    });
    expect(parseReference(`127.0.0.1:5000/a/b:t@${D}`)).toEqual({
      domain: '127.0.0.1:5000',
      path: 'a/b',
      tag: 't',
      digest: D,
    });
    // A digest without a tag gets no default tag: the digest is what is fetched.
    expect(parseReference(`busybox@${D}`).tag).toBeUndefined();
  });

  it('names repositories in full and familiar form', () => {
    expect(repositoryName(parseReference('busybox'))).toBe('docker.io/library/busybox');
    expect(familiarRepository(parseReference('busybox:1'))).toBe('busybox');
    expect(familiarRepository(parseReference('docker.io/library/a/b'))).toBe('library/a/b');
    expect(familiarRepository(parseReference('user/app'))).toBe('user/app');
    expect(familiarRepository(parseReference('localhost:5000/x:1'))).toBe('localhost:5000/x');
  });

  const invalid: [string, string][] = [
    ['', 'invalid reference format'],
    ['a:b:c', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['busybox:-tag', 'invalid reference format'],
    [`busybox:${'t'.repeat(129)}`, 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['busybox-', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['a/', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    [`busybox@md5:${'a'.repeat(32)}`, 'invalid reference format'],
    ['foo bar', 'invalid reference format'],
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['localhost:5000/Foo', 'invalid reference format: repository name (Foo) must be lowercase'],
    ['a', ''],
    [
      'a'.repeat(64),
      `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`,
    ],
    [
      `example.com/${'a'.repeat(250)}`,
      'invalid reference format: repository name must not be more than 255 characters',
    ],
  ];
  it.each(invalid.filter(([, m]) => m !== ''))('rejects %j', (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidReferenceError);
    expect((caught as Error).message).toBe(message);
    expect((caught as InvalidReferenceError).code).toBe('INVALID_REFERENCE');
  });
});

describe('reference properties', () => {
  const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, { maxLength: 20 });
  const domain = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      'docker.io',
      'localhost',
      'localhost:5000',
      '127.0.0.1:5000',
      'example.com',
      '[::1]:5000',
    ),
  );
  const tagArb = fc.option(fc.stringMatching(/^[\w][\w.-]{0,20}$/), { nil: undefined });
  const digestArb = fc.option(
    fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`),
    { nil: undefined },
  );
  const validReference = fc
    .record({
      domain,
      path: fc.array(component, { minLength: 1, maxLength: 3 }),
      tag: tagArb,
      digest: digestArb,
    })
    .map(
      ({ domain: d, path, tag, digest }) =>
        (d ? `${d}/` : '') + path.join('/') + (tag ? `:${tag}` : '') + (digest ? `@${digest}` : ''),
    );

  it('format(parse(x)) parses to the same reference', () => {
    fc.assert(
      fc.property(validReference, (input) => {
        const ref = parseReference(input);
        expect(parseReference(formatReference(ref))).toEqual(ref);
        // Docker's familiar form is ambiguous when a docker.io path starts like a host (`a.b/c`).
        if (ref.domain !== 'docker.io' || !ref.path.split('/')[0]!.includes('.')) {
          expect(parseReference(familiarName(ref))).toEqual(ref);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but InvalidReferenceError', () => {
    const noisy = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[a-zA-Z0-9:/@._\-[\]]{0,60}$/),
      validReference.map((s) => s.toUpperCase()),
    );
    fc.assert(
      fc.property(noisy, (input) => {
        try {
          parseReference(input);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidReferenceError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
