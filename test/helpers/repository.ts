// The repository's files as git knows them, read as text, for the checks in test/repository/.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository's root directory. */
export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The files git tracks (with `untracked`, also new files that are not ignored), relative to the root; undefined
 * outside a git checkout (an unpacked tarball) or without git.
 */
export function gitFiles({ untracked = false }: { untracked?: boolean } = {}): string[] | undefined {
  try {
    const args = ['ls-files', '-z', ...(untracked ? ['--cached', '--others', '--exclude-standard'] : [])];
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f !== '');
  } catch {
    return undefined;
  }
}

/** A file's text (path relative to the root); undefined for a binary file, one over 4 MiB, or one that is gone. */
export function readText(file: string): string | undefined {
  try {
    if (statSync(join(ROOT, file)).size > 4 * 1024 * 1024) return undefined;
    const text = readFileSync(join(ROOT, file), 'utf8');
    return text.includes('\0') ? undefined : text;
  } catch {
    return undefined; // deleted in the work tree but still in the index
  }
}
