// Digests name content: `algorithm:hex`. Layerlab writes sha256 only and accepts sha256/sha512 on read.

import { createHash, type Hash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';

declare const digestBrand: unique symbol;
/** A validated content digest such as `sha256:e3b0…`. */
export type Digest = string & { readonly [digestBrand]: true };

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new InvalidArgumentError(`invalid digest ${JSON.stringify(value)}`, value);
  return value;
}

export function digestAlgorithm(d: Digest): 'sha256' | 'sha512' {
  return d.slice(0, d.indexOf(':')) as 'sha256' | 'sha512';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/** The 12-character short form Docker prints for IDs. */
export function shortId(d: Digest | string): string {
  const hex = d.includes(':') ? d.slice(d.indexOf(':') + 1) : d;
  return hex.slice(0, 12);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export function digestFromHash(hash: Hash, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${hash.digest('hex')}` as Digest;
}
