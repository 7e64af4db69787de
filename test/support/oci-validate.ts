// Validates what the engine writes against the OCI image-spec's own JSON schemas (copied verbatim into
// oci-schemas/): manifests and configs of stored images, and OCI layouts as `save` writes them.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import tar from 'tar-stream';
import type { EngineContext } from '../../engine/context.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import { digestHex } from '../../engine/oci/digest.ts';
import type { Image } from '../../engine/oci/types.ts';
import { readBlob } from '../../engine/store/blobs.ts';

export type OciDocument = 'manifest' | 'index' | 'config' | 'layout' | 'descriptor';

const SCHEMA_DIR = join(import.meta.dirname, 'oci-schemas');
const SCHEMA_FILES: Record<OciDocument, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  layout: 'image-layout-schema.json',
  descriptor: 'content-descriptor.json',
};
const BASE = 'https://opencontainers.org/schema/';

/**
 * The spec's files carry nested draft-04 `id`s that move the base URI in ways that differ from file to
 * file (`…/schema/descriptor` vs `…/schema/image/manifest`), while their `$ref`s name sibling files.
 * The spec's own Go validator resolves those refs as file names; dropping the `id`s and giving each file
 * the URI of its name does the same here.
 */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'id' && typeof v === 'string') continue;
    out[key] = withoutIds(v);
  }
  return out;
}

let validators: Record<OciDocument, ValidateFunction> | undefined;

function compile(): Record<OciDocument, ValidateFunction> {
  // strict: false because the spec's schemas use keywords Ajv's strict mode flags (e.g. `id` in
  // properties' descriptions); the schemas are the authority, not Ajv's lint.
  // Both packages are CommonJS whose `module.exports` also carries a `default`; `.default` is what
  // TypeScript's NodeNext view and Node's own loader agree on.
  const ajv = new AjvDraft04.default({ strict: false, allErrors: true });
  ajvFormats.default(ajv as unknown as Parameters<typeof ajvFormats.default>[0]);
  for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
    const schema = withoutIds(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'))) as Record<
      string,
      unknown
    >;
    ajv.addSchema({ ...schema, id: BASE + file });
  }
  const get = (kind: OciDocument): ValidateFunction => {
    const fn = ajv.getSchema(BASE + SCHEMA_FILES[kind]);
    if (fn === undefined) throw new Error(`OCI schema ${SCHEMA_FILES[kind]} did not compile`);
    return fn;
  };
  return {
    manifest: get('manifest'),
    index: get('index'),
    config: get('config'),
    layout: get('layout'),
    descriptor: get('descriptor'),
  };
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Every way `doc` breaks the OCI schema for `kind`; empty when it conforms. */
export function schemaProblems(kind: OciDocument, doc: unknown): string[] {
  validators ??= compile();
  const validate = validators[kind];
  return validate(doc) ? [] : describe(validate.errors).map((p) => `${kind}: ${p}`);
}

function assertConforms(kind: OciDocument, doc: unknown, where: string): void {
  const problems = schemaProblems(kind, doc);
  if (problems.length > 0) {
    throw new Error(`${where} does not match the OCI ${kind} schema:\n  ${problems.join('\n  ')}`);
  }
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`${where} is not JSON`);
  }
}

/** Throws unless the stored manifest and config of `image` match the spec's schemas. */
export async function assertImageSchemas(ctx: EngineContext, image: Image): Promise<void> {
  const manifest = parseJson(await readBlob(ctx, image.manifestDigest), `manifest ${image.manifestDigest}`);
  assertConforms('manifest', manifest, `manifest ${image.manifestDigest}`);
  const configDigest = (manifest as { config: { digest: Digest } }).config.digest;
  const config = parseJson(await readBlob(ctx, configDigest), `config ${configDigest}`);
  assertConforms('config', config, `config ${configDigest}`);
}

/** The files of a tar archive (small archives only: everything is held in memory). */
export async function readTarFiles(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(archive);
  await done;
  return files;
}

/**
 * Throws unless an OCI image layout (the files of a `save` tar, or a directory read into the same
 * map) matches the schemas: `oci-layout`, `index.json`, and every manifest, nested index and config
 * it reaches. Returns the number of manifests checked.
 */
export function assertLayoutSchemas(files: Map<string, Buffer>): number {
  const file = (name: string): Buffer => {
    const bytes = files.get(name);
    if (bytes === undefined) throw new Error(`OCI layout has no ${name}`);
    return bytes;
  };
  assertConforms('layout', parseJson(file('oci-layout'), 'oci-layout'), 'oci-layout');
  const blob = (digest: Digest): unknown =>
    parseJson(file(`blobs/sha256/${digestHex(digest)}`), `blob ${digest}`);
  let manifests = 0;
  const visitIndex = (index: unknown, where: string): void => {
    assertConforms('index', index, where);
    for (const d of (index as { manifests: { mediaType: string; digest: Digest }[] }).manifests) {
      if (/index|manifest\.list/.test(d.mediaType)) visitIndex(blob(d.digest), `index ${d.digest}`);
      else {
        const manifest = blob(d.digest);
        assertConforms('manifest', manifest, `manifest ${d.digest}`);
        const config = (manifest as { config: { digest: Digest } }).config.digest;
        assertConforms('config', blob(config), `config ${config}`);
        manifests += 1;
      }
    }
  };
  visitIndex(parseJson(file('index.json'), 'index.json'), 'index.json');
  return manifests;
}

/** Reads an OCI layout directory (as `skopeo copy … oci:DIR` writes it) into a name → bytes map. */
export function readLayoutDir(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('oci-layout', readFileSync(join(dir, 'oci-layout')));
  files.set('index.json', readFileSync(join(dir, 'index.json')));
  for (const hex of readdirSync(join(dir, 'blobs', 'sha256'))) {
    files.set(`blobs/sha256/${hex}`, readFileSync(join(dir, 'blobs', 'sha256', hex)));
  }
  return files;
}
