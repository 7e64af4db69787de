// What this sandbox does not offer, worded once: each refusal says what is missing and what to use
// instead, so `-p`, host bind mounts, `cp` to the host and the rest end in a sentence, not a usage error.

import { CommandFailure } from './cli.ts';

/** Docker's form for a refused `run`/`create`: `docker: …`, a hint, exit status 125. */
export function refuse(command: string, sentence: string): CommandFailure {
  return new CommandFailure(`layerlab: ${sentence}\nSee 'layerlab ${command} --help'.`, 125);
}

export const NO_PORTS =
  'publishing ports (-p, -P) is not offered in this sandbox: containers have no network here. ' +
  "Reach a container's service from inside it instead, e.g. `docker exec NAME wget -qO- http://localhost:80`.";

export const NO_NETWORK =
  'only --network none is offered in this sandbox: containers have no network here. ' +
  'Use `docker exec` to work inside a container.';

export const NO_HOST_FILES_CP =
  "copying to or from the host's files is not offered in this sandbox. " +
  'Read a file with `docker exec NAME cat /path`; write one with `docker exec -i NAME sh -c "cat > /path"`.';

export const NO_ENV_FILE =
  '--env-file reads a file on the host, which is not offered in this sandbox. ' +
  'Pass variables with `-e NAME=value` (or `export NAME=value`, then `-e NAME`).';
