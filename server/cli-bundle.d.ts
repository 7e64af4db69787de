// Types for cli-bundle.js, which stays plain JavaScript so that choosing the bundle loads no TypeScript.
export declare const BUNDLE_FORMAT: number;
export declare function cliModule(
  repoRoot: string,
  dir?: string,
): { url: string; bundle: boolean; stale?: string };
