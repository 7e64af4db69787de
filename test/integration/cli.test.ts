// The real `layerlab` CLI as a child process against a fresh state root and the seeded test registry:
// Docker's transcripts, tables and exit statuses as a learner sees them.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../engine/cli/main.ts';
import { freshContext, type TestContext, testRegistryHost } from '../support/context.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'engine', 'cli', 'main.ts');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let t: TestContext;

/** Runs `layerlab --root <fresh root> ...args` with the Node that runs the tests (Node 24). */
function layerlab(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, '--root', t.root, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

beforeAll(() => {
  t = freshContext();
  const host = testRegistryHost();
  if (!host) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  // The CLI reads its configuration from the root, as a learner's would.
  writeFileSync(
    join(t.root, 'config.json'),
    JSON.stringify({ mirrors: { 'docker.io': [`http://${host}`] } }),
  );
});

afterAll(async () => {
  await layerlab(['container', 'prune', '-f']);
  t.cleanup();
});

describe('layerlab CLI', () => {
  it('pulls busybox with Docker’s transcript, then finds it up to date', async () => {
    const first = await layerlab(['pull', 'busybox']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['Using default tag: latest', 'latest: Pulling from library/busybox']);
    expect(lines).toContainEqual(expect.stringMatching(/^[0-9a-f]{12}: Pull complete$/));
    expect(lines.slice(-3)).toEqual([
      expect.stringMatching(/^Digest: sha256:[0-9a-f]{64}$/),
      'Status: Downloaded newer image for busybox:latest',
      'docker.io/library/busybox:latest',
    ]);
    // No progress bars on a pipe, as Docker.
    expect(first.stdout).not.toContain('[=');

    const second = await layerlab(['pull', 'busybox:latest']);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('Using default tag');
    expect(second.stdout).toContain('Status: Image is up to date for busybox:latest\n');
    expect(second.stdout).toMatch(/^[0-9a-f]{12}: Already exists$/m);
    expect(second.stdout).not.toContain('Pulling fs layer');
  });

  it('lists images in Docker’s table', async () => {
    const { stdout, code } = await layerlab(['images']);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    expect(header).toMatch(/^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {2,}SIZE$/);
    expect(rows).toContainEqual(
      expect.stringMatching(/^busybox {6}latest {4}[0-9a-f]{12} {3}\S.* ago {3,}[\d.]+[kM]?B$/),
    );
    const quiet = await layerlab(['images', '-q']);
    expect(quiet.stdout).toMatch(/^[0-9a-f]{12}\n$/);
  });

  it('runs a command and prints its output (run --rm busybox echo hi)', async () => {
    const { stdout, stderr, code } = await layerlab(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect(stderr).toBe('');
    expect(stdout).toBe('hi\n');
    expect(code).toBe(0);
  });

  it('exits with the container’s exit code', async () => {
    const { code } = await layerlab(['run', '--name', 'three', 'busybox', 'sh', '-c', 'exit 3']);
    expect(code).toBe(3);
  });

  it('shows the exited container in ps -a', async () => {
    const { stdout, code } = await layerlab(['ps', '-a']);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    expect(header).toMatch(/^CONTAINER ID {3}IMAGE {5}COMMAND {3,}CREATED {3,}STATUS {3,}PORTS {5}NAMES$/);
    const row = rows.find((r) => r.endsWith(' three'));
    expect(row).toMatch(
      /^[0-9a-f]{12} {3}busybox {3}"sh -c 'exit 3'" {3}.+ ago {3,}Exited \(3\) .+ ago {3,}three$/,
    );
    const running = await layerlab(['ps', '-q']);
    expect(running.stdout).toBe('');
  });

  it('exits 127 when the command does not exist', async () => {
    const { code, stderr } = await layerlab(['run', '--rm', 'busybox', 'no-such-command']);
    expect(code).toBe(127);
    expect(stderr).toContain('no-such-command');
  });

  it('refuses an unknown flag with exit status 125', async () => {
    const { code, stderr, stdout } = await layerlab(['run', '--foo', 'busybox']);
    expect(code).toBe(125);
    expect(stdout).toBe('');
    expect(stderr).toBe("unknown flag: --foo\nSee 'layerlab run --help'.\n");
  });

  it('reports an invalid reference in Docker’s words', async () => {
    const { code, stderr } = await layerlab(['pull', 'BusyBox']);
    expect(code).toBe(1);
    expect(stderr).toBe('invalid reference format: repository name (library/BusyBox) must be lowercase\n');
  });

  it('reports a missing image as the daemon would', async () => {
    const { code, stderr } = await layerlab(['rmi', 'no-such-image']);
    expect(code).toBe(1);
    expect(stderr).toBe('Error response from daemon: No such image: no-such-image:latest\n');
  });

  it('runs -it on a real terminal: raw input reaches the shell and its exit status comes back', async () => {
    // `script` gives the CLI a pseudo-terminal, as a learner's terminal would.
    const command = [process.execPath, MAIN, '--root', t.root, 'run', '-it', '--rm', 'busybox', 'sh']
      .map((w) => `'${w}'`)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 200 && !output.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      expect(output).toContain(text);
    };
    await waitFor('/ # ');
    child.stdin.write('echo tty-$((20+22)); tty\r');
    await waitFor('tty-42');
    await waitFor('/dev/pts/');
    child.stdin.write('exit 5\r');
    expect(await exited).toBe(5);
  });

  it('cancels a pull when the user presses Ctrl-C (an aborted signal) with status 130', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stderr = '';
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    const controller = new AbortController();
    controller.abort();
    const status = await main(
      ['--root', t.root, 'pull', 'layerlab/motd'],
      {
        stdin: new PassThrough() as unknown as NodeJS.ReadStream,
        stdout: out as unknown as NodeJS.WriteStream,
        stderr: err as unknown as NodeJS.WriteStream,
      },
      controller.signal,
    );
    expect(status).toBe(130);
    expect(stderr).toMatch(/cancelled\n$/);
    expect((await layerlab(['images', 'layerlab/motd'])).stdout).not.toContain('layerlab/motd');
  });
});
