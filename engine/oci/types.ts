// The OCI image model as data: Descriptor, Manifest, Index, ImageConfig. Schemas validate what comes
// off the wire or the disk; the inferred types are what the rest of the engine passes around.

import { z } from 'zod';
import { type Digest, isDigest } from './digest.ts';

export const digestSchema = z
  .string()
  .refine(isDigest, 'not a valid digest')
  .transform((d) => d as Digest);

export const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Index = z.infer<typeof indexSchema>;

export const historySchema = z.object({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type History = z.infer<typeof historySchema>;

/** The runtime part of an image config (`config` in the OCI spec, `Config` in Docker's inspect). */
export const containerConfigSchema = z
  .object({
    User: z.string().optional(),
    ExposedPorts: z.record(z.string(), z.object({})).optional(),
    Env: z.array(z.string()).optional(),
    Entrypoint: z.array(z.string()).nullable().optional(),
    Cmd: z.array(z.string()).nullable().optional(),
    Volumes: z.record(z.string(), z.object({})).nullable().optional(),
    WorkingDir: z.string().optional(),
    Labels: z.record(z.string(), z.string()).nullable().optional(),
    StopSignal: z.string().optional(),
    /** SHELL: the shell of shell-form RUN, CMD and ENTRYPOINT (Docker's config field). */
    Shell: z.array(z.string()).optional(),
    /** HEALTHCHECK, durations in nanoseconds as Docker stores them. */
    Healthcheck: z
      .object({
        Test: z.array(z.string()).optional(),
        Interval: z.number().optional(),
        Timeout: z.number().optional(),
        StartPeriod: z.number().optional(),
        StartInterval: z.number().optional(),
        Retries: z.number().optional(),
      })
      .nullable()
      .optional(),
    /** ONBUILD triggers, run when an image is used as a base. */
    OnBuild: z.array(z.string()).nullable().optional(),
  })
  .passthrough();
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

export const imageConfigSchema = z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    config: containerConfigSchema.optional(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digestSchema) }),
    history: z.array(historySchema).optional(),
  })
  .passthrough();
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/**
 * An image as the engine sees it once it is in the store: the manifest, its config, and the digests
 * that name it. `id` is the config digest, as in Docker.
 */
export interface Image {
  readonly id: Digest;
  readonly manifestDigest: Digest;
  readonly manifest: Manifest;
  readonly config: ImageConfig;
}

/** One layer of an image: the blob as stored (compressed) and the diff_id of its uncompressed tar. */
export interface Layer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

export function imageLayers(image: Image): Layer[] {
  return image.manifest.layers.map((descriptor, i) => {
    const diffId = image.config.rootfs.diff_ids[i];
    if (diffId === undefined) throw new Error(`image ${image.id}: manifest has more layers than diff_ids`);
    return { descriptor, diffId };
  });
}

/** Every blob an image is made of: its manifest, its config and its layers' blobs. */
export function imageBlobs(image: Image): Digest[] {
  return [image.manifestDigest, image.manifest.config.digest, ...image.manifest.layers.map((l) => l.digest)];
}
