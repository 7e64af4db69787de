// The goal of every <Check> on the site, by page and check id: the one place a check's condition
// is declared. The server evaluates these (server/checks/lessons.ts) when a page names a check by
// `{ lesson, check }`; the page never sends a condition, so a reader cannot choose what passes. A
// lesson's MDX places the goal with `<Check id="…" hint="…">`, and the site build fails when that id
// has no entry here. Keys are the page's route (`01-image-vs-container`, `start-here`, `sandbox`).

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
    'compared-layers': {
      all: [
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
          file: { path: '/log.txt', contains: 'UTC' },
        },
        { kind: 'command-ran', pattern: '*start -a life*', exitCode: 0 },
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
        { kind: 'container', name: 'proc', state: 'running' },
        { kind: 'command-ran', pattern: '*exec proc ps*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*inspect*State.Pid*proc*', exitCode: 0 },
      ],
    },
  },
  '12-one-word-many-meanings': {
    'caught-working-container': {
      all: [
        { kind: 'image', tag: 'slow', topLayerAdds: '/built.txt' },
        { kind: 'command-ran', pattern: '* ps *--external*', exitCode: 0 },
      ],
    },
  },
  '13-save-and-open': {
    'read-the-documents': {
      all: [
        { kind: 'command-ran', pattern: '*inspect*.Config*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*inspect*.RootFS*', exitCode: 0 },
      ],
    },
    'save-and-load': {
      all: [
        { kind: 'command-ran', pattern: '*save -o*', exitCode: 0 },
        { kind: 'command-ran', pattern: '*load -i*', exitCode: 0 },
      ],
    },
  },
  '14-scratch': {
    'scratch-image': {
      all: [
        { kind: 'image', tag: 'note', layers: { min: 1, max: 1 }, topLayerAdds: '/note.txt' },
        { not: { kind: 'image', tag: 'note', sharesLayersWith: 'busybox' } },
        { kind: 'command-ran', pattern: '* run *note*', exitCode: 127 },
      ],
    },
  },
  '15-containers-vs-vms': {
    cattle: {
      all: [
        { not: { kind: 'container', name: 'pet' } },
        { kind: 'command-ran', pattern: '*run --rm busybox cat /data.txt*' },
        { kind: 'command-ran', pattern: '*run --rm busybox cat /proc/uptime*', exitCode: 0 },
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
