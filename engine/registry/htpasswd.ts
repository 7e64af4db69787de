// The bcrypt line distribution's htpasswd auth reads (`user:$2b$…`). Node has no bcrypt, so the hash
// comes from the system's libcrypt (libxcrypt, present on every glibc system), bound with koffi on
// first use: only setup and the test registry ever make one.

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { RegistryError } from '../errors.ts';

interface Koffi {
  load(path: string): { func(definition: string): unknown };
}

type Crypt = (phrase: string, setting: string) => string | null;
type Gensalt = (prefix: string, count: number, rbytes: Buffer, nrbytes: number) => string | null;

let bound: { crypt: Crypt; gensalt: Gensalt } | undefined;

function libcrypt(): { crypt: Crypt; gensalt: Gensalt } {
  if (bound) return bound;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libcrypt.so.1');
  bound = {
    crypt: lib.func('const char *crypt(const char *phrase, const char *setting)') as Crypt,
    gensalt: lib.func(
      'const char *crypt_gensalt(const char *prefix, unsigned long count, const uint8_t *rbytes, int nrbytes)',
    ) as Gensalt,
  };
  return bound;
}

/**
 * bcrypt's lowest cost: distribution checks the password on every request (a pull makes a dozen), and
 * the password is 256 random bits, so a slow hash would buy no safety against guessing.
 */
const COST = 4;

/** `username:<bcrypt hash of password>`, one htpasswd line. */
export function htpasswdLine(username: string, password: string): string {
  const { crypt, gensalt } = libcrypt();
  const entropy = randomBytes(16);
  const setting = gensalt('$2b$', COST, entropy, entropy.length);
  const hash = setting === null ? null : crypt(password, setting);
  if (hash === null || !hash.startsWith('$2b$')) {
    throw new RegistryError('cannot make a bcrypt hash for the registry credential: libcrypt refused');
  }
  return `${username}:${hash}`;
}
