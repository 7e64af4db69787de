// Checks the host can run the engine at all: Linux, root, and overlayfs in the kernel (loading the
// module when it is only missing from /proc/filesystems).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SetupError } from './log.ts';

export function hasOverlayfs(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** Throws a `SetupError` naming the first missing requirement. */
export function checkHost(): void {
  if (process.platform !== 'linux') {
    throw new SetupError(
      `Layerlab needs Linux (it mounts overlayfs and runs containers with crun or runc); this is ${process.platform}, so run it in a Linux VM or a privileged Linux container.`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new SetupError(
      'Layerlab needs root for mounts and namespaces: run it again as root (for example with sudo).',
    );
  }
  if (!hasOverlayfs()) {
    spawnSync('modprobe', ['overlay'], { stdio: 'ignore' });
    if (!hasOverlayfs()) {
      throw new SetupError(
        'The kernel has no overlayfs and `modprobe overlay` did not load it: use a kernel built with CONFIG_OVERLAY_FS (any stock Debian or Ubuntu kernel has it).',
      );
    }
  }
}
