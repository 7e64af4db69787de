// Docker's rule for a local volume's name (volume/local/local.go, validateName): also what keeps a
// name one plain path component under `volumes/`, never `..` or a `/`.

import { InvalidArgumentError } from '../errors.ts';

export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Whether `name` could be a volume's (else `-v` reads it as a host path or refuses it). */
export function isVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

/** `name` if it is a valid volume name; else Docker's refusal. */
export function validateVolumeName(name: string): string {
  if (!VOLUME_NAME.test(name)) {
    throw new InvalidArgumentError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      name,
    );
  }
  return name;
}
