// `-v`/`--volume` and `--mount` as Docker's CLI reads them (cli/compose/loader volumespec, opts/mount.go),
// turned into the engine's mount specs: a named volume, an anonymous one, or a host path (bind).
// Pure: whether a bind is allowed, and where a volume lives, are decided at create.

import { posix } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import { isVolumeName, validateVolumeName } from './names.ts';

export const mountSpecSchema = z.object({
  /** `volume` with an empty source is anonymous: a directory that lives and dies with the container. */
  type: z.enum(['volume', 'bind']),
  /** The volume's name, or the host path of a bind. */
  source: z.string(),
  /** Absolute and clean, in the container. */
  target: z.string(),
  readonly: z.boolean().default(false),
  /** `-v /host:/path` makes a missing host directory, as Docker does; `--mount` refuses it. */
  createSource: z.boolean().default(false),
});
export type MountSpec = z.infer<typeof mountSpecSchema>;

function target(raw: string, spec: string): string {
  if (!raw.startsWith('/')) {
    throw new InvalidArgumentError(
      `invalid volume specification: '${spec}': invalid mount config for type "volume": invalid mount path: '${raw}' mount path must be absolute`,
      spec,
    );
  }
  const clean = posix.normalize(raw).replace(/(.)\/$/, '$1');
  if (clean === '/') {
    throw new InvalidArgumentError(
      `invalid volume specification: '${spec}': invalid mount config: destination can't be '/'`,
      spec,
    );
  }
  return clean;
}

/** `-v [SOURCE:]TARGET[:OPTIONS]`: a name is a volume, an absolute path a bind, nothing anonymous. */
export function parseVolumeFlag(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(`invalid volume specification: '${spec}'`, spec);
  }
  let readonly = false;
  if (parts.length === 3 || (parts.length === 2 && !parts[1]!.startsWith('/'))) {
    const options = parts.pop()!.split(',');
    for (const option of options) {
      if (option === 'ro') readonly = true;
      else if (!['rw', 'z', 'Z', 'nocopy', 'copy'].includes(option)) {
        throw new InvalidArgumentError(`invalid mode: ${option}`, spec);
      }
    }
  }
  if (parts.length === 1) {
    return { type: 'volume', source: '', target: target(parts[0]!, spec), readonly, createSource: false };
  }
  const [source, dest] = parts as [string, string];
  if (source.startsWith('/')) {
    return {
      type: 'bind',
      source: posix.normalize(source),
      target: target(dest, spec),
      readonly,
      createSource: true,
    };
  }
  if (!isVolumeName(source)) validateVolumeName(source);
  return { type: 'volume', source, target: target(dest, spec), readonly, createSource: false };
}

function boolValue(key: string, value: string | undefined, spec: string): boolean {
  if (value === undefined || ['1', 'true'].includes(value.toLowerCase())) return true;
  if (['0', 'false'].includes(value.toLowerCase())) return false;
  throw new InvalidArgumentError(
    `invalid argument "${spec}" for "--mount" flag: invalid value for ${key}: ${value}`,
    spec,
  );
}

/** `--mount type=volume,source=NAME,target=/path[,readonly]` (and `type=bind`). */
export function parseMountFlag(spec: string): MountSpec {
  let type = 'volume';
  let source = '';
  let dest: string | undefined;
  let readonly = false;
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : field.slice(eq + 1);
    switch (key) {
      case 'type':
        type = value ?? '';
        break;
      case 'source':
      case 'src':
        source = value ?? '';
        break;
      case 'target':
      case 'destination':
      case 'dst':
        dest = value ?? '';
        break;
      case 'readonly':
      case 'ro':
        readonly = boolValue(key, value, spec);
        break;
      case 'volume-nocopy':
      case 'consistency':
      case 'bind-propagation':
        break;
      default:
        throw new InvalidArgumentError(
          `invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`,
          spec,
        );
    }
  }
  if (type !== 'volume' && type !== 'bind') {
    throw new InvalidArgumentError(
      `invalid argument "${spec}" for "--mount" flag: mount type ${type} is not supported by Layerlab (volume and bind are)`,
      spec,
    );
  }
  if (dest === undefined || dest === '') {
    throw new InvalidArgumentError(`invalid argument "${spec}" for "--mount" flag: target is required`, spec);
  }
  if (type === 'bind') {
    if (!source.startsWith('/')) {
      throw new InvalidArgumentError(
        `invalid argument "${spec}" for "--mount" flag: invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`,
        spec,
      );
    }
    return {
      type: 'bind',
      source: posix.normalize(source),
      target: target(dest, spec),
      readonly,
      createSource: false,
    };
  }
  if (source !== '') validateVolumeName(source);
  return { type: 'volume', source, target: target(dest, spec), readonly, createSource: false };
}
