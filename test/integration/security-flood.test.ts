// Issue #9, finding 5: the prompt had no length limit, so 15–25 MB typed into one line raised the
// server's memory from 130 to 509–650 MiB and another session's echo to 1.7–5 s. Here one session
// types 20 MB into its prompt as fast as its socket and the message rate limit allow, while another
// session types single keys: that echo stays fast, memory stays bounded, the flooder is told its line
// is too long, and its terminal works afterwards.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../server/limits.ts';
import { LINE_TOO_LONG } from '../../server/terminal/line-editor.ts';
import { echoLatency } from '../support/echo.ts';
import { openShell, startTestServer, type TestClient, type TestServer } from '../support/server.ts';

const FLOOD_BYTES = 20 * 1024 * 1024;
/** A frame's payload: the message cap less the channel byte. */
const FRAME_BYTES = DEFAULT_LIMITS.ws.maxPayload - 1;
const ECHO_P95_BOUND_MS = 500;
const RSS_GROWTH_BOUND = 150 * 2 ** 20;

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});

afterAll(async () => {
  await srv?.close();
});

async function page(): Promise<{ client: TestClient; channel: number }> {
  const { token } = await srv.newSession();
  const client = await srv.connect(token);
  return { client, channel: await openShell(client) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `total` bytes of typing as fast as the socket takes them (waiting while its send buffer is
 * over 256 KiB) and as the server's message rate allows (`perSecond` after the first `burst`).
 */
async function flood(client: TestClient, channel: number, total: number): Promise<number> {
  const chunk = Buffer.alloc(FRAME_BYTES, 'y');
  const { burst, perSecond } = DEFAULT_LIMITS.ws;
  const start = performance.now();
  let sent = 0;
  for (let frames = 0; sent < total; frames++) {
    while (client.ws.bufferedAmount > 256 * 1024) await sleep(5);
    // Stay just under the token bucket: the first `burst` at once, then `perSecond`.
    const due = start + (Math.max(0, frames - burst / 2) * 1000) / (perSecond * 0.9);
    if (performance.now() < due) await sleep(due - performance.now());
    client.sendInput(channel, chunk);
    sent += chunk.length;
  }
  return sent;
}

describe('a flood of typing into one prompt', () => {
  it('is cut at the line limit with a message, and another session’s echo stays fast', async () => {
    const a = await page();
    const b = await page();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const started = performance.now();
    let flooded = false;
    const flooding = flood(a.client, a.channel, FLOOD_BYTES).finally(() => {
      flooded = true;
    });
    // The other session types while the flood is being sent and worked off.
    const echo = await echoLatency(b.client, b.channel);
    const sent = await flooding;
    await a.client.waitForOutput(a.channel, LINE_TOO_LONG, 120_000);
    const extra = flooded ? await echoLatency(b.client, b.channel, 10) : undefined;
    clearInterval(sampler);
    const growth = peak - rss0;
    console.log(
      `  ${(sent / 2 ** 20).toFixed(0)} MiB typed in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `other session's echo p50 ${echo.p50.toFixed(0)} ms, p95 ${echo.p95.toFixed(0)} ms, max ${echo.max.toFixed(0)} ms; ` +
        `server RSS +${(growth / 2 ** 20).toFixed(0)} MiB at peak`,
    );
    expect(sent).toBeGreaterThanOrEqual(FLOOD_BYTES);
    expect(echo.p95).toBeLessThan(ECHO_P95_BOUND_MS);
    if (extra) expect(extra.p95).toBeLessThan(ECHO_P95_BOUND_MS);
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND);

    // The message was said once, and the flooding terminal still runs commands.
    const out = a.client.output(a.channel);
    expect(out.split(LINE_TOO_LONG)).toHaveLength(2);
    a.client.sendInput(a.channel, '\x03');
    a.client.sendInput(a.channel, 'help\r');
    await a.client.waitForOutput(a.channel, /Builtins:/, 60_000);
    await a.client.close();
    await b.client.close();
  });
});
