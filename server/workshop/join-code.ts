// Workshop join codes: six characters a teacher can read out loud and students can type without
// confusing 0/O or 1/I. 32 symbols × 6 places = 2^30 codes, drawn with crypto.randomInt (unbiased).

import { randomInt } from 'node:crypto';

/** Upper-case letters and digits without 0, O, 1 and I. */
export const JOIN_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const JOIN_CODE_LENGTH = 6;

export function generateJoinCode(taken: (code: string) => boolean = () => false): string {
  for (;;) {
    let code = '';
    for (let i = 0; i < JOIN_CODE_LENGTH; i++)
      code += JOIN_CODE_ALPHABET[randomInt(JOIN_CODE_ALPHABET.length)];
    if (!taken(code)) return code;
  }
}

/** What a student typed or a URL carried, as a canonical code (case, spaces and dashes forgiven). */
export function normalizeJoinCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== JOIN_CODE_LENGTH) return undefined;
  for (const ch of code) if (!JOIN_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}
