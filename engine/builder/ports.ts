// EXPOSE's port words as Docker reads them (BuildKit's convert_expose.go, moby's nat.ParsePortSpec):
// `80`, `80/udp`, `8000-8002` (a range: one entry per port), proto lower-cased, default tcp.

import { BuildError } from '../errors.ts';

function parseRange(text: string): [number, number] | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  if (start > 65535 || end > 65535 || end < start) return undefined;
  return [start, end];
}

/** `port/proto` keys for ExposedPorts, in Docker's order (one per port of a range). */
export function exposedPorts(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of words) {
    // `[ip:][hostPort:]containerPort[/proto]`: only the container side counts for EXPOSE.
    const slash = raw.lastIndexOf('/');
    const [portPart, proto] = slash === -1 ? [raw, 'tcp'] : [raw.slice(0, slash), raw.slice(slash + 1)];
    const containerPort = portPart.slice(portPart.lastIndexOf(':') + 1);
    if (proto === '')
      throw new BuildError(`invalid port: ${JSON.stringify(raw)}: no protocol specified`, { input: raw });
    const range = parseRange(containerPort);
    if (range === undefined) throw new BuildError(`invalid containerPort: ${containerPort}`, { input: raw });
    for (let port = range[0]; port <= range[1]; port++) out.push(`${port}/${proto.toLowerCase()}`);
  }
  return out;
}
