// The goal of every <Check> on the site, by page and check id: the one place a check's condition
// is declared. The server evaluates these (server/checks/lessons.ts) when a page names a check by
// `{ lesson, check }`; the page never sends a condition, so a reader cannot choose what passes. A
// lesson's MDX places the goal with `<Check id="…" hint="…">`, and the site build fails when that id
// has no entry here. Keys are the page's route (`01-image-vs-container`, `start-here`, `sandbox`).

import type { AnswerInput } from '../server/checks/answer-schema.ts';
import type { CheckInput } from '../server/checks/schema.ts';

export const lessonChecks: Readonly<Record<string, Readonly<Record<string, CheckInput>>>> = {
  '01-image-vs-container': {
    'two-containers': { kind: 'container', image: 'busybox', count: { min: 2 } },
  },
  '02-pull': {
    'pulled-and-tagged': {
      all: [
        { kind: 'image', tag: 'layerlab/webapp', sharesLayersWith: 'busybox' },
        { kind: 'image', tag: 'busybox:mine' },
      ],
    },
  },
  '03-layers': {
    // State: the images really share busybox's layer. Reading the lists leaves no state behind, so
    // the commands that print them are the secondary condition.
    'compared-layers': {
      all: [
        { kind: 'image', tag: 'layerlab/webapp', sharesLayersWith: 'busybox' },
        { kind: 'command-ran', pattern: '*inspect*RootFS*webapp*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*inspect*RootFS*busybox*', exitCode: 0 },
      ],
    },
  },
  '04-writable-layer': {
    'containers-differ': { kind: 'containers-differ', image: 'busybox', path: '/note.txt' },
    'image-unchanged': {
      all: [
        { not: { kind: 'container', name: 'one' } },
        { kind: 'command-ran', pattern: '*run*busybox cat /note.txt*' },
      ],
    },
  },
  '05-copy-on-write': {
    'copied-up': { kind: 'container', name: 'cow', diff: { has: [{ path: '/etc/motd', kind: 'C' }] } },
    whiteout: { kind: 'image', tag: 'big-layer:slim', topLayerDeletes: '/data/data.bin' },
  },
  '06-size-vs-virtual-size': {
    'three-containers': {
      all: [
        { kind: 'container', image: 'layerlab/big-layer', state: 'running', count: { min: 3 } },
        { kind: 'container', name: 'big-1', diff: { has: ['/data/noise.bin'] } },
        // Reading the SIZE column leaves nothing behind.
        { kind: 'command-ran', pattern: '* ps *-s*', exitCode: 0 },
      ],
    },
  },
  '07-diff-and-commit': {
    committed: {
      kind: 'image',
      tag: 'my-page:v1',
      topLayerAdds: '/srv/index.html',
      sharesLayersWith: 'busybox',
    },
  },
  '08-dockerfile-build': {
    'built-and-entered': {
      all: [
        { kind: 'image', tag: 'hello-build', sharesLayersWith: 'busybox', topLayerAdds: '/app/built.txt' },
        { kind: 'container', image: 'hello-build', name: 'hello', state: 'running' },
        { kind: 'command-ran', pattern: '* exec *hello*', exitCode: 0 },
      ],
    },
  },
  '09-lifecycle': {
    'restarted-keeps-changes': {
      all: [
        {
          kind: 'container',
          name: 'life',
          state: 'exited',
          exitCode: 0,
          // Two lines: the second start found the first one's file and appended to it.
          file: { path: '/log.txt', contains: 'UTC', lines: { min: 2 } },
        },
      ],
    },
  },
  '10-cleanup': {
    // What the lesson's own commands achieve, whatever earlier lessons left: images of other lessons
    // stay, and running containers are not the prune's business.
    clean: {
      all: [
        { not: { kind: 'container', state: 'exited' } },
        { not: { kind: 'container', state: 'created' } },
        { not: { kind: 'image', tag: 'layerlab/motd' } },
        { kind: 'image', tag: 'app:dev' },
        { not: { kind: 'image', dangling: true } },
      ],
    },
  },
  '11-restricted-process': {
    'two-views': {
      all: [
        // State: proc's sleep is a live process in the host's own process table.
        { kind: 'container', name: 'proc', state: 'running', process: { command: 'sleep' } },
        // Looking from each side leaves nothing behind: the two views are the secondary condition.
        { kind: 'command-ran', pattern: '*exec proc ps*', exitCode: 0 },
        { kind: 'command-ran', pattern: '* top proc*', exitCode: 0 },
      ],
    },
  },
  '12-one-word-many-meanings': {
    'caught-working-container': {
      all: [
        { kind: 'image', tag: 'slow', topLayerAdds: '/built.txt', builtBy: 'classic' },
        // The working container is gone once its step is committed: listing it is the secondary condition.
        { kind: 'command-ran', pattern: '* ps -a*', exitCode: 0 },
      ],
    },
  },
  '13-save-and-open': {
    'read-the-documents': {
      all: [
        { kind: 'workspace-file', path: 'webapp.tar', holdsImage: 'layerlab/webapp' },
        // Reading the documents leaves nothing behind.
        { kind: 'command-ran', pattern: '*inspect*.Config*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*inspect*.RootFS*', exitCode: 0 },
      ],
    },
    'save-and-load': {
      all: [
        { kind: 'workspace-file', path: 'webapp.tar', holdsImage: 'layerlab/webapp' },
        { kind: 'image', tag: 'layerlab/webapp', sharesLayersWith: 'busybox' },
        // A loaded image is byte for byte the one removed, so no state tells them apart.
        { kind: 'command-ran', pattern: '*load -i*', exitCode: 0 },
      ],
    },
  },
  '14-scratch': {
    'scratch-image': {
      all: [
        { kind: 'image', tag: 'note', layers: { min: 1, max: 1 }, topLayerAdds: '/note.txt' },
        { not: { kind: 'image', tag: 'note', sharesLayersWith: 'busybox' } },
        // The run failed before any process started: the container stays created.
        { kind: 'container', image: 'note', state: 'created' },
      ],
    },
  },
  '15-containers-vs-vms': {
    // State: pet is gone, and a fresh container from the same image found no /data.txt. Reading
    // the uptime leaves nothing behind: that command is the secondary condition.
    cattle: {
      all: [
        { not: { kind: 'container', name: 'pet' } },
        {
          kind: 'container',
          name: 'fresh',
          image: 'busybox',
          exitCode: 1,
          file: { path: '/data.txt', exists: false },
        },
        { kind: 'command-ran', pattern: '*run --rm busybox cat /proc/uptime*', exitCode: 0 },
      ],
    },
    'kept-in-a-volume': {
      all: [
        { kind: 'volume', name: 'keep', file: { path: '/data.txt', contains: 'precious data' } },
        { not: { kind: 'container', name: 'writer' } },
      ],
    },
  },
  '16-write-a-dockerfile': {
    // Reordered: the last layer is the `COPY . /app` of the files; in the first order it is the install.
    'cache-holds': {
      kind: 'image',
      tag: 'cache-demo',
      topLayerAdds: '/app/message.txt',
      sharesLayersWith: 'busybox',
    },
  },
  '17-multi-stage': {
    'multi-stage': {
      kind: 'image',
      tag: 'hello:two-stages',
      layers: { max: 2 },
      topLayerAdds: '/usr/local/bin/hello',
      sharesLayersWith: 'busybox',
    },
    ignored: {
      all: [
        { kind: 'image', tag: 'ignore-demo', topLayerAdds: '/site/index.html' },
        { not: { kind: 'image', tag: 'ignore-demo', topLayerAdds: '/site/.env' } },
      ],
    },
  },
  '18-push': {
    // State: the session's own registry (`$REGISTRY`, whose host:port differs between servers, so a
    // `pushed` check names only the repository in it) serves hello:v1 and hello:v2, each the image
    // the session holds under that name; and v2 is edit's commit, the file it added.
    'pushed-twice': {
      all: [
        { kind: 'pushed', repository: 'hello', tag: 'v1' },
        { kind: 'pushed', repository: 'hello', tag: 'v2' },
        { kind: 'container', name: 'edit', diff: { has: [{ path: '/app/version.txt', kind: 'A' }] } },
      ],
    },
  },
  '19-volumes': {
    'volume-outside': {
      all: [
        { kind: 'image', tag: 'snapshot', topLayerAdds: '/inside.txt' },
        { not: { kind: 'image', tag: 'snapshot', topLayerAdds: '/data/note.txt' } },
        { kind: 'command-ran', pattern: '*run*-v notes:/data*cat /data/note.txt*', exitCode: 0 },
      ],
    },
  },
  '20-host-view': {
    // State: the file written inside is in host-demo's writable layer while it runs; the commands
    // that read PIDs and user IDs leave nothing behind, so they are the secondary condition.
    'seen-from-the-host': {
      all: [
        {
          kind: 'container',
          name: 'host-demo',
          state: 'running',
          diff: { has: [{ path: '/from-inside.txt', kind: 'A' }] },
          file: { path: '/from-inside.txt', contains: 'written inside' },
        },
        { kind: 'command-ran', pattern: '* top host-demo*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*exec host-demo cat /proc/self/uid_map*', exitCode: 0 },
      ],
    },
  },
  '21-engines-and-tools': {
    'asked-both-sides': {
      all: [
        // State: kept's sleep is alive in the host's process table, long after the `run -d` that
        // started it returned: the engine keeps it, not the terminal (what `docker info` counts).
        {
          kind: 'container',
          name: 'kept',
          image: 'busybox',
          state: 'running',
          process: { command: 'sleep' },
        },
        // Reading the version and the runtime leaves nothing behind: those two commands are the
        // secondary condition.
        { kind: 'command-ran', pattern: '* version', exitCode: 0 },
        { kind: 'command-ran', pattern: '* info', exitCode: 0 },
      ],
    },
    // State: the name is back in the store, which only the load can have done once rmi removed it.
    'through-an-oci-archive': {
      all: [
        { kind: 'image', tag: 'travelled:v1' },
        { kind: 'command-ran', pattern: '* save *--format oci*travelled*', exitCode: 0 },
        { kind: 'command-ran', pattern: '* rmi travelled:v1', exitCode: 0 },
        { kind: 'command-ran', pattern: '* load -i travelled.tar', exitCode: 0 },
      ],
    },
  },
  'start-here': {
    'first-container': {
      all: [
        { kind: 'image', tag: 'busybox' },
        { kind: 'command-ran', pattern: '* run *busybox*', exitCode: 0 },
      ],
    },
  },
  sandbox: {
    'sandbox-hello': {
      kind: 'container',
      image: 'busybox',
      diff: { has: [{ path: '/hello.txt', kind: 'A' }] },
    },
  },
};

/**
 * The values each <Answer> asks the learner to read off the engine, by page and answer id (the
 * same keys as the checks). The server works out the true value from the session's state when a
 * page sends what the reader typed (server/checks/answer-lessons.ts); a page never sends the value.
 */
export const lessonAnswers: Readonly<Record<string, Readonly<Record<string, AnswerInput>>>> = {
  '03-layers': {
    'shared-base': {
      kind: 'shared-diff-id',
      images: ['busybox', 'layerlab/webapp'],
      hint: 'Compare the two .RootFS.Layers lists: one sha256 appears in both. Copy it, all or its first 12 digits.',
    },
  },
  '06-size-vs-virtual-size': {
    'big-layer-size': {
      kind: 'image-size',
      image: 'layerlab/big-layer',
      hint: 'Read the SIZE column of docker images on the layerlab/big-layer row, unit included.',
    },
  },
  '10-cleanup': {
    'images-on-disk': {
      kind: 'system-df',
      row: 'Images',
      column: 'size',
      hint: 'Read the SIZE column of the Images row of docker system df, unit included.',
    },
  },
  '13-save-and-open': {
    'loaded-id': {
      kind: 'image-id',
      image: 'layerlab/webapp',
      hint: 'docker images layerlab/webapp shows the IMAGE ID; docker inspect -f {{.Id}} prints it in full.',
    },
  },
};
