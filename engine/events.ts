// The typed events the engine emits while it works. The server forwards them to the page, where they
// drive the pictures (pull inspector, layer stack, image graph); the CLI renders some as progress.

import type { Digest } from './oci/digest.ts';

export type EngineEvent =
  | {
      type: 'pull.exchange';
      ref: string;
      step: 'ping' | 'token' | 'index' | 'manifest' | 'config';
      url: string;
      status: number;
      digest?: string;
      mediaType?: string;
    }
  | {
      type: 'pull.layer';
      ref: string;
      digest: Digest;
      size: number;
      state: 'waiting' | 'exists' | 'downloading' | 'verifying' | 'extracting' | 'complete';
      current?: number;
    }
  | { type: 'pull.done'; ref: string; imageId: Digest; manifestDigest: Digest }
  | {
      type: 'push.layer';
      ref: string;
      digest: Digest;
      size: number;
      state: 'preparing' | 'exists' | 'pushing' | 'pushed';
      current?: number;
    }
  | { type: 'push.done'; ref: string; manifestDigest: Digest; size: number }
  | { type: 'image.created'; imageId: Digest; ref?: string }
  | { type: 'image.tagged'; imageId: Digest; ref: string }
  | { type: 'image.untagged'; imageId: Digest; ref: string }
  | { type: 'image.removed'; imageId: Digest }
  | { type: 'container.created'; id: string; name: string; imageId: Digest }
  | { type: 'container.started'; id: string }
  | { type: 'container.exited'; id: string; exitCode: number }
  | { type: 'container.removed'; id: string }
  /**
   * A Dockerfile instruction begins (`step` of `total`, the classic builder's count). `vertex` is its
   * place among its stage's filesystem steps (FROM, RUN, COPY, ADD, WORKDIR), as BuildKit numbers
   * them (`[stage 2/3]`); config-only instructions have none. `from` is the image a FROM names.
   */
  | {
      type: 'build.step';
      step: number;
      total: number;
      instruction: string;
      cached: boolean;
      vertex?: BuildVertex;
      from?: string;
    }
  /** The working container that runs a RUN step (lesson 12 catches one with `ps -a --external`). */
  | { type: 'build.container'; step: number; id: string }
  /** Output of a RUN step's process. */
  | { type: 'build.output'; step: number; data: string }
  /** A line of the builder's own about a step (`# Executing 1 build trigger`). */
  | { type: 'build.note'; step: number; text: string }
  /** A step ended: the image it reached (none after `FROM scratch`), from the cache or made. */
  | {
      type: 'build.step-done';
      step: number;
      imageId?: Digest;
      cached: boolean;
      /** The working container it ran in, removed by now. */
      container?: string;
      ms: number;
    }
  /** The build ended: its image and the references it was tagged with (normalised). */
  | { type: 'build.done'; imageId: Digest; tags: string[] }
  /**
   * A layer held device nodes, which were not created: as in a user-namespaced Docker, which cannot
   * make them either (moby's archive skips them), but said rather than done silently.
   */
  | { type: 'layer.devices-skipped'; diffId: Digest; count: number; paths: string[] };

/** A step's place among its stage's filesystem steps, as BuildKit prints it: `[build 2/3]`. */
export interface BuildVertex {
  /** The stage's name (`stage-N` when unnamed) in a multi-stage build; none with one stage. */
  stage?: string;
  index: number;
  total: number;
}

export type EventSink = (event: EngineEvent) => void;

export const ignoreEvents: EventSink = () => {};
