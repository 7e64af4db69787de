// A build's transcript from its `build.*` events, in the two forms Docker prints: BuildKit's plain
// progress (`#5 [2/3] RUN …`, `#5 CACHED`, `#5 DONE 0.3s`; Docker's default builder) and the classic
// builder's (`Step 2/3 : RUN …`, ` ---> Running in …`, `Successfully built …`; `DOCKER_BUILDKIT=0`).
// Both name the working container each RUN step runs in: the classic builder's is an ordinary one,
// which lesson 12 catches in `ps -a`; BuildKit's is hidden (`ps --external` shows it).

import type { BuildVertex, EngineEvent } from '../events.ts';
import { shortId } from '../oci/digest.ts';
import { familiarName, parseReference } from '../reference/reference.ts';

export type BuildEvent = Extract<EngineEvent, { type: `build.${string}` }>;

/** Renders build events as text; `fail` renders what the failing step ends with. */
export interface BuildTranscript {
  render(event: BuildEvent): string;
  fail(message: string): string;
}

/** The classic builder's lines (moby builder/dockerfile), one event at a time. */
export function classicTranscript(): BuildTranscript {
  return {
    render(event) {
      switch (event.type) {
        case 'build.step':
          return `Step ${event.step}/${event.total} : ${event.instruction}\n`;
        case 'build.container':
          return ` ---> Running in ${shortId(event.id)}\n`;
        case 'build.output':
          return event.data;
        case 'build.note':
          return `${event.text}\n`;
        case 'build.step-done': {
          if (event.imageId === undefined) return '';
          const id = ` ---> ${shortId(event.imageId)}\n`;
          if (event.cached) return ` ---> Using cache\n${id}`;
          if (event.container !== undefined) {
            return ` ---> Removed intermediate container ${shortId(event.container)}\n${id}`;
          }
          return id;
        }
        case 'build.done':
          return [
            `Successfully built ${shortId(event.imageId)}\n`,
            ...event.tags.map((tag) => `Successfully tagged ${familiarName(parseReference(tag))}\n`),
          ].join('');
      }
    },
    fail: () => '',
  };
}

function vertexLabel(vertex: BuildVertex): string {
  // BuildKit pads the index to the width of the total (`[ 2/12]`).
  const index = String(vertex.index).padStart(String(vertex.total).length, ' ');
  return `[${vertex.stage === undefined ? '' : `${vertex.stage} `}${index}/${vertex.total}]`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/**
 * BuildKit's plain progress (`--progress=plain`): each filesystem step a numbered vertex, its output
 * prefixed with the seconds since it began, config-only instructions not shown, and the export last.
 * Layerlab's builder runs RUN steps in working containers, as the classic builder does; the line
 * `#5 working container <id>` says which, where BuildKit has none to name.
 */
export function buildkitTranscript(now: () => number = Date.now): BuildTranscript {
  let vertexNo = 1;
  /** The vertex of the step in progress, with its number, start and unfinished output line. */
  let current: { no: number; label: string; started: number; partial: string } | undefined;
  let started = false;

  const header = (): string => {
    if (started) return '';
    started = true;
    return '#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n\n';
  };
  const lines = (data: string): string => {
    if (current === undefined) return '';
    const { no } = current;
    const parts = (current.partial + data).split('\n');
    current.partial = parts.pop() ?? '';
    const at = ((now() - current.started) / 1000).toFixed(3);
    return parts.map((line) => `#${no} ${at} ${line}\n`).join('');
  };
  const flush = (): string => (current && current.partial !== '' ? lines('\n') : '');

  return {
    render(event) {
      switch (event.type) {
        case 'build.step': {
          const out = header();
          if (event.vertex === undefined) return out;
          vertexNo++;
          const text = event.from === undefined ? event.instruction : `FROM ${event.from}`;
          const label = `${vertexLabel(event.vertex)} ${text}`;
          current = { no: vertexNo, label, started: now(), partial: '' };
          return `${out}#${vertexNo} ${label}\n`;
        }
        case 'build.container':
          return current === undefined ? '' : `#${current.no} working container ${shortId(event.id)}\n`;
        case 'build.output':
          return lines(event.data);
        case 'build.note':
          return current === undefined ? '' : `#${current.no} ${event.text}\n`;
        case 'build.step-done': {
          if (current === undefined) return '';
          const out = flush();
          const done = event.cached ? 'CACHED' : `DONE ${seconds(event.ms)}s`;
          const text = `${out}#${current.no} ${done}\n\n`;
          current = undefined;
          return text;
        }
        case 'build.done': {
          vertexNo++;
          const n = `#${vertexNo}`;
          return [
            header(),
            `${n} exporting to image\n`,
            `${n} exporting layers done\n`,
            `${n} writing image ${event.imageId} done\n`,
            ...event.tags.map((tag) => `${n} naming to ${tag} done\n`),
            `${n} DONE 0.0s\n`,
          ].join('');
        }
      }
    },
    fail(message) {
      if (current === undefined) return '';
      const { no, label } = current;
      current = undefined;
      return `#${no} ERROR: ${message}\n------\n > ${label}:\n------\n`;
    },
  };
}
