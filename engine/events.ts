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
  | { type: 'build.step'; step: number; total: number; instruction: string; cached: boolean }
  | { type: 'build.output'; step: number; data: string }
  /**
   * A layer held device nodes, which were not created: as in a user-namespaced Docker, which cannot
   * make them either (moby's archive skips them), but said rather than done silently.
   */
  | { type: 'layer.devices-skipped'; diffId: Digest; count: number; paths: string[] };

export type EventSink = (event: EngineEvent) => void;

export const ignoreEvents: EventSink = () => {};
