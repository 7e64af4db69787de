// The Kubernetes manifests as `kubectl kustomize` renders them: every object valid against the
// Kubernetes schemas, the cross-references schemas cannot see (selectors, ports, probes, generated
// ConfigMaps) consistent with deploy/cluster.ts, and the generated files equal to a fresh render.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import {
  CACHE_ALLOWED_REPOSITORIES,
  CLUSTER,
  NODE_COOKIE,
  NODE_LOCAL_MIRROR,
  nodeAddresses,
  nodesForWorkshop,
  PROBE_PATHS,
  renderHaproxyConfig,
  renderRegistryGateConfig,
  SESSION_COOKIE,
} from '../../deploy/cluster.ts';
import { renderedFiles } from '../../deploy/rendered-files.ts';
import { engineConfigSchema } from '../../engine/config.ts';
import { InvalidArgumentError } from '../../engine/errors.ts';
import { parseLimits } from '../../server/limits-file.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

const manifestHead = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({ name: z.string() }),
});

function validated(model: { validate(): void }): true {
  model.validate();
  return true;
}

// Each kind the manifests may hold, validated by its kubernetes-models schema; anything else fails.
const VALIDATORS: readonly ((doc: unknown) => boolean)[] = [
  (d) => StatefulSet.is(d) && validated(new StatefulSet(d)),
  (d) => Deployment.is(d) && validated(new Deployment(d)),
  (d) => Service.is(d) && validated(new Service(d)),
  (d) => ConfigMap.is(d) && validated(new ConfigMap(d)),
  (d) => Namespace.is(d) && validated(new Namespace(d)),
  (d) => PersistentVolumeClaim.is(d) && validated(new PersistentVolumeClaim(d)),
  (d) => Ingress.is(d) && validated(new Ingress(d)),
  (d) => NetworkPolicy.is(d) && validated(new NetworkPolicy(d)),
  (d) => PodDisruptionBudget.is(d) && validated(new PodDisruptionBudget(d)),
  (d) => RuntimeClass.is(d) && validated(new RuntimeClass(d)),
];

/** Throws unless `doc` is a kind this test knows and valid against its schema. */
function validateManifest(doc: unknown): void {
  const head = manifestHead.parse(doc);
  if (!VALIDATORS.some((validate) => validate(doc))) {
    throw new Error(`${head.apiVersion} ${head.kind} ${head.metadata.name}: no schema for this kind here`);
  }
}

/** `kubectl kustomize DIR`, parsed; kubectl missing is a failure (setup installs it), not a skip. */
function kustomize(dir: string): unknown[] {
  const result = spawnSync('kubectl', ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' });
  if (result.error)
    throw new Error(`kubectl kustomize ${dir}: ${result.error.message} (is kubectl installed?)`);
  if (result.status !== 0)
    throw new Error(`kubectl kustomize ${dir} exited ${result.status}: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message}`);
    return doc.toJS();
  });
}

function haproxyCheck(config: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-haproxy-'));
  try {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const result = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    if (result.error) throw new Error(`haproxy -c: ${result.error.message} (is haproxy installed?)`);
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

interface Workload {
  name: string;
  template: IPodTemplateSpec;
}

const docs = kustomize('deploy/kubernetes');
const statefulSets = docs.filter(StatefulSet.is);
const deployments = docs.filter(Deployment.is);
const services = docs.filter(Service.is);
const configMaps = docs.filter(ConfigMap.is);
const workloads: Workload[] = [...statefulSets, ...deployments].map((w) => ({
  name: w.metadata?.name ?? '',
  template: w.spec?.template ?? {},
}));

function named<T extends { metadata?: { name?: string } }>(items: T[], name: string): T {
  const found = items.find((item) => item.metadata?.name === name);
  if (found === undefined) throw new Error(`no object named ${name} in the rendered manifests`);
  return found;
}

function container(workload: Workload, name: string): IContainer {
  const found = workload.template.spec?.containers.find((c) => c.name === name);
  if (found === undefined) throw new Error(`${workload.name}: no container ${name}`);
  return found;
}

function workloadsSelectedBy(selector: Record<string, string> | undefined): Workload[] {
  return workloads.filter((w) => selects(selector, w.template.metadata?.labels));
}

/** The data of the generated ConfigMap a workload's volume names (kustomize adds a hash suffix). */
function configMapOfVolume(workload: Workload, volume: string): Record<string, string> {
  const source = workload.template.spec?.volumes?.find((v) => v.name === volume)?.configMap?.name;
  if (source === undefined) throw new Error(`${workload.name}: volume ${volume} is no ConfigMap`);
  return named(configMaps, source).data ?? {};
}

const nodes = workloads.find((w) => w.name === CLUSTER.statefulSet)!;
const router = workloads.find((w) => w.name === 'layerlab-router')!;
const registry = workloads.find((w) => w.name === 'layerlab-registry')!;

describe('deploy/kubernetes as kubectl kustomize renders it', () => {
  it('holds only kinds this test validates, each valid against its Kubernetes schema', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const doc of docs) validateManifest(doc);
    const kinds = new Set(docs.map((d) => manifestHead.parse(d).kind));
    expect([...kinds].sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Ingress',
      'Namespace',
      'NetworkPolicy',
      'PersistentVolumeClaim',
      'PodDisruptionBudget',
      'Service',
      'StatefulSet',
    ]);
  });

  it('refuses a kind it has no schema for, and an invalid object of a known kind', () => {
    expect(() => validateManifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })).toThrow(
      /no schema for this kind/,
    );
    const badPort = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { ports: [{ port: 'eighty' }] },
    };
    expect(() => validateManifest(badPort)).toThrow(/port/);
  });

  it('puts everything in the layerlab namespace', () => {
    for (const doc of docs) {
      const head = manifestHead.parse(doc);
      if (head.kind === 'Namespace') expect(head.metadata.name).toBe(CLUSTER.namespace);
      else expect(head.metadata.namespace).toBe(CLUSTER.namespace);
    }
  });

  it('runs as many engine nodes as the router has servers, behind a headless Service that keeps full nodes', () => {
    const set = named(statefulSets, CLUSTER.statefulSet);
    expect(set.spec?.replicas).toBe(CLUSTER.replicas);
    expect(set.spec?.serviceName).toBe(CLUSTER.nodesService);
    const headless = named(services, CLUSTER.nodesService);
    expect(headless.spec?.clusterIP).toBe('None');
    expect(headless.spec?.publishNotReadyAddresses).toBe(true);
    expect(workloadsSelectedBy(headless.spec?.selector).map((w) => w.name)).toEqual([CLUSTER.statefulSet]);
    expect(selects(set.spec?.selector.matchLabels, set.spec?.template.metadata?.labels)).toBe(true);
    const routerConfig = configMapOfVolume(router, 'config')['haproxy.cfg'] ?? '';
    for (const node of nodeAddresses()) {
      expect(routerConfig).toContain(`server ${node.id} ${node.host}:${node.port} `);
      expect(node.host).toBe(`${node.id}.${CLUSTER.nodesService}.${CLUSTER.namespace}.svc.cluster.local`);
    }
    expect(routerConfig).not.toContain(`${CLUSTER.statefulSet}-${CLUSTER.replicas}.`);
  });

  it('gives every Service a workload to select and container ports its targetPorts name', () => {
    for (const service of services) {
      const selected = workloadsSelectedBy(service.spec?.selector);
      expect(selected, `Service ${service.metadata?.name}`).toHaveLength(1);
      const ports = selected[0]!.template.spec?.containers.flatMap((c) => c.ports ?? []) ?? [];
      for (const port of service.spec?.ports ?? []) {
        const target = port.targetPort ?? port.port;
        const match = ports.find((p) => p.name === target || p.containerPort === target);
        expect(match, `Service ${service.metadata?.name} port ${port.name}`).toBeDefined();
      }
    }
    const nodePort = container(nodes, 'layerlab').ports?.find((p) => p.name === 'http');
    expect(nodePort?.containerPort).toBe(CLUSTER.nodePort);
    expect(container(router, 'haproxy').ports?.find((p) => p.name === 'http')?.containerPort).toBe(
      CLUSTER.routerPort,
    );
    expect(named(services, CLUSTER.redisService).spec?.ports?.[0]?.port).toBe(CLUSTER.redisPort);
    expect(named(services, CLUSTER.registryService).spec?.ports?.[0]?.port).toBe(CLUSTER.registryPort);
  });

  it('sends the Ingress to the router Service on a port it has', () => {
    const ingresses = docs.filter(Ingress.is);
    expect(ingresses).toHaveLength(1);
    const ingress = ingresses[0]!;
    expect(ingress.spec?.ingressClassName).toBe('nginx');
    const annotations = ingress.metadata?.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(
      3600,
    );
    expect(annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBeDefined();
    const paths = ingress.spec?.rules?.flatMap((r) => r.http?.paths ?? []) ?? [];
    expect(paths.length).toBeGreaterThan(0);
    const routerService = named(services, CLUSTER.routerService);
    for (const path of paths) {
      expect(path.backend.service?.name).toBe(CLUSTER.routerService);
      const port = routerService.spec?.ports?.find(
        (p) => p.name === path.backend.service?.port?.name || p.port === path.backend.service?.port?.number,
      );
      expect(port).toBeDefined();
      expect(port?.targetPort).toBe('http');
    }
    expect(workloadsSelectedBy(routerService.spec?.selector).map((w) => w.name)).toEqual(['layerlab-router']);
  });

  it('lets at most one node be disrupted at a time', () => {
    const budgets = docs.filter(PodDisruptionBudget.is);
    expect(budgets).toHaveLength(1);
    expect(budgets[0]!.spec?.maxUnavailable).toBe(1);
    const selected = workloadsSelectedBy(budgets[0]!.spec?.selector?.matchLabels);
    expect(selected.map((w) => w.name)).toEqual([CLUSTER.statefulSet]);
  });

  it('probes the nodes on the paths the server serves', () => {
    const engine = container(nodes, 'layerlab');
    expect(engine.readinessProbe?.httpGet?.path).toBe(PROBE_PATHS.ready);
    expect(engine.livenessProbe?.httpGet?.path).toBe(PROBE_PATHS.health);
    expect(engine.startupProbe?.httpGet?.path).toBe(PROBE_PATHS.health);
    const sources = serverSources();
    for (const path of Object.values(PROBE_PATHS)) {
      const literal = new RegExp(`['"\`]${path}['"\`]`);
      expect(
        sources.some((text) => literal.test(text)),
        `a route for ${path} in server/`,
      ).toBe(true);
    }
  });

  it('starts each node in cluster mode under its pod name, with the engine config and limits rendered', () => {
    const engine = container(nodes, 'layerlab');
    const env = new Map((engine.env ?? []).map((e) => [e.name, e]));
    const redisUrl = `redis://${CLUSTER.redisService}:${CLUSTER.redisPort}`;
    expect(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('LAYERLAB_NODE_ID')?.value).toBe('$(POD_NAME)');
    expect(env.get('LAYERLAB_CLUSTER')?.value).toBe(redisUrl);
    expect(env.get('LAYERLAB_PUBLIC_URL')?.value).toMatch(/^https:\/\//);
    expect(env.get('LAYERLAB_TRUSTED_PROXIES')?.value).toBeDefined();
    // The image's entrypoint runs `serve`; a `command` here would replace it and its init (PID 1).
    expect(engine.command).toBeUndefined();
    const args = engine.args ?? [];
    expect(args[args.indexOf('--cluster') + 1]).toBe(redisUrl);
    expect(args[args.indexOf('--node-id') + 1]).toBe('$(POD_NAME)');
    expect(args[args.indexOf('--port') + 1]).toBe(String(CLUSTER.nodePort));
    expect(nodes.template.spec?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);

    const files = configMapOfVolume(nodes, 'engine-config');
    const root = env.get('LAYERLAB_ROOT')?.value;
    const mounts = engine.volumeMounts ?? [];
    expect(mounts.find((m) => m.subPath === 'config.json')?.mountPath).toBe(`${root}/config.json`);
    expect(mounts.find((m) => m.subPath === 'limits.json')?.mountPath).toBe(
      env.get('LAYERLAB_LIMITS')?.value,
    );
    const config = engineConfigSchema.parse(JSON.parse(files['config.json'] ?? ''));
    expect(config.mirrors['docker.io']).toEqual([
      NODE_LOCAL_MIRROR,
      `http://${CLUSTER.registryService}:${CLUSTER.registryPort}`,
    ]);
    expect(parseLimits(files['limits.json'] ?? '', 'limits.json').maxSessions).toBeGreaterThanOrEqual(40);
  });

  it('confines every pod but the engine nodes, and says what the nodes need', () => {
    for (const workload of workloads) {
      expect(workload.template.spec?.automountServiceAccountToken, workload.name).toBe(false);
      for (const c of workload.template.spec?.containers ?? []) {
        expect(c.securityContext?.readOnlyRootFilesystem, `${workload.name}/${c.name}`).toBe(true);
        expect(c.resources?.limits?.memory, `${workload.name}/${c.name}`).toBeDefined();
        if (workload === nodes) continue;
        expect(c.securityContext?.allowPrivilegeEscalation, `${workload.name}/${c.name}`).toBe(false);
        expect(c.securityContext?.capabilities?.drop, `${workload.name}/${c.name}`).toEqual(['ALL']);
        expect(workload.template.spec?.securityContext?.runAsNonRoot, workload.name).toBe(true);
      }
    }
    expect(container(nodes, 'layerlab').securityContext?.privileged).toBe(true);
    const namespace = docs.filter(Namespace.is)[0];
    expect(namespace?.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it('names every image through kustomize images, so each can be pinned in one place', () => {
    const kustomization = readFileSync(join(repoRoot, 'deploy/kubernetes/kustomization.yaml'), 'utf8');
    const pinned = z
      .object({ images: z.array(z.object({ name: z.string(), newName: z.string(), newTag: z.string() })) })
      .parse(parseAllDocuments(kustomization)[0]?.toJS()).images;
    const rendered = workloads.flatMap((w) => w.template.spec?.containers.map((c) => c.image) ?? []);
    for (const image of rendered) {
      expect(
        pinned.map((p) => `${p.newName}:${p.newTag}`),
        `${image}`,
      ).toContain(image);
    }
    expect(new Set(pinned.map((p) => p.name))).toEqual(new Set(['layerlab', 'haproxy', 'registry', 'redis']));
  });

  it('aims every NetworkPolicy at pods that exist, and lets only the router reach the nodes', () => {
    const policies = docs.filter(NetworkPolicy.is);
    for (const policy of policies) {
      expect(workloadsSelectedBy(policy.spec?.podSelector.matchLabels), policy.metadata?.name).toHaveLength(
        1,
      );
      for (const rule of policy.spec?.ingress ?? []) {
        for (const peer of rule.from ?? []) {
          expect(workloadsSelectedBy(peer.podSelector?.matchLabels), policy.metadata?.name).toHaveLength(1);
        }
      }
    }
    const nodePolicy = policies.find((p) =>
      selects(p.spec?.podSelector.matchLabels, nodes.template.metadata?.labels),
    );
    const from = nodePolicy?.spec?.ingress?.flatMap((r) => r.from ?? []) ?? [];
    expect(
      from.flatMap((peer) => workloadsSelectedBy(peer.podSelector?.matchLabels).map((w) => w.name)),
    ).toEqual(['layerlab-router']);
  });

  it('serves the registry through the gate, with distribution on the pod loopback only', () => {
    const cache = container(registry, 'cache');
    const env = new Map((cache.env ?? []).map((e) => [e.name, e]));
    expect(env.get('REGISTRY_HTTP_ADDR')?.value).toBe(`127.0.0.1:${CLUSTER.registryCachePort}`);
    expect(env.get('REGISTRY_PROXY_REMOTEURL')?.value).toBe('https://registry-1.docker.io');
    expect(env.get('REGISTRY_PROXY_USERNAME')?.valueFrom?.secretKeyRef?.optional).toBe(true);
    expect(container(registry, 'gate').ports?.find((p) => p.name === 'registry')?.containerPort).toBe(
      CLUSTER.registryPort,
    );
    const gate = configMapOfVolume(registry, 'gate-config')['haproxy.cfg'] ?? '';
    expect(gate).toContain(`server cache 127.0.0.1:${CLUSTER.registryCachePort}`);
  });

  it('carries the generated files in its ConfigMaps, byte for byte', () => {
    const files = renderedFiles();
    expect(configMapOfVolume(router, 'config')['haproxy.cfg']).toBe(
      files['deploy/kubernetes/router/haproxy.cfg'],
    );
    expect(configMapOfVolume(registry, 'gate-config')['haproxy.cfg']).toBe(
      files['deploy/kubernetes/registry/haproxy.cfg'],
    );
  });
});

describe('deploy/kubernetes-sandboxed', () => {
  it('renders the same objects plus a RuntimeClass, and runs only the nodes under it', () => {
    const sandboxed = kustomize('deploy/kubernetes-sandboxed');
    for (const doc of sandboxed) validateManifest(doc);
    const runtimeClasses = sandboxed.filter(RuntimeClass.is);
    expect(runtimeClasses).toHaveLength(1);
    const name = runtimeClasses[0]!.metadata?.name;
    for (const set of sandboxed.filter(StatefulSet.is)) {
      const expected = set.metadata?.name === CLUSTER.statefulSet ? name : undefined;
      expect(set.spec?.template.spec?.runtimeClassName).toBe(expected);
    }
    expect(
      sandboxed.filter(Deployment.is).every((d) => d.spec?.template.spec?.runtimeClassName === undefined),
    ).toBe(true);
    expect(sandboxed).toHaveLength(docs.length + 1);
  });
});

describe('the generated files', () => {
  it('are checked in exactly as deploy/render.ts renders them now', () => {
    for (const [path, text] of Object.entries(renderedFiles())) {
      expect(readFileSync(join(repoRoot, path), 'utf8'), `${path}: run \`node deploy/render.ts\``).toBe(text);
    }
  });

  it('route by the cookies the server sets', () => {
    const config = renderedFiles()['deploy/kubernetes/router/haproxy.cfg'] ?? '';
    expect(config).toContain(`use_backend pinned if { req.cook(${NODE_COOKIE}) -m found }`);
    expect(config).toContain(`balance hash req.cook(${SESSION_COOKIE})`);
    expect(config).toContain('hash-type consistent');
    expect(config).toContain(
      `http-check send meth GET uri ${PROBE_PATHS.ready} ver HTTP/1.1 hdr Host localhost`,
    );
    expect(config).toContain(
      `http-check send meth GET uri ${PROBE_PATHS.health} ver HTTP/1.1 hdr Host localhost`,
    );
    expect(config).toContain('init-addr last,libc,none');
    expect(config).toContain('timeout tunnel 1h');
  });

  it('are accepted by haproxy -c: the Kubernetes router, the registry gate, and a loopback router', () => {
    const files = renderedFiles();
    const loopback = renderHaproxyConfig({
      bind: { host: '127.0.0.1', port: 18080 },
      nodes: [0, 1, 2].map((i) => ({ id: `node-${i}`, host: '127.0.0.1', port: 18081 + i })),
    });
    const configs = [
      files['deploy/kubernetes/router/haproxy.cfg'],
      files['deploy/kubernetes/registry/haproxy.cfg'],
      loopback,
    ];
    for (const config of configs) {
      const { status, output } = haproxyCheck(config ?? '');
      expect(output).not.toMatch(/ALERT/);
      expect(status, output).toBe(0);
    }
  });

  it('allow-list the lesson images Docker Hub names as its own, never a layerlab/ one', () => {
    expect(CACHE_ALLOWED_REPOSITORIES).toContain('library/busybox');
    expect(CACHE_ALLOWED_REPOSITORIES.some((r) => r.startsWith('layerlab/'))).toBe(false);
  });

  it('refuse names HAProxy would misread and repositories outside Docker grammar', () => {
    const bind = { host: '127.0.0.1', port: 1 };
    expect(() => renderHaproxyConfig({ bind, nodes: [{ id: 'a b', host: '127.0.0.1', port: 2 }] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => renderHaproxyConfig({ bind, nodes: [] })).toThrow(InvalidArgumentError);
    expect(() =>
      renderHaproxyConfig({ bind: { host: '127.0.0.1', port: 70000 }, nodes: nodeAddresses(1) }),
    ).toThrow(/not a port/);
    expect(() =>
      renderRegistryGateConfig({ bind, cache: bind, repositories: ['library/busybox|.*'] }),
    ).toThrow(/not a repository name/);
  });

  it('size a workshop at forty students a node plus a spare', () => {
    expect(nodesForWorkshop(30)).toBe(2);
    expect(nodesForWorkshop(80)).toBe(3);
    expect(nodesForWorkshop(81)).toBe(4);
  });
});

/** The server's TypeScript sources, where its routes are registered. */
function serverSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) out.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(repoRoot, 'server'));
  return out;
}
