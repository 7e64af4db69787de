// The container image's first step (deploy/entrypoint, before `layerlab serve`): what `npm start`'s
// setup does for the local registry, with setup's own functions: start it on 127.0.0.1, as the
// image's `docker-registry` account, and seed it with the lesson images the nodes pull and push to.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registryPortFromEnv, rootFromEnv } from '../engine/config.ts';
import { hostProblems, probeHost } from '../engine/host/requirements.ts';
import { detail, SetupError, step } from '../scripts/setup/log.ts';
import { ensureRegistry, seedLessonImages } from '../scripts/setup/registry.ts';

/** The account the Debian package made for the registry (adduser --system docker-registry). */
const REGISTRY_USER = 'docker-registry';

/** Its uid and gid from /etc/passwd; a missing account is an image built without docker-registry. */
function systemUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined)
      return { uid: Number(uid), gid: Number(gid) };
  }
  throw new SetupError(`no ${name} account in /etc/passwd: install the docker-registry package`);
}

async function main(): Promise<void> {
  // Seeding builds images with the runtime, so on a host that cannot run containers nothing here can
  // work: the server's --require-host check then says what the host lacks, in one place.
  if (hostProblems(probeHost()).length > 0) return;
  const root = rootFromEnv();
  const port = registryPortFromEnv();
  step(`Local registry on 127.0.0.1:${port}`);
  const registry = await ensureRegistry(port, join(root, 'registry'), { user: systemUser(REGISTRY_USER) });
  step('Seeding the registry with the lesson images');
  detail(`${await seedLessonImages(root, registry)} image(s) in the registry`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  process.stderr.write(`layerlab: the local registry: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
