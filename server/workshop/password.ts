// Teacher and admin passwords: scrypt from node:crypto (salted, memory-hard) and a constant-time
// compare, so neither the stored hash nor the time a wrong guess takes gives the password away.

import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';

export interface PasswordHash {
  salt: Buffer;
  hash: Buffer;
}

const KEY_BYTES = 32;
// N = 2^14, r = 8: ~16 MB and tens of ms per guess; fine for a login form, costly for a brute force.
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, PARAMS, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return { salt, hash: await derive(password, salt) };
}

export async function verifyPassword(password: unknown, stored: PasswordHash): Promise<boolean> {
  // A non-string or absurdly long input still costs one derivation, so it is not faster to reject.
  const text = typeof password === 'string' && password.length <= 1024 ? password : '';
  const key = await derive(text, stored.salt);
  return timingSafeEqual(key, stored.hash) && text.length > 0;
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
