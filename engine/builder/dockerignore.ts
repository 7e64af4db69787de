// `.dockerignore`: which context paths COPY and ADD never see. Patterns as Docker reads them: `*`, `?`,
// `**` across directories, `!` to re-include; the last matching pattern wins; a matched directory hides
// everything under it.

import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

interface Rule {
  re: RegExp;
  exclude: boolean;
}

function patternToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none.
      out += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Parses `.dockerignore` text into an "is this context path ignored?" test. */
export function parseDockerignore(text: string): (relativePath: string) => boolean {
  const rules: Rule[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    if (!exclude) line = line.slice(1).trim();
    const clean = posix
      .normalize(line)
      .replace(/^(\.\/|\/)+/, '')
      .replace(/\/+$/, '');
    if (clean === '' || clean === '.') continue;
    rules.push({ re: patternToRegExp(clean), exclude });
  }
  return (relativePath: string) => {
    const parts = relativePath.split('/').filter(Boolean);
    let ignored = false;
    for (const rule of rules) {
      // A pattern matching a directory above the path matches the path too.
      for (let n = 1; n <= parts.length; n++) {
        if (rule.re.test(parts.slice(0, n).join('/'))) {
          ignored = rule.exclude;
          break;
        }
      }
    }
    return ignored;
  };
}

/** The ignore test of the context's `.dockerignore`, or one that ignores nothing. */
export async function loadDockerignore(contextDir: string): Promise<(relativePath: string) => boolean> {
  try {
    return parseDockerignore(await readFile(join(contextDir, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return () => false;
    throw err;
  }
}
