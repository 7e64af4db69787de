// Every file deploy/render.ts writes, by path relative to the repository, rendered from deploy/cluster.ts.
// Pure: the manifests test renders them afresh and compares them with the checked-in copies.

import {
  CACHE_ALLOWED_REPOSITORIES,
  CLUSTER,
  GENERATED_NOTE,
  nodeAddresses,
  renderEngineConfig,
  renderHaproxyConfig,
  renderNodeLimits,
  renderRegistryGateConfig,
} from './cluster.ts';

/** The StatefulSet's replica count as a kustomize patch, so it cannot differ from the router's servers. */
function replicasPatch(): string {
  return [
    GENERATED_NOTE,
    'apiVersion: apps/v1',
    'kind: StatefulSet',
    'metadata:',
    `  name: ${CLUSTER.statefulSet}`,
    'spec:',
    `  replicas: ${CLUSTER.replicas}`,
    '',
  ].join('\n');
}

export function renderedFiles(): Record<string, string> {
  return {
    'deploy/kubernetes/router/haproxy.cfg': renderHaproxyConfig({
      bind: { host: '0.0.0.0', port: CLUSTER.routerPort },
      nodes: nodeAddresses(),
      resolvers: { name: 'kubedns' },
      monitor: { host: '0.0.0.0', port: CLUSTER.monitorPort },
    }),
    'deploy/kubernetes/registry/haproxy.cfg': renderRegistryGateConfig({
      bind: { host: '0.0.0.0', port: CLUSTER.registryPort },
      cache: { host: '127.0.0.1', port: CLUSTER.registryCachePort },
      repositories: CACHE_ALLOWED_REPOSITORIES,
      monitor: { host: '0.0.0.0', port: CLUSTER.monitorPort },
    }),
    'deploy/kubernetes/nodes/engine-config.json': renderEngineConfig(),
    'deploy/kubernetes/nodes/limits.json': renderNodeLimits(),
    'deploy/kubernetes/nodes/replicas.yaml': replicasPatch(),
  };
}
