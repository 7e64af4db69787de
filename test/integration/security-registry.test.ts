// Issue #9, finding 3: one visitor could replace the images everyone else pulls, by committing and
// pushing `127.0.0.1:PORT/library/busybox` to the docker.io mirror, which took writes from anyone.
// Here the attack is typed into a real server's web terminal; the mirror must stay as seeded, the
// registry must refuse anyone without its credential, and a session's pushes must land in (and only
// in) its own namespace, which goes with the session.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../engine/registry/credentials.ts';
import { sessionNamespace } from '../../engine/registry/session-access.ts';
import { loadImage } from '../../engine/store/images.ts';
import { testRegistryCredentials, testRegistryHost } from '../support/context.ts';
import { openShell, startTestServer, type TestClient, type TestServer } from '../support/server.ts';
import { shellCommand } from '../support/shell-command.ts';

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

let srv: TestServer;
let host: string;

interface Visitor {
  id: string;
  client: TestClient;
  channel: number;
  sh(command: string): Promise<string>;
}

async function visitor(): Promise<Visitor> {
  const { session, token } = await srv.newSession();
  const client = await srv.connect(token);
  const channel = await openShell(client);
  return { id: session, client, channel, sh: (command) => shellCommand(client, channel, command) };
}

/** The registry as the server (holding the credential) sees it: status and, for 200, the JSON body. */
async function registryGet(path: string): Promise<{ status: number; body: unknown; digest: string | null }> {
  const credentials = testRegistryCredentials()[host];
  if (!credentials)
    throw new Error('the test registry has no credential: run through the integration project');
  const res = await fetch(`http://${host}/v2/${path}`, {
    headers: { Authorization: basicAuthorization(credentials), Accept: MANIFEST_ACCEPT },
  });
  const text = await res.text();
  return {
    status: res.status,
    body: res.status === 200 ? JSON.parse(text) : undefined,
    digest: res.headers.get('docker-content-digest'),
  };
}

/** The image id (config digest) the registry serves under `repository:tag`. */
async function servedImageId(repository: string, tag: string): Promise<string | undefined> {
  const got = await registryGet(`${repository}/manifests/${tag}`);
  return got.status === 200 ? (got.body as { config: { digest: string } }).config.digest : undefined;
}

beforeAll(async () => {
  const registry = testRegistryHost();
  if (!registry) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  host = registry;
  srv = await startTestServer();
});

afterAll(async () => {
  await srv?.close();
});

describe('the shared mirror', () => {
  it('refuses every request without the credential: no anonymous read, upload or manifest put', async () => {
    const base = `http://${host}/v2`;
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/library/busybox/manifests/latest`)).status).toBe(401);
    const upload = await fetch(`${base}/library/busybox/blobs/uploads/`, { method: 'POST' });
    expect(upload.status).toBe(401);
    const put = await fetch(`${base}/library/busybox/manifests/latest`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: '{}',
    });
    expect(put.status).toBe(401);
    const del = await fetch(`${base}/library/busybox/manifests/latest`, { method: 'DELETE' });
    expect(del.status).toBe(401);
    // A wrong credential is no better than none.
    const wrong = await fetch(`${base}/library/busybox/blobs/uploads/`, {
      method: 'POST',
      headers: { Authorization: basicAuthorization({ username: 'layerlab', password: 'guess' }) },
    });
    expect(wrong.status).toBe(401);
  });
});

describe('a visitor pushing over the lesson images', () => {
  it("cannot change what another session's `docker run busybox` runs, by any name", async () => {
    const seededId = await servedImageId('library/busybox', 'latest');
    expect(seededId).toMatch(/^sha256:/);

    const a = await visitor();
    expect(await a.sh('docker run --name poison busybox sh -c "echo poisoned > /poison"')).not.toMatch(
      /Error/,
    );
    const poisonedRef = `${host}/library/busybox:latest`;
    expect(await a.sh(`docker commit poison ${poisonedRef}`)).toMatch(/sha256:[0-9a-f]{64}/);
    const session = srv.server.sessions.get(a.id)!;
    const poisonedId = (await loadImage(session.ctx, poisonedRef)).id;
    expect(poisonedId).not.toBe(seededId);

    // The mirror's own name: the push works, but lands in A's namespace.
    const pushed = await a.sh(`docker push ${poisonedRef}`);
    expect(pushed).toMatch(/latest: digest: sha256:[0-9a-f]{64} size: \d+/);
    const ns = sessionNamespace(a.id);
    expect(await servedImageId(`${ns}/library/busybox`, 'latest')).toBe(poisonedId);

    // docker.io itself, and the mirror under other spellings of its address: refused outright.
    for (const name of [
      'busybox:latest',
      'docker.io/library/busybox:latest',
      `localhost:${host.split(':')[1]}/library/busybox:latest`,
      `127.0.0.2:${host.split(':')[1]}/library/busybox:latest`,
    ]) {
      expect(await a.sh(`docker tag ${poisonedRef} ${name}`)).toBe('');
      const out = await a.sh(`docker push ${name}`);
      expect(out, name).toMatch(/Error response from daemon: .*(denied|not allowed here)/);
    }

    // Another session's namespace, named outright: it stays inside A's.
    const b = await visitor();
    const nsB = sessionNamespace(b.id);
    expect(await a.sh(`docker tag ${poisonedRef} ${host}/${nsB}/library/busybox:latest`)).toBe('');
    expect(await a.sh(`docker push ${host}/${nsB}/library/busybox:latest`)).toMatch(/digest: sha256:/);
    expect((await registryGet(`${nsB}/library/busybox/manifests/latest`)).status).toBe(404);
    expect(await servedImageId(`${ns}/${nsB}/library/busybox`, 'latest')).toBe(poisonedId);

    // The mirror still serves the seeded image, and B runs it.
    expect(await servedImageId('library/busybox', 'latest')).toBe(seededId);
    const ran = await b.sh('docker run --rm busybox sh -c "cat /poison || echo clean-$((40+2))"');
    expect(ran).toContain('clean-42');
    expect(ran).not.toContain('poisoned');
    expect((await loadImage(srv.server.sessions.get(b.id)!.ctx, 'busybox')).id).toBe(seededId);
    // Nor can B pull A's image through the shared address: B's namespace is empty.
    expect(await b.sh(`docker pull ${poisonedRef}`)).toMatch(
      /Error response from daemon: manifest for .* not found/,
    );

    await a.client.close();
    await b.client.close();
  });
});

describe("a session's own registry", () => {
  it('takes its pushes, sends only new layers the second time, and forgets them when the session ends', async () => {
    const a = await visitor();
    const session = srv.server.sessions.get(a.id)!;
    const ns = sessionNamespace(a.id);
    const pushEvents = (from: number) =>
      a.client.messages
        .slice(from)
        .flatMap((m) => (m.type === 'event' && m.event.type === 'push.layer' ? [m.event] : []))
        .map((e) => e as unknown as { digest: string; state: string });

    expect(await a.sh('docker run --name one busybox sh -c "echo one > /one"')).not.toMatch(/Error/);
    expect(await a.sh(`docker commit one ${host}/app:v1`)).toMatch(/sha256:/);
    const first = a.client.messages.length;
    expect(await a.sh(`docker push ${host}/app:v1`)).toMatch(/v1: digest: sha256:[0-9a-f]{64}/);
    const v1 = await loadImage(session.ctx, `${host}/app:v1`);
    const firstStates = pushEvents(first).filter((e) => e.state === 'pushed' || e.state === 'exists');
    expect(firstStates.filter((e) => e.state === 'pushed').length).toBe(v1.manifest.layers.length + 1);

    expect(await a.sh(`docker run --name two ${host}/app:v1 sh -c "echo two > /two"`)).not.toMatch(/Error/);
    expect(await a.sh(`docker commit two ${host}/app:v2`)).toMatch(/sha256:/);
    const second = a.client.messages.length;
    const out = await a.sh(`docker push ${host}/app:v2`);
    expect(out).toMatch(/Layer already exists/);
    expect(out).toMatch(/v2: digest: sha256:[0-9a-f]{64}/);
    const states = pushEvents(second);
    // Every layer of v1 is already there; only the new layer and the new config travel.
    expect(states.filter((e) => e.state === 'exists').length).toBe(v1.manifest.layers.length);
    expect(states.filter((e) => e.state === 'pushed').length).toBe(2);

    // The session reads its own pushes back by the name it used.
    expect(await a.sh('docker rm one two')).toBe('one\ntwo\n');
    expect(await a.sh(`docker rmi ${host}/app:v1`)).toMatch(/Untagged/);
    expect(await a.sh(`docker pull ${host}/app:v1`)).toMatch(
      /Status: Downloaded newer image|Image is up to date/,
    );
    expect(await servedImageId(`${ns}/app`, 'v1')).toBe(v1.id);

    await a.client.close();
    const report = await srv.server.sessions.dispose(a.id);
    expect(report?.errors).toEqual([]);
    expect((await registryGet(`${ns}/app/manifests/v1`)).status).toBe(404);
    expect((await registryGet(`${ns}/app/manifests/v2`)).status).toBe(404);
    const tags = await registryGet(`${ns}/app/tags/list`);
    expect(tags.status === 404 || (tags.body as { tags: unknown }).tags === null).toBe(true);
    // The seeded images are untouched by the deletion.
    expect((await registryGet('library/busybox/manifests/latest')).status).toBe(200);
  });
});
