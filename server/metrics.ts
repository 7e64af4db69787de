// The server's counters and histograms, rendered as Prometheus text for `GET /metrics`. Gauges
// (sessions, containers) are read at scrape time through callbacks, so they cannot drift. Who may
// scrape is decided by metricsAccess: this machine only, unless the operator sets a token.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isLoopback } from './http/connections.ts';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) this.counts[i]!++;
  }
}

export type LatencyKind = 'command' | 'pull';

export class Metrics {
  pullsTotal = 0;
  errorsTotal = 0;
  readonly wsMessages = { in: 0, out: 0 };
  readonly latency: Record<LatencyKind, Histogram> = { command: new Histogram(), pull: new Histogram() };
  readonly gauges = new Map<string, { help: string; read: () => number }>();

  /** A gauge read at scrape time (`layerlab_sessions`, `layerlab_containers`). */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  observe(kind: LatencyKind, seconds: number): void {
    this.latency[kind].observe(seconds);
  }

  error(): void {
    this.errorsTotal++;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, g] of this.gauges) {
      let value = 0;
      try {
        value = g.read();
      } catch {
        value = Number.NaN;
      }
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    }
    lines.push(
      '# HELP layerlab_pulls_total Image pulls completed.',
      '# TYPE layerlab_pulls_total counter',
      `layerlab_pulls_total ${this.pullsTotal}`,
      '# HELP layerlab_errors_total Errors: rejected or failed requests and messages.',
      '# TYPE layerlab_errors_total counter',
      `layerlab_errors_total ${this.errorsTotal}`,
      '# HELP layerlab_ws_messages_total WebSocket messages by direction.',
      '# TYPE layerlab_ws_messages_total counter',
      `layerlab_ws_messages_total{direction="in"} ${this.wsMessages.in}`,
      `layerlab_ws_messages_total{direction="out"} ${this.wsMessages.out}`,
      '# HELP layerlab_latency_seconds Duration of shell commands and image pulls.',
      '# TYPE layerlab_latency_seconds histogram',
    );
    for (const kind of Object.keys(this.latency) as LatencyKind[]) {
      const h = this.latency[kind];
      LATENCY_BUCKETS.forEach((le, i) => {
        lines.push(`layerlab_latency_seconds_bucket{kind="${kind}",le="${le}"} ${h.counts[i]}`);
      });
      lines.push(
        `layerlab_latency_seconds_bucket{kind="${kind}",le="+Inf"} ${h.count}`,
        `layerlab_latency_seconds_sum{kind="${kind}"} ${h.sum}`,
        `layerlab_latency_seconds_count{kind="${kind}"} ${h.count}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

/**
 * Who may read `/metrics`. With a token configured (`LAYERLAB_METRICS_TOKEN`), only a request that
 * presents it as `Authorization: Bearer …`. Without one, only a client on this machine that did not
 * come through a proxy: a reverse proxy on the same host makes every visitor's request a loopback
 * one, so a request carrying forwarding headers is refused too.
 */
export function metricsAccess(
  request: { client: string; headers: IncomingHttpHeaders },
  token: string | undefined,
): 'ok' | 'unauthorized' | 'forbidden' {
  if (token !== undefined) {
    const presented = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim() ?? '';
    return sameSecret(presented, token) ? 'ok' : 'unauthorized';
  }
  const forwarded =
    request.headers.forwarded !== undefined || request.headers['x-forwarded-for'] !== undefined;
  return isLoopback(request.client) && !forwarded ? 'ok' : 'forbidden';
}

/** Constant-time comparison of two secrets of any length (hashed first, so lengths do not leak). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
