// Choosing one manifest from an index: the host's platform in OCI terms (Node's x64 is amd64) and
// the matching rules Docker uses, variants included (arm64 means v8 when no variant is written).

import { LayerlabError } from '../errors.ts';
import type { Descriptor, Index, Platform } from '../oci/types.ts';

const NODE_TO_OCI_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
};

/** The platform this engine runs containers for: linux and the host's architecture. */
export function hostPlatform(): Platform {
  const architecture = NODE_TO_OCI_ARCH[process.arch] ?? process.arch;
  const platform: Platform = { os: 'linux', architecture };
  if (architecture === 'arm64') platform.variant = 'v8';
  if (architecture === 'arm') {
    const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
    platform.variant = `v${typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : 7}`;
  }
  return platform;
}

/** `linux/arm64/v8` */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** Parses `linux/amd64` or `linux/arm/v7`. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split('/');
  if (!os || !architecture || rest.length > 0) {
    throw new LayerlabError(
      'PLATFORM',
      `invalid platform ${JSON.stringify(text)}: expected os/arch[/variant]`,
      {
        input: text,
      },
    );
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

function normalizedVariant(platform: Platform): string | undefined {
  if (platform.variant) return platform.variant;
  if (platform.architecture === 'arm64') return 'v8';
  return undefined;
}

/** Variants an image may have and still run here: arm v7 runs v6 and v5 images, not the reverse. */
function compatibleVariants(want: Platform): (string | undefined)[] {
  const variant = normalizedVariant(want);
  if (want.architecture === 'arm' && variant) {
    const n = Number(variant.slice(1));
    const older: string[] = [];
    for (let v = n; v >= 5; v--) older.push(`v${v}`);
    return [...older, undefined];
  }
  return [variant, undefined];
}

/**
 * The index entry to run on `want`, preferring an exact variant. Attestations and other artifacts
 * (platform `unknown/unknown`) never match. Throws Docker's "no matching manifest" when none does.
 */
export function selectManifest(index: Index, want: Platform): Descriptor {
  const order = compatibleVariants(want);
  let best: { descriptor: Descriptor; rank: number } | undefined;
  for (const descriptor of index.manifests) {
    const p = descriptor.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    const variant = normalizedVariant(p);
    let rank = order.indexOf(variant);
    if (rank === -1 && variant !== undefined && normalizedVariant(want) === undefined) rank = order.length;
    if (rank === -1) continue;
    if (!best || rank < best.rank) best = { descriptor, rank };
  }
  if (!best) {
    throw new LayerlabError(
      'PLATFORM',
      `no matching manifest for ${formatPlatform(want)} in the manifest list entries`,
      { input: formatPlatform(want) },
    );
  }
  return best.descriptor;
}
