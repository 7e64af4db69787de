// A lesson step's starting state as data: the images that must be present, the containers to
// create and the container names that must be free. Only zod, so the site's lesson schema and the
// request table can import it.

import { z } from 'zod';

const imageRef = z.string().min(1).max(256);

export const containerNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'container names use letters, digits, "_", "." and "-"');

export const resetContainerSchema = z.strictObject({
  name: containerNameSchema,
  image: imageRef,
  cmd: z.array(z.string().max(4096)).max(64).optional(),
  env: z.array(z.string().max(4096)).max(64).optional(),
  /** true: started in the background (`run -d`); otherwise only created (`docker create`). */
  detach: z.boolean().optional(),
  tty: z.boolean().optional(),
});

export const resetTargetSchema = z.strictObject({
  /** Images that must be present (pulled when missing); every other image is removed. */
  images: z.array(imageRef).max(16).optional(),
  /** Containers to create, in this order of names (they are created in parallel). */
  containers: z.array(resetContainerSchema).max(16).optional(),
  /**
   * Container names the lesson creates itself, so they must be free when it starts. A reset removes
   * every container anyway; arriving at a lesson (`prepare`) only reports the ones that exist, and
   * removes them when the reader says so.
   */
  absent: z.array(containerNameSchema).max(16).optional(),
});

export type ResetTarget = z.output<typeof resetTargetSchema>;
export type ResetTargetInput = z.input<typeof resetTargetSchema>;
export type ResetContainer = z.output<typeof resetContainerSchema>;
