// The headers every HTTP response of the server carries, set once per request before any route or
// static file answers (a route may tighten them, as the workshop pages do): the page cannot be framed,
// loads code only from this origin, is never sniffed into another type, and leaks no URL to others.

import type { ServerResponse } from 'node:http';

/**
 * The lessons site's policy. Starlight pages carry small inline scripts (theme, tabs) and inline
 * styles; the search (Pagefind) compiles WebAssembly in a same-origin worker; terminals open a
 * WebSocket back to this server; pictures use data: URLs. Nothing is loaded from another origin.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  // `ws:`/`wss:` for browsers that do not yet count the page's own WebSocket origin as 'self'.
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  // For browsers that predate frame-ancestors.
  'x-frame-options': 'DENY',
};

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}
