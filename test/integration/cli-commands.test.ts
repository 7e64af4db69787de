// The CLI's Docker-compatible commands and messages against a fresh root and the seeded test
// registry, in-process through main() as the browser terminal runs it (issue #12's CLI list and
// issue #11's CLI messages): --format, --filter, -n/-l, --digests, system df -v and prune, logs
// --since, --env-file, --hostname, --memory/--cpus, cp, top, export, rename, pause, stats, port,
// rmi -f of an image in use, push of every layer, and the sandbox's refusals.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliOptions, runCli } from '../support/cli.ts';
import { freshContext, type TestContext, testRegistryHost } from '../support/context.ts';

let t: TestContext;
let scratch: string;
const cli = (args: string[], options: CliOptions = {}) => runCli(args, t.ctx, options);
/** As the browser terminal calls the CLI. */
const browser = (args: string[]) =>
  runCli(args, t.ctx, { program: 'docker', hideHostPaths: true, hostFiles: false });

async function ok(args: string[], options: CliOptions = {}): Promise<string> {
  const r = await cli(args, options);
  if (r.status !== 0) throw new Error(`${args.join(' ')} → ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a detached `sleep` container named `name`, with extra flags. */
async function sleeper(name: string, ...flags: string[]): Promise<string> {
  return (await ok(['run', '-d', '--name', name, ...flags, 'busybox', 'sleep', '600'])).trim();
}

beforeAll(async () => {
  t = freshContext();
  scratch = mkdtempSync(join(tmpdir(), 'layerlab-cli-cmds-'));
  await ok(['pull', 'busybox']);
}, 120_000);

afterAll(async () => {
  await cli(['rm', '-f', ...(await ok(['ps', '-aq'])).split('\n').filter(Boolean)]);
  t.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe('ps', () => {
  it('-q and -aq list ids one per line, ready for `docker rm $(docker ps -aq)`', async () => {
    const id = await sleeper('ps-q');
    await ok(['create', '--name', 'ps-created', 'busybox', 'true']);
    const running = (await ok(['ps', '-q'])).trim().split('\n');
    const all = (await ok(['ps', '-aq'])).trim().split('\n');
    expect(running).toContain(id.slice(0, 12));
    expect(all.length).toBeGreaterThan(running.length);
    for (const line of all) expect(line).toMatch(/^[0-9a-f]{12}$/);
    const removed = await cli(['rm', '-f', ...all.filter((i) => !running.includes(i))]);
    expect(removed.status).toBe(0);
    await ok(['rm', '-f', 'ps-q']);
  });

  it('--format with table, a bare template, json and a label method', async () => {
    await sleeper('fmt-web', '--label', 'tier=front');
    const table = await ok(['ps', '--format', 'table {{.Names}}\\t{{.Image}}\\t{{.State}}']);
    expect(table.split('\n')[0]).toBe('NAMES     IMAGE     STATE');
    expect(table).toMatch(/^fmt-web {3}busybox {3}running$/m);
    expect(await ok(['ps', '--format', '{{.Names}}:{{.Label "tier"}}', '-f', 'name=fmt-web'])).toBe(
      'fmt-web:front\n',
    );
    const json = JSON.parse((await ok(['ps', '--format', 'json', '-f', 'name=fmt-web'])).trim());
    expect(json).toMatchObject({
      Names: 'fmt-web',
      Image: 'busybox',
      State: 'running',
      Labels: 'tier=front',
    });
    expect(await ok(['ps', '--format', '{{upper .Names}} {{len .Names}}', '-f', 'name=^/fmt-web$'])).toBe(
      'FMT-WEB 7\n',
    );
    const bad = await cli(['ps', '--format', '{{nope}}']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('template parsing error: template: :1: function "nope" not defined\n');
    await ok(['rm', '-f', 'fmt-web']);
  });

  it('--filter status, name, id, label, exited, ancestor, before and since; -n and -l', async () => {
    expect((await cli(['run', '--name', 'f-exit3', 'busybox', 'sh', '-c', 'exit 3'])).status).toBe(3);
    await ok(['run', '--name', 'f-exit0', '--label', 'k=v', 'busybox', 'true']);
    const up = await sleeper('f-up');
    const names = async (...args: string[]) =>
      (await ok(['ps', '-a', '--format', '{{.Names}}', ...args])).trim().split('\n').filter(Boolean).sort();
    expect(await names('-f', 'status=exited', '-f', 'name=f-')).toEqual(['f-exit0', 'f-exit3']);
    expect(await names('-f', 'status=running', '-f', 'name=f-')).toEqual(['f-up']);
    expect(await names('-f', 'exited=3')).toEqual(['f-exit3']);
    expect(await names('-f', 'label=k=v')).toEqual(['f-exit0']);
    expect(await names('-f', 'label=k', '-f', 'name=f-exit')).toEqual(['f-exit0']);
    expect(await names('-f', `id=${up.slice(0, 6)}`)).toEqual(['f-up']);
    expect(await names('-f', 'ancestor=busybox', '-f', 'name=f-')).toEqual(['f-exit0', 'f-exit3', 'f-up']);
    expect(await names('-f', 'before=f-exit0', '-f', 'name=f-')).toEqual(['f-exit3']);
    expect(await names('-f', 'since=f-exit0', '-f', 'name=f-')).toEqual(['f-up']);
    // -n/-l look at every container, newest first.
    expect((await ok(['ps', '-l', '--format', '{{.Names}}'])).trim()).toBe('f-up');
    expect((await ok(['ps', '-n', '2', '--format', '{{.Names}}'])).trim().split('\n')).toEqual([
      'f-up',
      'f-exit0',
    ]);
    const bad = await cli(['ps', '-f', 'colour=red']);
    expect(bad.stderr).toBe("Error response from daemon: invalid filter 'colour'\n");
    await ok(['rm', '-f', 'f-exit3', 'f-exit0', 'f-up']);
  });
});

describe('images, history, inspect, info, version', () => {
  it('images --format, --digests and --filter', async () => {
    const table = await ok(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}']);
    expect(table).toBe('REPOSITORY   TAG\nbusybox      latest\n');
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{len .ID}}'])).toBe(
      'busybox:latest 12\n',
    );
    const digests = (await ok(['images', '--digests'])).split('\n');
    expect(digests[0]).toMatch(/^REPOSITORY {3}TAG {7}DIGEST {4,}IMAGE ID {7}CREATED {6,}SIZE$/);
    expect(digests[1]).toMatch(/^busybox {6}latest {4}sha256:[0-9a-f]{64} {3}[0-9a-f]{12} /);
    expect(await ok(['images', '-f', 'reference=busy*', '--format', '{{.Repository}}'])).toBe('busybox\n');
    expect(await ok(['images', '-f', 'reference=alp*', '--format', '{{.Repository}}'])).toBe('');
    expect(await ok(['images', '-f', 'dangling=true', '-q'])).toBe('');
    expect(await ok(['images', '-f', 'label=nope', '-q'])).toBe('');
    await ok(['tag', 'busybox', 'mine:later']);
    expect(await ok(['images', '-f', 'before=mine:later', '-q'])).toBe('');
    expect((await cli(['images', '-f', 'shape=round'])).stderr).toBe(
      "Error response from daemon: invalid filter 'shape'\n",
    );
    await ok(['rmi', 'mine:later']);
  });

  it('history --format with Docker’s headers', async () => {
    const out = await ok(['history', '--format', 'table {{.ID}}\\t{{.Size}}', 'busybox']);
    const [header, top] = out.split('\n');
    expect(header).toBe('IMAGE          SIZE');
    expect(top).toMatch(/^[0-9a-f]{12} {3}\S+B$/);
    expect(await ok(['history', '--format', '{{.CreatedAt}}', 'busybox'])).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/,
    );
  });

  it('inspect, image inspect and container inspect take --format', async () => {
    const id = (await ok(['images', '-q', '--no-trunc'])).trim();
    expect(await ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).toBe(`${id}\n`);
    expect(await ok(['image', 'inspect', '-f', '{{range .RepoTags}}{{println .}}{{end}}', 'busybox'])).toBe(
      'busybox:latest\n\n',
    );
    expect(await ok(['inspect', '-f', '{{len .RootFS.Layers}}', 'busybox'])).toMatch(/^[1-9]\d*\n$/);
    const missing = await cli(['image', 'inspect', '-f', '{{.Nope}}', 'busybox']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/map has no entry for key "Nope"/);
    await ok(['create', '--name', 'insp', '--hostname', 'box1', 'busybox', 'true']);
    expect(await ok(['container', 'inspect', '-f', '{{.Config.Hostname}} {{.State.Paused}}', 'insp'])).toBe(
      'box1 false\n',
    );
    await ok(['rm', 'insp']);
  });

  it('info and version take --format; --version is one Docker-like line', async () => {
    expect(await ok(['info', '--format', '{{.Images}} {{.Driver}}'])).toBe('1 overlayfs\n');
    expect(JSON.parse(await ok(['info', '--format', '{{json .}}']))).toMatchObject({ Images: 1 });
    expect(await ok(['version', '--format', '{{.Client.Os}}'])).toBe('linux\n');
    const line = await browser(['--version']);
    expect(line.stdout).toMatch(/^Docker version \d+\.\d+\.\d+\S*, build \S+\n$/);
    expect(line.stdout).not.toContain(process.version);
    const info = await browser(['info']);
    expect(info.stdout).not.toContain(t.root);
  });
});

describe('messages of the sandbox', () => {
  it('run -it without a terminal is refused as Docker refuses it', async () => {
    const r = await cli(['run', '-it', '--rm', 'busybox', 'true']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('the input device is not a TTY\n');
  });

  it('-p and --network say that ports and networks are not offered, and what to use', async () => {
    const p = await browser(['run', '-p', '8080:80', 'busybox']);
    expect(p.status).toBe(125);
    expect(p.stderr).toMatch(/^docker: publishing ports \(-p, -P\) is not offered in this sandbox/);
    expect(p.stderr).toContain('docker exec');
    expect(p.stderr).toContain("See 'docker run --help'.");
    const n = await browser(['create', '--network', 'host', 'busybox']);
    expect(n.stderr).toMatch(/only --network none is offered in this sandbox/);
  });

  it('run of an image the registry lacks: Docker’s lines, no layerlab prefix, and what is offered', async () => {
    const r = await browser(['run', 'no-such-image-here']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain("Unable to find image 'no-such-image-here:latest' locally\n");
    expect(r.stderr).toMatch(/^docker: Error response from daemon: /m);
    expect(r.stderr).not.toContain('layerlab:');
    expect(r.stderr).toMatch(
      /This sandbox pulls only from its own registry, which has: busybox, layerlab\/webapp/,
    );
    expect(r.stderr).toContain('Images here: busybox:latest.');
  });

  it('--memory and --cpus within the limits are applied, above them refused with the limit', async () => {
    const over = await browser(['run', '-m', '4g', 'busybox', 'true']);
    expect(over.status).toBe(125);
    expect(over.stderr).toMatch(/--memory=4g is above this sandbox's limit of 256MiB per container/);
    const cpus = await browser(['run', '--cpus', '8', 'busybox', 'true']);
    expect(cpus.stderr).toMatch(/--cpus=8 is above this sandbox's limit of 1 CPU per container/);
    await sleeper('limited', '--memory', '64m', '--cpus', '0.5');
    expect(await ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', 'limited'])).toBe(
      `${64 * 1024 * 1024} 500000000\n`,
    );
    const stats = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'limited']);
    expect(stats).toMatch(/^limited [\d.]+[KMG]?i?B \/ 64MiB\n$/);
    await ok(['rm', '-f', 'limited']);
  });

  it('--env-file and --hostname; env files only where host files are the caller’s', async () => {
    const file = join(scratch, 'app.env');
    writeFileSync(file, '# settings\nA=from file\nB=2\n\nCALLER\n');
    const out = await ok(
      [
        'run',
        '--rm',
        '--env-file',
        file,
        '-e',
        'B=flag',
        '-h',
        'myhost',
        'busybox',
        'sh',
        '-c',
        'echo "$A|$B|$CALLER|$(hostname)"',
      ],
      { env: { CALLER: 'yes' } },
    );
    expect(out).toBe('from file|flag|yes|myhost\n');
    const refused = await browser(['run', '--env-file', file, 'busybox', 'true']);
    expect(refused.status).toBe(125);
    expect(refused.stderr).toMatch(
      /--env-file reads a file on the host, which is not offered in this sandbox/,
    );
  });
});

describe('container commands', () => {
  it('cp both ways, through the container’s own tree; refused in the browser', async () => {
    await sleeper('cp-box');
    const src = join(scratch, 'in');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'hello.txt'), 'hello\n');
    const into = await cli(['cp', src, 'cp-box:/tmp/']);
    expect(into.status).toBe(0);
    expect(into.stderr).toMatch(/^Successfully copied \S+B to cp-box:\/tmp\/\n$/);
    expect(await ok(['exec', 'cp-box', 'cat', '/tmp/in/sub/hello.txt'])).toBe('hello\n');
    expect(await ok(['exec', 'cp-box', 'stat', '-c', '%u', '/tmp/in/sub/hello.txt'])).toBe('0\n');
    // A symlink planted in the container is copied as a link, never followed on the host.
    await ok(['exec', 'cp-box', 'sh', '-c', 'ln -s /etc/shadow /tmp/in/evil && echo c > /tmp/in/c.txt']);
    const out = join(scratch, 'out');
    expect((await cli(['cp', 'cp-box:/tmp/in', out])).status).toBe(0);
    expect(readFileSync(join(out, 'sub', 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(out, 'c.txt'), 'utf8')).toBe('c\n');
    expect(execFileSync('readlink', [join(out, 'evil')]).toString()).toBe('/etc/shadow\n');
    const missing = await cli(['cp', 'cp-box:/nope', out]);
    expect(missing.stderr).toBe(
      'Error response from daemon: Could not find the file /nope in container cp-box\n',
    );
    const refused = await browser(['cp', 'cp-box:/etc/hostname', '/tmp/x']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/copying to or from the host's files is not offered in this sandbox/);
    expect(refused.stderr).toContain('docker exec NAME cat /path');
  });

  it('top lists the processes; pause and unpause freeze them; ps and inspect say Paused', async () => {
    const top = await ok(['top', 'cp-box']);
    expect(top.split('\n')[0]).toMatch(/^UID +PID +PPID +C +STIME +TTY +TIME +CMD$/);
    expect(top).toMatch(/sleep 600$/m);
    await ok(['pause', 'cp-box']);
    expect(await ok(['ps', '--format', '{{.Status}}|{{.State}}', '-f', 'name=cp-box'])).toMatch(
      /^Up .+ \(Paused\)\|paused\n$/,
    );
    expect(await ok(['ps', '-q', '-f', 'status=paused'])).toMatch(/^[0-9a-f]{12}\n$/);
    expect(await ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'cp-box'])).toBe(
      'paused true\n',
    );
    expect((await cli(['pause', 'cp-box'])).stderr).toMatch(/is already paused/);
    await ok(['unpause', 'cp-box']);
    expect(await ok(['inspect', '-f', '{{.State.Status}}', 'cp-box'])).toBe('running\n');
    // A paused container still stops: the signal goes once it is thawed.
    await ok(['pause', 'cp-box']);
    await ok(['stop', '-t', '1', 'cp-box']);
    expect(await ok(['inspect', '-f', '{{.State.Status}}', 'cp-box'])).toBe('exited\n');
  });

  it('export writes the whole filesystem as a tar; rename; port prints nothing', async () => {
    const tar = join(scratch, 'box.tar');
    await ok(['export', '-o', tar, 'cp-box']);
    const names = execFileSync('tar', ['-tf', tar]).toString().split('\n');
    expect(names).toContain('bin/busybox');
    expect(names).toContain('tmp/in/sub/hello.txt');
    await ok(['rename', 'cp-box', 'renamed-box']);
    expect(await ok(['ps', '-a', '--format', '{{.Names}}', '-f', 'name=box'])).toBe('renamed-box\n');
    expect((await cli(['rename', 'renamed-box', 'renamed-box'])).stderr).toMatch(
      /Renaming a container with the same name as its current name/,
    );
    expect(await ok(['port', 'renamed-box'])).toBe('');
    await ok(['rm', 'renamed-box']);
  });

  it('logs --since keeps only later lines', async () => {
    await ok(['run', '--name', 'talker', 'busybox', 'echo', 'hello']);
    expect(await ok(['logs', '--since', '10m', 'talker'])).toBe('hello\n');
    expect(await ok(['logs', '--since', '2099-01-01T00:00:00Z', 'talker'])).toBe('');
    expect(await ok(['logs', '--since', '1', 'talker'])).toBe('hello\n');
    expect((await cli(['logs', '--since', 'yesterday', 'talker'])).stderr).toMatch(
      /invalid value for "since"/,
    );
    await ok(['rm', 'talker']);
  });
});

describe('images in use, push, system df and prune', () => {
  it('rmi -f of an image a container uses only untags it, as Docker does', async () => {
    await ok(['tag', 'busybox', 'inuse:1']);
    const id = (await ok(['images', '-q', 'inuse'])).trim();
    await ok(['create', '--name', 'user', 'inuse:1', 'true']);
    const r = await cli(['rmi', '-f', 'inuse:1']);
    expect(r.stdout).toBe('Untagged: inuse:1\n');
    expect(await ok(['image', 'inspect', '-f', '{{.Id}}', id])).toMatch(/^sha256:/);
    expect(await ok(['start', '-a', 'user'])).toBe('');
    await ok(['rm', 'user']);
  });

  it('push prints a line for every layer of a many-layer image', async () => {
    const host = testRegistryHost();
    if (!host) throw new Error('the integration setup starts a test registry');
    let image = 'busybox';
    for (const n of [1, 2, 3]) {
      await ok(['run', '--name', `layer${n}`, image, 'sh', '-c', `echo ${n} > /file${n}`]);
      image = `${host}/clitest/multi:${n}`;
      await ok(['commit', `layer${n}`, image]);
      await ok(['rm', `layer${n}`]);
    }
    // `progress`: the command's own event sink sees the engine's push events, as on a real root.
    const out = await ok(['push', image], { progress: true });
    const layers = out.split('\n').filter((l) => /^[0-9a-f]{12}: (Pushed|Layer already exists)$/.test(l));
    const diffIds = JSON.parse(await ok(['inspect', '-f', '{{json .RootFS.Layers}}', image])) as string[];
    expect(layers.map((l) => l.slice(0, 12)).sort()).toEqual(diffIds.map((d) => d.slice(7, 19)).sort());
    expect(layers).toHaveLength(4);
    expect(out).toMatch(/^3: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  });

  it('system df -v lists images, containers and the build cache; system prune asks, then prunes', async () => {
    await ok(['create', '--name', 'idle', 'busybox', 'true']);
    const df = await ok(['system', 'df', '-v']);
    expect(df).toMatch(
      /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
    );
    expect(df).toMatch(/^busybox +latest +[0-9a-f]{12} .* [1-9]\d*\n/m);
    expect(df).toContain('\nContainers space usage:\n\nCONTAINER ID   IMAGE');
    expect(df).toMatch(/ idle\n/);
    expect(df).toMatch(/\nBuild cache usage: \S+B\n/);
    const summary = await ok(['system', 'df']);
    const total = Number(/^Images +(\d+)/m.exec(summary)?.[1]);
    expect(total).toBe(new Set((await ok(['images', '-aq'])).trim().split('\n')).size);

    const declined = await cli(['system', 'prune'], { input: 'n\n' });
    expect(declined.stdout).toContain('WARNING! This will remove:\n  - all stopped containers\n');
    expect(declined.stdout).toContain('Are you sure you want to continue? [y/N] ');
    expect(await ok(['ps', '-aq', '-f', 'name=idle'])).not.toBe('');
    const pruned = await browser(['system', 'prune', '-af']);
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n/);
    expect(pruned.stdout).toMatch(/Total reclaimed space: \S+B\n$/);
    expect(await ok(['ps', '-aq'])).toBe('');
    expect(await ok(['images', '-q'])).toBe('');
  });
});
