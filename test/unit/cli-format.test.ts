// Docker's output shapes: tabwriter tables, go-units sizes and durations, and pull/push progress lines.
import { describe, expect, it } from 'vitest';
import { LineBoard, progressBar, pullProgress, pushProgress } from '../../engine/cli/progress.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { ago, ellipsis, formatTable, goFormatG, humanDuration, humanSize } from '../../engine/format/text.ts';
import type { Digest } from '../../engine/oci/digest.ts';

describe('formatTable', () => {
  it('pads like docker ps: widest cell + 3, at least 10, last column unpadded', () => {
    const out = formatTable(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
      [['4f1c2a9b8d7e', 'busybox', '"sh"', '2 seconds ago', 'Up 1 second', '', 'eager_turing']],
    );
    expect(out).toBe(
      'CONTAINER ID   IMAGE     COMMAND   CREATED         STATUS        PORTS     NAMES\n' +
        '4f1c2a9b8d7e   busybox   "sh"      2 seconds ago   Up 1 second             eager_turing\n',
    );
  });

  it('matches docker images for an empty store', () => {
    expect(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], [])).toBe(
      'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n',
    );
  });
});

describe('sizes and durations', () => {
  it('formats decimal sizes as go-units does', () => {
    expect(humanSize(0, 3)).toBe('0B');
    expect(humanSize(999, 3)).toBe('999B');
    expect(humanSize(1000, 3)).toBe('1kB');
    expect(humanSize(4_261_000, 3)).toBe('4.26MB');
    expect(humanSize(2_150_000)).toBe('2.15MB');
    expect(humanSize(1_234_567_890)).toBe('1.235GB');
    expect(humanSize(999_999, 3)).toBe('1e+03kB');
  });

  it("reproduces Go's %g", () => {
    expect(goFormatG(4, 3)).toBe('4');
    expect(goFormatG(4.1, 3)).toBe('4.1');
    expect(goFormatG(12.345, 4)).toBe('12.35');
    expect(goFormatG(999.9, 3)).toBe('1e+03');
  });

  it('formats durations as go-units HumanDuration', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(60_000)).toBe('About a minute');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(3_600_000)).toBe('About an hour');
    expect(humanDuration(3 * 3_600_000)).toBe('3 hours');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
    expect(humanDuration(21 * 86_400_000)).toBe('3 weeks');
    expect(humanDuration(90 * 86_400_000)).toBe('3 months');
    expect(humanDuration(800 * 86_400_000)).toBe('2 years');
    expect(ago('2020-01-01T00:00:00Z', Date.parse('2020-01-01T00:00:02Z'))).toBe('2 seconds ago');
    expect(ago(undefined)).toBe('N/A');
  });

  it('truncates with an ellipsis', () => {
    expect(ellipsis('/bin/sh -c echo hello world', 20)).toBe('/bin/sh -c echo hel…');
    expect(ellipsis('short', 20)).toBe('short');
  });
});

describe('progress', () => {
  it('draws the bar as Docker does on a wide terminal', () => {
    expect(progressBar(1_200_000, 2_800_000)).toBe(`[${'='.repeat(21)}>${' '.repeat(29)}]    1.2MB/2.8MB`);
    expect(progressBar(2_800_000, 2_800_000)).toBe(`[${'='.repeat(50)}>]    2.8MB/2.8MB`);
    expect(progressBar(1_200_000, 2_800_000, 80)).toBe('   1.2MB/2.8MB');
  });

  const digest = `sha256:a1b2c3d4e5f6${'0'.repeat(52)}` as Digest;
  const other = `sha256:ffeeddccbbaa${'0'.repeat(52)}` as Digest;
  const layer = (state: string, extra: Partial<EngineEvent> = {}) =>
    ({ type: 'pull.layer', ref: 'busybox', digest, size: 2_800_000, state, ...extra }) as EngineEvent;

  it('prints only status changes on a pipe', () => {
    let text = '';
    const { sink, downloaded } = pullProgress({ write: (s: string) => (text += s), isTTY: false });
    sink({ type: 'pull.layer', ref: 'busybox', digest: other, size: 10, state: 'exists' });
    sink(layer('waiting'));
    sink(layer('downloading', { current: 100 } as Partial<EngineEvent>));
    sink(layer('downloading', { current: 2_800_000 } as Partial<EngineEvent>));
    sink(layer('verifying'));
    sink(layer('extracting', { current: 10 } as Partial<EngineEvent>));
    sink(layer('complete'));
    expect(text).toBe(
      [
        'ffeeddccbbaa: Already exists',
        'a1b2c3d4e5f6: Pulling fs layer',
        'a1b2c3d4e5f6: Verifying Checksum',
        'a1b2c3d4e5f6: Download complete',
        'a1b2c3d4e5f6: Pull complete',
        '',
      ].join('\n'),
    );
    expect(downloaded()).toBe(true);
  });

  it('rewrites a layer line in place on a terminal', () => {
    let text = '';
    const board = new LineBoard({ write: (s: string) => (text += s), isTTY: true, columns: 200 });
    board.set('aaaaaaaaaaaa', 'Pulling fs layer');
    board.set('bbbbbbbbbbbb', 'Pulling fs layer');
    board.set('aaaaaaaaaaaa', 'Downloading', '1B/2B');
    expect(text).toBe(
      'aaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Pulling fs layer\n' +
        '\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading 1B/2B\r\x1b[2B',
    );
  });

  it('prints push states with Docker words', () => {
    let text = '';
    const sink = pushProgress({ write: (s: string) => (text += s), isTTY: false });
    const push = (state: string, d: Digest) =>
      sink({ type: 'push.layer', ref: 'x', digest: d, size: 5, state } as EngineEvent);
    push('preparing', digest);
    push('preparing', other);
    push('exists', other);
    push('pushing', digest);
    push('pushed', digest);
    expect(text).toBe(
      'a1b2c3d4e5f6: Preparing\nffeeddccbbaa: Preparing\nffeeddccbbaa: Layer already exists\na1b2c3d4e5f6: Pushed\n',
    );
  });
});
