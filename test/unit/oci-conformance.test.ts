// The OCI document checks of engine/validate.ts, on well-formed and broken manifests, configs and indexes.
import { describe, expect, it } from 'vitest';
import { checkConfig, checkDescriptor, checkIndex, checkManifest } from '../../engine/oci/conformance.ts';
import { MediaType } from '../../engine/oci/media-types.ts';

const D = `sha256:${'a'.repeat(64)}`;
const goodManifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: D, size: 10 },
  layers: [{ mediaType: MediaType.ociLayerGzip, digest: D, size: 5 }],
};
const goodConfig = {
  created: '2024-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/bin'], Cmd: ['sh'], ExposedPorts: { '80/tcp': {} } },
  rootfs: { type: 'layers', diff_ids: [D] },
  history: [{ created: '2024-01-01T00:00:00Z', created_by: 'x' }, { empty_layer: true }],
};

describe('OCI document checks', () => {
  it('accepts well-formed documents', () => {
    expect(checkManifest(goodManifest)).toEqual([]);
    expect(checkConfig(goodConfig)).toEqual([]);
    expect(
      checkIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [goodManifest.config] }),
    ).toEqual([]);
  });

  it('names each problem in a manifest', () => {
    const problems = checkManifest({
      schemaVersion: 1,
      config: { mediaType: 'text/plain', digest: 'sha256:zz', size: -1 },
      layers: [{ mediaType: 'application/json', digest: D, size: 1 }],
      annotations: { a: 1 },
    });
    expect(problems).toEqual([
      'manifest.schemaVersion: must be 2',
      'manifest.config.digest: not a digest: "sha256:zz"',
      'manifest.config.size: not a non-negative integer',
      'manifest.config.mediaType: unexpected "text/plain"',
      'manifest.layers[0].mediaType: not a layer type: "application/json"',
      'manifest.annotations: not a string map',
    ]);
  });

  it('names each problem in a config', () => {
    const problems = checkConfig({
      created: 'yesterday',
      os: 'linux',
      config: { Env: ['NOEQUALS'], ExposedPorts: { http: {} }, Cmd: 'sh' },
      rootfs: { type: 'fs', diff_ids: ['x'] },
      history: [{ empty_layer: 'yes' }],
    });
    expect(problems).toEqual([
      'config.architecture: missing',
      'config.created: not RFC 3339: "yesterday"',
      'config.rootfs.type: must be "layers"',
      'config.rootfs.diff_ids: not digests',
      'config.history[0].empty_layer: not a boolean',
      'config.config.Env: entry without =',
      'config.config.Cmd: not strings',
      'config.config.ExposedPorts: bad port "http"',
    ]);
  });

  it('checks descriptors', () => {
    expect(checkDescriptor({ mediaType: 'nope', digest: D, size: 1 }, 'd')).toEqual([
      'd.mediaType: not a media type: "nope"',
    ]);
    expect(checkDescriptor(null, 'd')).toEqual(['d: not an object']);
  });
});
