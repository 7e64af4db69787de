// The Redis key and channel names of a cluster, in one place. Everything lives under one prefix so a
// Redis shared with other software (or two clusters, with two prefixes) never collides.

export const PREFIX = 'layerlab:';

export const keys = {
  /** Workshop ids, scored by creation time. */
  workshops: `${PREFIX}workshops`,
  workshop: (id: string) => `${PREFIX}workshop:${id}`,
  /** Hash: student (seat) id → record JSON. */
  students: (workshopId: string) => `${PREFIX}workshop:${workshopId}:students`,
  /** Student ids, scored by joining time (joining order survives rewrites). */
  order: (workshopId: string) => `${PREFIX}workshop:${workshopId}:order`,
  /** Ids of the students present: the seats taken, which admission counts on every node. */
  present: (workshopId: string) => `${PREFIX}workshop:${workshopId}:present`,
  /** Joins under way (token → expiry time), so two nodes cannot give away the same last seat. */
  pending: (workshopId: string) => `${PREFIX}workshop:${workshopId}:pending`,
  /** Node ids ever registered; each one's status key expires unless its heartbeat renews it. */
  nodes: `${PREFIX}nodes`,
  node: (id: string) => `${PREFIX}node:${id}`,
  /** A teacher's sign-in, by sha256 of the cookie's token, expiring with it. */
  grant: (key: string) => `${PREFIX}grant:${key}`,
  grantPattern: `${PREFIX}grant:*`,
  claim: (key: string) => `${PREFIX}claim:${key}`,
  /** Channel: every change to a workshop or a student, for the other nodes' dashboards. */
  changes: `${PREFIX}changes`,
  /** Channels: commands sent to a node, and the answers sent back to the asker. */
  commands: (node: string) => `${PREFIX}commands:${node}`,
  replies: (node: string) => `${PREFIX}replies:${node}`,
} as const;
