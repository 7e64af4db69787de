// `docker ps` text: human durations and sizes, status words, the table and the container names.
import { describe, expect, it } from 'vitest';
import { randomName, validateName } from '../../engine/container/names.ts';
import {
  type ContainerRow,
  formatContainerTable,
  sizeText,
  statusText,
} from '../../engine/container/views.ts';
import { commandLine, ellipsis, formatTable, humanDuration, humanSize } from '../../engine/format/text.ts';

describe('humanDuration', () => {
  it.each([
    [500, 'Less than a second'],
    [1000, '1 second'],
    [3000, '3 seconds'],
    [60_000, 'About a minute'],
    [120_000, '2 minutes'],
    [3_600_000, 'About an hour'],
    [5 * 3_600_000, '5 hours'],
    [3 * 86_400_000, '3 days'],
    [20 * 86_400_000, '2 weeks'],
    [90 * 86_400_000, '3 months'],
    [800 * 86_400_000, '2 years'],
  ])('%d ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('humanSize', () => {
  it.each([
    [0, '0B'],
    [2, '2B'],
    [999, '999B'],
    [1234, '1.23kB'],
    [1_048_576, '1.05MB'],
    [4_260_000, '4.26MB'],
    [2_000_000_000, '2GB'],
  ])('%d bytes is %s', (bytes, text) => {
    expect(humanSize(bytes, 3)).toBe(text);
  });
});

describe('ps', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const row: ContainerRow = {
    id: 'a'.repeat(64),
    name: 'happy_turing',
    image: 'busybox',
    imageId: `sha256:${'b'.repeat(64)}`,
    command: commandLine('sh', ['-c', 'echo hello world from here']),
    created: '2026-01-01T11:58:00Z',
    status: 'running',
    exitCode: 0,
    startedAt: '2026-01-01T11:59:57Z',
    finishedAt: '0001-01-01T00:00:00Z',
    labels: {},
    external: false,
    sizeRw: 2,
    sizeRootFs: 4_260_002,
  };

  it('words the status like Docker', () => {
    expect(statusText(row, now)).toBe('Up 3 seconds');
    expect(
      statusText({ ...row, status: 'exited', exitCode: 137, finishedAt: '2026-01-01T11:59:55Z' }, now),
    ).toBe('Exited (137) 5 seconds ago');
    expect(statusText({ ...row, status: 'created' }, now)).toBe('Created');
    expect(sizeText(row)).toBe('2B (virtual 4.26MB)');
  });

  it('prints the table with quoted, truncated commands and padded columns', () => {
    const text = formatContainerTable([row], { now, size: true });
    expect(text.split('\n')).toEqual([
      'CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES          SIZE',
      'aaaaaaaaaaaa   busybox   "sh -c \'echo hello w…"   2 minutes ago   Up 3 seconds             happy_turing   2B (virtual 4.26MB)',
      '',
    ]);
    expect(ellipsis('abc', 3)).toBe('abc');
    expect(formatTable(['A', 'B'], [['xx', 'y']])).toBe('A         B\nxx        y\n');
  });

  it("quotes arguments with spaces in the COMMAND column, as Docker's daemon does", () => {
    expect(commandLine('sh', ['-c', 'exit 3'])).toBe("sh -c 'exit 3'");
    expect(commandLine('echo', ['hi'])).toBe('echo hi');
    const exited = { ...row, command: commandLine('sh', ['-c', 'exit 3']), status: 'exited' as const };
    expect(formatContainerTable([exited], { now }).split('\n')[1]).toContain(`"sh -c 'exit 3'"`);
    expect(formatContainerTable([row], { now, noTrunc: true })).toContain(
      `"sh -c 'echo hello world from here'"`,
    );
  });

  it('makes and checks names', () => {
    expect(randomName()).toMatch(/^[a-z]+_[a-z]+$/);
    expect(validateName('/web')).toBe('web');
    expect(() => validateName('-x')).toThrow(
      'Invalid container name (-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed',
    );
  });
});
