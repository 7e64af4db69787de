// The OCI JSON-schema check used by the integration tests: it accepts documents shaped like the
// spec's examples and refuses the mistakes the schemas exist to catch.
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import { assertLayoutSchemas, schemaProblems } from '../support/oci-validate.ts';

const configDigest = sha256(Buffer.from('{}'));
const layerDigest = sha256(Buffer.from('layer'));

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: configDigest, size: 2 },
  layers: [{ mediaType: MediaType.ociLayerGzip, digest: layerDigest, size: 5 }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};

const config = {
  created: '1970-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: { a: 'b' } },
  rootfs: { type: 'layers', diff_ids: [layerDigest] },
  history: [{ created: '1970-01-01T00:00:00Z', created_by: 'COPY . /' }],
};

describe('OCI schema validation', () => {
  it('accepts a well-formed manifest, config, index and layout file', () => {
    expect(schemaProblems('manifest', manifest)).toEqual([]);
    expect(schemaProblems('config', config)).toEqual([]);
    expect(
      schemaProblems('index', {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ mediaType: MediaType.ociManifest, digest: layerDigest, size: 10 }],
      }),
    ).toEqual([]);
    expect(schemaProblems('layout', { imageLayoutVersion: '1.0.0' })).toEqual([]);
  });

  it('refuses a manifest with a malformed digest, a missing config or the wrong schemaVersion', () => {
    const badDigest = { ...manifest, layers: [{ ...manifest.layers[0], digest: 'sha256:XYZ!' }] };
    expect(schemaProblems('manifest', badDigest).join('\n')).toMatch(/\/layers\/0\/digest/);
    const { config: _dropped, ...noConfig } = manifest;
    expect(schemaProblems('manifest', noConfig).join('\n')).toMatch(/config/);
    expect(schemaProblems('manifest', { ...manifest, schemaVersion: 1 })).not.toEqual([]);
    expect(schemaProblems('manifest', { ...manifest, annotations: { a: 1 } })).not.toEqual([]);
  });

  it('refuses a config whose created is not RFC 3339 or whose rootfs is missing', () => {
    expect(schemaProblems('config', { ...config, created: 'yesterday' }).join('\n')).toMatch(/created/);
    const { rootfs: _dropped, ...noRootfs } = config;
    expect(schemaProblems('config', noRootfs).join('\n')).toMatch(/rootfs/);
    expect(schemaProblems('config', { ...config, config: { Env: 'PATH=/bin' } })).not.toEqual([]);
  });

  it('walks an OCI layout from index.json to every manifest and config', () => {
    const configBytes = Buffer.from(JSON.stringify(config));
    const m = {
      ...manifest,
      config: { ...manifest.config, digest: sha256(configBytes), size: configBytes.length },
    };
    const manifestBytes = Buffer.from(JSON.stringify(m));
    const index = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.ociManifest, digest: sha256(manifestBytes), size: manifestBytes.length },
      ],
    };
    const hex = (b: Buffer) => sha256(b).slice('sha256:'.length);
    const files = new Map<string, Buffer>([
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      ['index.json', Buffer.from(JSON.stringify(index))],
      [`blobs/sha256/${hex(manifestBytes)}`, manifestBytes],
      [`blobs/sha256/${hex(configBytes)}`, configBytes],
    ]);
    expect(assertLayoutSchemas(files)).toBe(1);
    files.set('oci-layout', Buffer.from('{"imageLayoutVersion":1}'));
    expect(() => assertLayoutSchemas(files)).toThrow(/OCI layout schema/);
  });
});
