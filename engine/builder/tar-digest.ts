// The sha256 of a tar stream, used as the content hash of COPY sources before any blob is written.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Digest, digestFromHash } from '../oci/digest.ts';

export async function tarDigest(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return digestFromHash(hash);
}
