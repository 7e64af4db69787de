import { describe, expect, it } from 'vitest';
import { UsageError } from '../../engine/cli/args.ts';
import { parseGlobal } from '../../engine/cli/main.ts';
import { reportError, runFailureStatus } from '../../engine/cli/report.ts';
import { renderTemplate } from '../../engine/cli/template.ts';
import { InvalidReferenceError, NotFoundError, RuntimeError } from '../../engine/errors.ts';
import { runCli } from '../support/cli.ts';

const cli = (argv: string[]) => runCli(argv);

describe('parseGlobal', () => {
  it('reads --root, --debug and stops at the command', () => {
    const g = parseGlobal(['--root', '/tmp/x', '-D', 'run', '--rm', 'busybox'], {});
    expect(g).toMatchObject({ root: '/tmp/x', debug: true, rest: ['run', '--rm', 'busybox'] });
    expect(parseGlobal(['--root=/r', 'ps'], {}).root).toBe('/r');
  });

  it('defaults the root from the caller’s LAYERLAB_ROOT, then /var/lib/layerlab (never the process’s)', () => {
    expect(parseGlobal(['ps'], { LAYERLAB_ROOT: '/srv/ll' }).root).toBe('/srv/ll');
    expect(parseGlobal(['ps'], {}).root).toBe('/var/lib/layerlab');
  });

  it('refuses unknown global flags', () => {
    expect(() => parseGlobal(['--bogus', 'ps'], {})).toThrow('unknown flag: --bogus');
  });
});

describe('main', () => {
  it('prints help with no command', async () => {
    const r = await cli([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: {2}layerlab \[OPTIONS\] COMMAND\n/);
    expect(r.stdout).toContain('Management Commands:');
  });

  it('prints a command’s help without touching the engine', async () => {
    const r = await cli(['tag', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'Usage:  layerlab tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nCreate a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n',
    );
  });

  it('names unknown commands as Docker does', async () => {
    expect(await cli(['frobnicate'])).toEqual({
      status: 1,
      stdout: '',
      stderr: "layerlab: 'frobnicate' is not a layerlab command.\nSee 'layerlab --help'\n",
    });
    expect((await cli(['image', 'frob'])).stderr).toContain("See 'layerlab image --help'");
  });

  it('exits 125 on an unknown flag and 1 with usage on a wrong argument count', async () => {
    expect(await cli(['ps', '--bogus'])).toEqual({
      status: 125,
      stdout: '',
      stderr: "unknown flag: --bogus\nSee 'layerlab ps --help'.\n",
    });
    const r = await cli(['tag', 'only-one']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      '"layerlab tag" requires exactly 2 arguments.\nSee \'layerlab tag --help\'.\n\n' +
        'Usage:  layerlab tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nCreate a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n',
    );
  });

  it('names group subcommands in errors', async () => {
    const r = await cli(['image', 'ls', '--bogus']);
    expect(r.stderr).toBe("unknown flag: --bogus\nSee 'layerlab image ls --help'.\n");
  });
});

describe('reportError', () => {
  it('words engine errors as the daemon’s, without a stack unless --debug', () => {
    const err = new NotFoundError('No such image: nope:latest');
    expect(reportError(err, undefined, false)).toEqual({
      text: 'Error response from daemon: No such image: nope:latest',
      status: 1,
    });
    expect(reportError(err, undefined, true).text).toContain('\n    at ');
    expect(reportError(new InvalidReferenceError('A', 'x'), undefined, false).text).toBe(
      'invalid reference format: x',
    );
    expect(reportError(new UsageError('unknown flag: --x', 'run'), undefined, false).status).toBe(125);
  });

  it('picks 127 / 126 / 125 for run failures', () => {
    expect(runFailureStatus(new RuntimeError('executable file `nope` not found in $PATH'))).toBe(127);
    expect(runFailureStatus(new RuntimeError('exec /x: permission denied'))).toBe(126);
    expect(runFailureStatus(new RuntimeError('cgroup setup failed'))).toBe(125);
  });
});

describe('renderTemplate', () => {
  const value = { State: { ExitCode: 3, Running: false }, Config: { Cmd: ['sh', '-c', 'x'], Env: null } };
  it('renders fields Go-style and json on request', () => {
    expect(renderTemplate('{{.State.ExitCode}}', value)).toBe('3');
    expect(renderTemplate('code={{ .State.ExitCode }} running={{.State.Running}}', value)).toBe(
      'code=3 running=false',
    );
    expect(renderTemplate('{{.Config.Cmd}}', value)).toBe('[sh -c x]');
    expect(renderTemplate('{{.Config.Env}}', value)).toBe('<nil>');
    expect(renderTemplate('{{json .Config.Cmd}}', value)).toBe('["sh","-c","x"]');
  });

  it('refuses what does not parse, and a missing key', () => {
    // `range` is supported now (test/unit/cli-template.test.ts); an unclosed one is Go's parse error.
    expect(() => renderTemplate('{{range .X}}', value)).toThrow('template: :1: unexpected EOF');
    expect(() => renderTemplate('{{template "x"}}', value)).toThrow(/not supported/);
    expect(() => renderTemplate('{{.Nope}}', value)).toThrow('map has no entry for key "Nope"');
  });
});
