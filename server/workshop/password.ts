// Teacher and admin passwords: scrypt from node:crypto (salted, memory-hard) and a constant-time
// compare, so neither the stored hash nor the time a wrong guess takes gives the password away.
// Derivations run on libuv's small thread pool, which file reads share: at most MAX_DERIVING run at
// once and at most MAX_WAITING wait, so a burst of logins can never take the pool from the site.

import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';

export interface PasswordHash {
  salt: Buffer;
  hash: Buffer;
}

/** Too many password checks are in flight; the caller answers 429 without deriving anything. */
export class PasswordBusyError extends Error {
  readonly code = 'busy';
  constructor() {
    super('too many sign-ins at once; try again in a moment');
    this.name = 'PasswordBusyError';
  }
}

const KEY_BYTES = 32;
// N = 2^14, r = 8: ~16 MB and tens of ms per guess; fine for a login form, costly for a brute force.
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
/** libuv's pool has 4 threads by default: two stay free for file reads (the site, the store). */
const MAX_DERIVING = 2;
const MAX_WAITING = 8;

let deriving = 0;
const waiting: (() => void)[] = [];

/** Runs `fn` holding one of the MAX_DERIVING slots; refuses at once when the wait line is full. */
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (deriving >= MAX_DERIVING) {
    if (waiting.length >= MAX_WAITING) throw new PasswordBusyError();
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else deriving++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter, so `deriving` never over-counts.
    const next = waiting.shift();
    if (next) next();
    else deriving--;
  }
}

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return withSlot(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(password.normalize('NFC'), salt, KEY_BYTES, PARAMS, (err, key) =>
          err ? reject(err) : resolve(key),
        );
      }),
  );
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return { salt, hash: await derive(password, salt) };
}

/** Throws PasswordBusyError when too many checks are in flight (nothing was derived). */
export async function verifyPassword(password: unknown, stored: PasswordHash): Promise<boolean> {
  // A non-string or absurdly long input still costs one derivation, so it is not faster to reject.
  const text = typeof password === 'string' && password.length <= 1024 ? password : '';
  const key = await derive(text, stored.salt);
  return timingSafeEqual(key, stored.hash) && text.length > 0;
}

const UNGUESSABLE: PasswordHash = { salt: randomBytes(16), hash: randomBytes(KEY_BYTES) };

/** Costs what a real check costs and always fails: an unknown workshop code answers like a wrong password. */
export async function verifyNothing(password: unknown): Promise<false> {
  await verifyPassword(password, UNGUESSABLE);
  return false;
}

/** A password to print at start when the teacher gave none: 4 groups of 4, ~80 bits. */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const groups: string[] = [];
  for (let g = 0; g < 4; g++) {
    let group = '';
    for (let i = 0; i < 4; i++) group += alphabet[randomInt(alphabet.length)];
    groups.push(group);
  }
  return groups.join('-');
}
