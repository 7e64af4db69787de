// The docker-style argument parser: the flag shapes learners type (`-it`, `-e A=b`, `--name=x`, `--`),
// flags ending at the image for run/exec, and Docker's wording for mistakes.
import { describe, expect, it } from 'vitest';
import { type CommandSpec, formatHelp, parseArgs, UsageError } from '../../engine/cli/args.ts';

const run: CommandSpec = {
  name: 'run',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  stopAtPositional: true,
  minArgs: 1,
  flags: [
    { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open' },
    { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
    { name: 'detach', short: 'd', type: 'bool', description: 'Run in background' },
    { name: 'rm', type: 'bool', description: 'Remove when it exits' },
    { name: 'name', type: 'string', description: 'Assign a name' },
    { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
    { name: 'workdir', short: 'w', type: 'string', description: 'Working directory' },
    { name: 'user', short: 'u', type: 'string', description: 'Username or UID' },
    { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT' },
  ],
};

const stop: CommandSpec = {
  name: 'stop',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  minArgs: 1,
  flags: [{ name: 'time', short: 't', type: 'int', description: 'Seconds to wait' }],
};

function usageError(spec: CommandSpec, argv: string[]): UsageError {
  try {
    parseArgs(spec, argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('parseArgs', () => {
  it('reads combined short booleans and repeated list flags', () => {
    const p = parseArgs(run, ['-it', '-e', 'A=b', '-eC=d', '--env=E=f', 'busybox', 'sh']);
    expect(p.flags).toMatchObject({ interactive: true, tty: true, env: ['A=b', 'C=d', 'E=f'] });
    expect(p.args).toEqual(['busybox', 'sh']);
  });

  it('reads --name=x, --name x, --rm, -d, -w, -u and --entrypoint', () => {
    const p = parseArgs(run, [
      '--name=web',
      '--rm',
      '-d',
      '-w',
      '/tmp',
      '-u',
      '1000:1000',
      '--entrypoint',
      '',
      'busybox',
    ]);
    expect(p.flags).toMatchObject({
      name: 'web',
      rm: true,
      detach: true,
      workdir: '/tmp',
      user: '1000:1000',
      entrypoint: '',
    });
    expect(p.args).toEqual(['busybox']);
  });

  it('stops at the image for run: later flags belong to the container command', () => {
    const p = parseArgs(run, ['--rm', 'busybox', 'ls', '-la', '--rm']);
    expect(p.flags.rm).toBe(true);
    expect(p.args).toEqual(['busybox', 'ls', '-la', '--rm']);
  });

  it('treats everything after -- as arguments', () => {
    const p = parseArgs(run, ['-i', '--', '-weird-image']);
    expect(p.args).toEqual(['-weird-image']);
  });

  it('lets flags follow arguments for other commands, and reads -t 5 as an int', () => {
    const p = parseArgs(stop, ['web', '-t', '5', 'db']);
    expect(p.flags.time).toBe(5);
    expect(p.args).toEqual(['web', 'db']);
    expect(parseArgs(stop, ['-t5', 'web']).flags.time).toBe(5);
    expect(parseArgs(stop, ['--time=0', 'web']).flags.time).toBe(0);
  });

  it('accepts explicit boolean values', () => {
    expect(parseArgs(run, ['--rm=false', 'busybox']).flags.rm).toBe(false);
    expect(parseArgs(run, ['-d=true', 'busybox']).flags.detach).toBe(true);
  });

  it('notices --help and -h without checking the argument count', () => {
    expect(parseArgs(run, ['--help']).help).toBe(true);
    expect(parseArgs(stop, ['-h']).help).toBe(true);
  });

  it('rejects unknown flags with Docker wording', () => {
    const err = usageError(run, ['--foo', 'busybox']);
    expect(err.message).toBe('unknown flag: --foo');
    expect(err.command).toBe('run');
    expect(usageError(run, ['-z', 'busybox']).message).toBe("unknown shorthand flag: 'z' in -z");
    expect(usageError(run, ['-itz', 'busybox']).message).toBe("unknown shorthand flag: 'z' in -itz");
  });

  it('rejects missing and malformed values', () => {
    expect(usageError(run, ['--name']).message).toBe('flag needs an argument: --name');
    expect(usageError(run, ['-e']).message).toBe("flag needs an argument: 'e' in -e");
    expect(usageError(stop, ['-t', 'soon', 'web']).message).toBe(
      'invalid argument "soon" for "-t, --time" flag: strconv.ParseInt: parsing "soon": invalid syntax',
    );
  });

  it('checks the number of arguments', () => {
    const err = usageError(run, []);
    expect(err.message).toBe('"layerlab run" requires at least 1 argument.');
    expect(err.showUsage).toBe(true);
    const exact: CommandSpec = { ...stop, name: 'tag', minArgs: 2, maxArgs: 2, flags: [] };
    expect(usageError(exact, ['a']).message).toBe('"layerlab tag" requires exactly 2 arguments.');
    const none: CommandSpec = { ...stop, name: 'info', minArgs: 0, maxArgs: 0, flags: [] };
    expect(usageError(none, ['x']).message).toBe('"layerlab info" accepts no arguments.');
  });
});

describe('formatHelp', () => {
  it('prints usage, description and aligned options', () => {
    const help = formatHelp(stop);
    expect(help).toBe(
      [
        'Usage:  layerlab stop [OPTIONS] CONTAINER [CONTAINER...]',
        '',
        'Stop one or more running containers',
        '',
        'Options:',
        '  -t, --time int   Seconds to wait',
        '',
      ].join('\n'),
    );
  });
});
