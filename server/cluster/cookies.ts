// The routing cookie of a cluster: names the node holding the browser's session, so the router (HAProxy,
// rendered from deploy/cluster.ts) sends the page's requests and WebSocket to that node. It is not a
// secret (a forged one only sends the request to another node, which does not know the session).

import type { IncomingMessage } from 'node:http';
import { requestInfo } from '../http/request-info.ts';

export const NODE_COOKIE = 'layerlab_node';

/**
 * The query parameter naming a node, for a request that must reach a node other than the browser's
 * own: a teacher's view of a terminal on the node holding that student (site/src/workshop/).
 */
export const NODE_PARAM = 'node';

/** `Set-Cookie` pinning this browser to `node`, set next to the session cookie. */
export function nodeCookie(req: IncomingMessage, node: string): string {
  const secure = requestInfo(req).scheme === 'https' ? '; Secure' : '';
  return `${NODE_COOKIE}=${encodeURIComponent(node)}; Path=/; HttpOnly; SameSite=Lax${secure}`;
}
