// Image references as Docker reads them (the distribution/reference grammar): `busybox` means
// `docker.io/library/busybox:latest`, a first component with `.`/`:` or `localhost` names a registry.

import { InvalidReferenceError } from '../errors.ts';
import { type Digest, isDigest } from '../oci/digest.ts';

export interface Reference {
  /** Registry host, with its port when one was given: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`, `user/app`. */
  path: string;
  tag?: string;
  /** When present, fetching goes by digest and the tag is only a label. */
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

// The pieces of the grammar, spelled as in distribution/reference/regexp.go.
const alphaNumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6Address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6Address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;

const REFERENCE_RE = new RegExp(`^((?:${domainAndPort}/)?${remoteName})(?::(${tag}))?(?:@(${digest}))?$`);
const TAG_RE = new RegExp(`^${tag}$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;

/** Splits `name` into domain and remainder the way Docker's splitDockerDomain does. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  let domain: string;
  let remainder: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses a reference as `docker pull` does, filling in the default registry, `library/` and the
 * `latest` tag (only when no digest is given). Throws `InvalidReferenceError` with Docker's wording.
 */
export function parseReference(input: string): Reference {
  if (ANCHORED_ID_RE.test(input)) {
    throw new InvalidReferenceError(
      input,
      undefined,
      `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const { domain, remainder } = splitDomain(input);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(input, `repository name (${remote}) must be lowercase`);
  }

  const match = REFERENCE_RE.exec(`${domain}/${remainder}`);
  if (!match) throw new InvalidReferenceError(input);
  const name = match[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(
      input,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const rawDigest = match[3];
  if (rawDigest !== undefined && !isDigest(rawDigest)) throw new InvalidReferenceError(input);

  const ref: Reference = { domain, path: name.slice(domain.length + 1) };
  if (match[2] !== undefined) ref.tag = match[2];
  if (rawDigest !== undefined) ref.digest = rawDigest as Digest;
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/** True when `value` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(value: string): boolean {
  return TAG_RE.test(value);
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full form: `docker.io/library/busybox:latest`, `127.0.0.1:5000/a@sha256:…`. */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + suffix(ref);
}

/** The repository as `docker images` shows it: `busybox`, `user/app`, `localhost:5000/x`. */
export function familiarRepository(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (
    ref.path.startsWith(OFFICIAL_REPO_PREFIX) &&
    ref.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) === -1
  ) {
    return ref.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return ref.path;
}

/** The short form Docker prints: `busybox:latest`, `user/app@sha256:…`, `localhost:5000/x:1`. */
export function familiarName(ref: Reference): string {
  return familiarRepository(ref) + suffix(ref);
}

/** The same repository with another tag (and no digest). */
export function withTag(ref: Reference, tagValue: string): Reference {
  return { domain: ref.domain, path: ref.path, tag: tagValue };
}

/** The same repository pinned to a digest (and no tag). */
export function withDigest(ref: Reference, digestValue: Digest): Reference {
  return { domain: ref.domain, path: ref.path, digest: digestValue };
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}
