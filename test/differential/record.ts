// `npm run diff:record [case…]`: runs the differential cases on Docker (a private dockerd, busybox
// loaded from the image Layerlab builds for the lessons) and writes each case's expect.json. Cases
// Docker cannot run here (`dockerCannot` in case.json) keep their hand-written expect.json.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { seedRegistry } from '../../engine/image/seed.ts';
import { runRootOf } from '../../engine/store/paths.ts';
import { startDockerd } from '../support/dockerd.ts';
import { startTestRegistry } from '../support/registry.ts';
import { loadCases, type Recorded } from './cases.ts';
import { baseOf, dockerEngine, layerlabEngine, runCase } from './engines.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const wanted = new Set(process.argv.slice(2));
const scratch = mkdtempSync(join(tmpdir(), 'layerlab-diff-record-'));
const registry = await startTestRegistry();
const dockerd = await startDockerd(join(scratch, 'docker'));
try {
  // busybox as the lessons' registry holds it, built by Layerlab, loaded into Docker from `save`.
  const ctx = createContext(join(scratch, 'seed'), { config: engineConfigSchema.parse({ mirrors: {} }) });
  await seedRegistry(ctx, { registry: registry.host });
  const archive = join(scratch, 'busybox.tar');
  const saved = await layerlabEngine(ctx).run(['save', '-o', archive, 'busybox']);
  if (saved.status !== 0) throw new Error(`layerlab save busybox: ${saved.stderr}`);
  const loaded = await dockerd.docker(['load', '-i', archive]);
  if (loaded.status !== 0) throw new Error(`docker load: ${loaded.stderr}`);
  const docker = dockerEngine(dockerd);
  const base = await baseOf(docker);
  const written: string[] = [];
  for (const c of loadCases()) {
    if (wanted.size > 0 && !wanted.has(c.name)) continue;
    if (c.spec.dockerCannot) {
      console.log(`${c.name}: kept (Docker ${dockerd.version} cannot: ${c.spec.dockerCannot})`);
      continue;
    }
    const outcome = await runCase(docker, c, base);
    const recorded: Recorded = { docker: dockerd.version, ...outcome.comparable };
    const file = join(c.dir, 'expect.json');
    writeFileSync(file, `${JSON.stringify(recorded, null, 2)}\n`);
    written.push(file);
    console.log(
      `${c.name}: ${outcome.comparable.status === 0 ? `${outcome.comparable.layers?.length ?? 0} layer(s)` : `exit ${outcome.comparable.status}: ${outcome.comparable.error ?? ''}`}`,
    );
  }
  // As the repository formats JSON, so `biome check .` stays clean.
  if (written.length > 0) {
    spawnSync(join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', ...written], {
      stdio: 'inherit',
    });
  }
} finally {
  await dockerd.stop();
  await registry.stop();
  rmSync(runRootOf(join(scratch, 'seed')), { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}
