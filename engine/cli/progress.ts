// Pull and push progress as Docker prints it: one line per layer, rewritten in place on a terminal,
// and on a pipe only the status changes (no bars), exactly as Docker's jsonmessage renderer does.

import type { EngineEvent, EventSink } from '../events.ts';
import { humanSize } from '../format/text.ts';
import { shortId } from '../oci/digest.ts';

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Docker's `JSONProgress.String()` for bytes: `[=====>     ]  1.2MB/2.8MB`. The bar appears only when
 * the terminal is wider than 110 columns, as in Docker.
 */
export function progressBar(current: number, total: number, width = 200): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const percentage = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = width > 110 ? `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] ` : '';
  const numbers =
    current > total
      ? humanSize(current).padStart(8)
      : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/**
 * Lines keyed by id (a layer), updated in place on a terminal. Any line without an id starts a new
 * board, so later updates never climb above it (Docker clears its id history the same way).
 */
export class LineBoard {
  private readonly out: ProgressStream;
  private ids = new Map<string, number>();
  private last = new Map<string, string>();

  constructor(out: ProgressStream) {
    this.out = out;
  }

  get isTerminal(): boolean {
    return this.out.isTTY === true;
  }

  /** Sets the line for `id`. `withBar` lines are shown only on a terminal, as Docker does. */
  set(id: string, status: string, bar = ''): void {
    const text = bar === '' ? `${id}: ${status}` : `${id}: ${status} ${bar}`;
    if (!this.isTerminal) {
      if (bar !== '' || this.last.get(id) === status) return;
      this.last.set(id, status);
      this.out.write(`${text}\n`);
      return;
    }
    const shown = this.fit(text);
    const index = this.ids.get(id);
    if (index === undefined) {
      this.ids.set(id, this.ids.size);
      this.out.write(`${shown}\n`);
      return;
    }
    const up = this.ids.size - index;
    this.out.write(`\x1b[${up}A\r\x1b[2K${shown}\r\x1b[${up}B`);
  }

  /** A line that belongs to no layer (headers, the digest, the status). */
  line(text: string): void {
    this.ids = new Map();
    this.last = new Map();
    this.out.write(`${text}\n`);
  }

  private fit(text: string): string {
    const columns = this.out.columns ?? 0;
    return columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text;
  }
}

interface LayerState {
  state: string;
  announced: boolean;
}

/** Renders `pull.layer` events; the caller prints the header and the closing lines. */
export function pullProgress(out: ProgressStream): { sink: EventSink; downloaded: () => boolean } {
  const board = new LineBoard(out);
  const layers = new Map<string, LayerState>();
  let downloaded = false;
  const width = out.columns ?? 200;
  const sink = (event: EngineEvent): void => {
    if (event.type !== 'pull.layer') return;
    const id = shortId(event.digest);
    const layer = layers.get(id) ?? { state: '', announced: false };
    layers.set(id, layer);
    // "Pulling fs layer" waits for the first sign of work: a layer found in the store shows only
    // "Already exists", as in Docker.
    if (!layer.announced && event.state !== 'exists' && event.state !== 'waiting') {
      board.set(id, 'Pulling fs layer');
      layer.announced = true;
    }
    switch (event.state) {
      case 'exists':
        board.set(id, 'Already exists');
        break;
      case 'waiting':
        break;
      case 'downloading':
        downloaded = true;
        board.set(id, 'Downloading', progressBar(event.current ?? 0, event.size, width));
        break;
      case 'verifying':
        board.set(id, 'Verifying Checksum');
        break;
      case 'extracting':
        if (layer.state !== 'extracting') board.set(id, 'Download complete');
        if (event.current !== undefined) {
          board.set(id, 'Extracting', progressBar(event.current, event.size, width));
        } else if (board.isTerminal) {
          board.set(id, 'Extracting');
        }
        break;
      case 'complete':
        downloaded = true;
        board.set(id, 'Pull complete');
        break;
    }
    layer.state = event.state;
  };
  return { sink, downloaded: () => downloaded };
}

/** Renders `push.layer` events. */
export function pushProgress(out: ProgressStream): EventSink {
  const board = new LineBoard(out);
  const width = out.columns ?? 200;
  return (event: EngineEvent): void => {
    if (event.type !== 'push.layer') return;
    const id = shortId(event.digest);
    switch (event.state) {
      case 'preparing':
        board.set(id, 'Preparing');
        break;
      case 'exists':
        board.set(id, 'Layer already exists');
        break;
      case 'pushing':
        board.set(id, 'Pushing', progressBar(event.current ?? 0, event.size, width));
        break;
      case 'pushed':
        board.set(id, 'Pushed');
        break;
    }
  };
}
