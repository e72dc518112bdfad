import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The contents of a key file (mode 0600, in a directory made 0700), created with `contents` if it
 * does not exist yet: `created` says which. Processes that start together on a fresh directory all
 * get the one file's contents: it is written whole to a file of its own and then linked into place,
 * which fails for all but the first, who read the first one's file. A file created with `wx` and
 * written after could be read empty by one process and refused by the next with EEXIST: 5 of 72
 * processes opening a fresh SQLite file at once failed that way.
 */
export function createFileOnce(path: string, contents: string): { contents: string; created: boolean } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const written = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  writeFileSync(written, contents, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(written, 0o600); // whatever the umask
    linkSync(written, path);
    return { contents, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { contents: readFileSync(path, 'utf8'), created: false };
  } finally {
    rmSync(written, { force: true });
  }
}
