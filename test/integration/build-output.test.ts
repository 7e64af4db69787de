// What `build` prints: BuildKit's plain progress by default (Docker's default builder), the classic
// builder's transcript with DOCKER_BUILDKIT=0, each naming the working container a RUN step runs in,
// and a failing RUN reported (and its exit status chosen) as each builder does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { loadImage } from '../../engine/store/images.ts';
import { runCli } from '../support/cli.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';
import {
  openShell,
  runInShell,
  startTestServer,
  type TestClient,
  type TestServer,
} from '../support/server.ts';

let t: TestContext;
let ctx: EngineContext;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
});

afterAll(async () => {
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function context(dockerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-output-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** The ids of the working containers the engine reported, in order. */
function workingContainers(from: number): string[] {
  return t.events.slice(from).flatMap((e) => (e.type === 'build.container' ? [e.id] : []));
}

const DOCKERFILE = 'FROM busybox\nCOPY a.txt /a.txt\nENV GREETING=hi\nRUN echo "$GREETING from RUN"\n';

describe('BuildKit progress (the default)', () => {
  it('numbers the filesystem steps per stage, prefixes RUN output, names the working container', async () => {
    const dir = context(DOCKERFILE);
    const mark = t.events.length;
    const first = await runCli(['build', '-t', 'out:1', dir], ctx, { progress: true });
    expect(first.status, first.stderr).toBe(0);
    const out = first.stdout;
    const [working] = workingContainers(mark);
    expect(working).toMatch(/^[0-9a-f]{64}$/);
    expect(out).toMatch(/^#1 \[internal\] load build definition from Dockerfile$/m);
    expect(out).toMatch(/^#2 \[1\/3\] FROM docker\.io\/library\/busybox:latest$/m);
    expect(out).toMatch(/^#3 \[2\/3\] COPY a\.txt \/a\.txt\n#3 DONE \d+\.\ds$/m);
    // ENV changes only the config: BuildKit shows no step for it.
    expect(out).not.toContain('ENV GREETING');
    expect(out).toMatch(/^#4 \[3\/3\] RUN echo "\$GREETING from RUN"$/m);
    expect(out).toContain(`#4 working container ${working!.slice(0, 12)}\n`);
    expect(out).toMatch(/^#4 \d+\.\d{3} hi from RUN$/m);
    expect(out).toMatch(/^#5 exporting to image$/m);
    const image = await loadImage(ctx, 'out:1');
    expect(out).toContain(`#5 writing image ${image.id} done\n`);
    expect(out).toContain('#5 naming to docker.io/library/out:1 done\n');
    expect(out).not.toMatch(/^Step |Successfully|---> /m);
    expect(first.stderr).toBe('');

    const again = await runCli(['build', '-t', 'out:2', dir], ctx, { progress: true });
    expect(again.stdout).toMatch(/^#3 \[2\/3\] COPY a\.txt \/a\.txt\n#3 CACHED$/m);
    expect(again.stdout).toMatch(/^#4 \[3\/3\] RUN echo "\$GREETING from RUN"\n#4 CACHED$/m);
    expect(again.stdout).not.toContain('working container');
  });

  it('names each stage of a multi-stage build', async () => {
    const dir = context('FROM busybox AS build\nRUN echo x > /x\n\nFROM scratch\nCOPY --from=build /x /x\n');
    const result = await runCli(['build', dir], ctx, { progress: true });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^#2 \[build 1\/2\] FROM docker\.io\/library\/busybox:latest$/m);
    expect(result.stdout).toMatch(/^#3 \[build 2\/2\] RUN echo x > \/x$/m);
    expect(result.stdout).toMatch(/^#4 \[stage-1 1\/2\] FROM scratch$/m);
    expect(result.stdout).toMatch(/^#5 \[stage-1 2\/2\] COPY --from=build \/x \/x$/m);
  });

  it('marks a failing RUN step ERROR and fails to solve, status 1', async () => {
    const result = await runCli(['build', context('FROM busybox\nRUN echo trying && exit 3\n')], ctx, {
      progress: true,
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^#3 \d+\.\d{3} trying$/m);
    const message = 'process "/bin/sh -c echo trying && exit 3" did not complete successfully: exit code: 3';
    expect(result.stdout).toContain(`#3 ERROR: ${message}\n------\n > [2/2] RUN echo trying && exit 3:\n`);
    expect(result.stderr.trim()).toBe(`ERROR: failed to solve: ${message}`);
  });
});

describe('the classic builder (DOCKER_BUILDKIT=0)', () => {
  const env = { DOCKER_BUILDKIT: '0' };

  it('prints Step N/M, the working container it runs in and removes, and Successfully built', async () => {
    const dir = context(DOCKERFILE);
    const mark = t.events.length;
    const result = await runCli(['build', '--no-cache', '-t', 'legacy:1', dir], ctx, { env, progress: true });
    expect(result.status, result.stderr).toBe(0);
    const [working] = workingContainers(mark);
    const short = working!.slice(0, 12);
    const image = await loadImage(ctx, 'legacy:1');
    const out = result.stdout;
    expect(out).toMatch(/^Step 1\/4 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/4 : COPY a\.txt \/a\.txt\n/);
    expect(out).toContain('Step 3/4 : ENV GREETING=hi\n');
    expect(out).toContain(
      `Step 4/4 : RUN echo "$GREETING from RUN"\n ---> Running in ${short}\nhi from RUN\n ---> Removed intermediate container ${short}\n ---> ${image.id.slice(7, 19)}\n`,
    );
    expect(out.endsWith(`Successfully built ${image.id.slice(7, 19)}\nSuccessfully tagged legacy:1\n`)).toBe(
      true,
    );
    expect(out).not.toMatch(/^#\d/m);
    expect(result.stderr).toContain('DEPRECATED: The legacy builder is deprecated');

    const cached = await runCli(['build', '-t', 'legacy:2', dir], ctx, { env, progress: true });
    expect(cached.stdout.match(/ ---> Using cache\n/g)).toHaveLength(3);
  });

  it('exits with the failing command’s status and the classic message', async () => {
    const result = await runCli(['build', context('FROM busybox\nRUN exit 3\n')], ctx, {
      env,
      progress: true,
    });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
  });
});

describe('history and parse errors follow the chosen builder', () => {
  const HISTORY_DOCKERFILE = 'FROM busybox\nWORKDIR /tmp\nCOPY a.txt /a.txt\nENV A=b\nRUN true\n';
  const history = async (tag: string) =>
    (await loadImage(ctx, tag)).config.history!.slice(-4).map((h) => [h.created_by, h.empty_layer === true]);
  const comments = async (tag: string) =>
    new Set((await loadImage(ctx, tag)).config.history!.slice(-4).map((h) => h.comment));

  it('BuildKit: its own history text, and WORKDIR a layer even when the directory exists', async () => {
    const result = await runCli(['build', '-t', 'hist:buildkit', context(HISTORY_DOCKERFILE)], ctx);
    expect(result.status, result.stderr).toBe(0);
    expect(await history('hist:buildkit')).toEqual([
      ['WORKDIR /tmp', false],
      ['COPY a.txt /a.txt # buildkit', false],
      ['ENV A=b', true],
      ['RUN /bin/sh -c true # buildkit', false],
    ]);
    expect(await comments('hist:buildkit')).toEqual(new Set(['buildkit.dockerfile.v0']));
  });

  it('classic (DOCKER_BUILDKIT=0): `#(nop)` text, and no layer for an existing WORKDIR', async () => {
    const env = { DOCKER_BUILDKIT: '0' };
    const result = await runCli(['build', '-t', 'hist:classic', context(HISTORY_DOCKERFILE)], ctx, { env });
    expect(result.status, result.stderr).toBe(0);
    expect(await history('hist:classic')).toEqual([
      ['/bin/sh -c #(nop) WORKDIR /tmp', true],
      [expect.stringMatching(/^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/a\.txt $/), false],
      ['/bin/sh -c #(nop)  ENV A=b', true],
      ['/bin/sh -c true', false],
    ]);
    expect(await comments('hist:classic')).toEqual(new Set([undefined]));
  });

  it('words a parse error as each builder does', async () => {
    const dir = context('FROM busybox\nFROBNICATE everything\n');
    const buildkit = await runCli(['build', dir], ctx);
    expect(buildkit.status).toBe(1);
    expect(buildkit.stderr.trim().split('\n').at(-1)).toBe(
      'failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 2: unknown instruction: FROBNICATE',
    );
    const classic = await runCli(['build', dir], ctx, { env: { DOCKER_BUILDKIT: '0' } });
    expect(classic.status).not.toBe(0);
    expect(classic.stderr).toContain('Dockerfile parse error line 2: unknown instruction: FROBNICATE');
  });
});

describe('in the browser terminal, the shell’s environment chooses', () => {
  let server: TestServer;
  let client: TestClient;
  let channel: number;

  beforeAll(async () => {
    server = await startTestServer();
    client = await server.connect((await server.newSession()).token);
    channel = await openShell(client);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('BuildKit by default, the classic builder after export DOCKER_BUILDKIT=0, times by SOURCE_DATE_EPOCH', async () => {
    await runInShell(
      client,
      channel,
      'docker build -t kit /lessons/hello-build',
      /naming to docker\.io\/library\/kit:latest done/,
      120_000,
    );
    expect(client.output(channel)).toMatch(/#\d+ working container [0-9a-f]{12}/);
    client.send({ type: 'terminal.run', terminal: 'main', command: 'export DOCKER_BUILDKIT=0' });
    client.send({ type: 'terminal.run', terminal: 'main', command: 'export SOURCE_DATE_EPOCH=1700000000' });
    await runInShell(client, channel, 'env', /\r\nSOURCE_DATE_EPOCH=1700000000\r\n/);
    const out = await runInShell(
      client,
      channel,
      'docker build -t classic /lessons/hello-build',
      /Successfully tagged classic:latest/,
      120_000,
    );
    expect(out).toMatch(/Step 1\/\d : FROM busybox/);
    expect(out).toMatch(/ ---> Running in [0-9a-f]{12}/);
    await runInShell(
      client,
      channel,
      'docker image inspect -f "created={{.Created}}" classic',
      /created=2023-11-14T22:13:20Z/,
    );
  });
});
