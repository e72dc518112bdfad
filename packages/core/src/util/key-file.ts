import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errorMessage, ToolMuxError } from '../errors.js';

/**
 * Creates `directory` and its missing parents, each with `mode` (a directory that exists keeps its
 * own). Node's `mkdirSync(…, { recursive: true })` never returns for a path under `/proc` that does
 * not exist (it retries the ENOENT forever); this one fails with the first directory it cannot make.
 */
export function makeDirectories(directory: string, mode: number): void {
  const missing: string[] = [];
  for (let current = resolve(directory); !existsSync(current); current = dirname(current)) {
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode });
    } catch (error) {
      // another process made it meanwhile
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * The contents of a key file (mode 0600, in a directory made 0700), created with `contents` if it
 * does not exist yet: `created` says which. Processes that start together on a fresh directory all
 * get the one file's contents: it is written whole to a file of its own and then linked into place,
 * which fails for all but the first, who read the first one's file. A file created with `wx` and
 * written after could be read empty by one process and refused by the next with EEXIST: 5 of 72
 * processes opening a fresh SQLite file at once failed that way.
 */
export function createFileOnce(path: string, contents: string): { contents: string; created: boolean } {
  makeDirectories(dirname(path), 0o700);
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

/**
 * A key file's contents: read when it exists, else created once with `make()` ({@link
 * createFileOnce}). A file that cannot be read or created — a directory in its place, a directory
 * this process may not write, a path under `/proc` — is `KEY_FILE_UNAVAILABLE`, naming the file,
 * why, and the fix: `setInstead`, the setting that makes the file unneeded (`TOOLMUX_SECRET_KEY`).
 */
export function readOrCreateKeyFile(
  path: string,
  make: () => string,
  setInstead: string,
): { contents: string; created: boolean } {
  const exists = existsSync(path);
  let found: { contents: string; created: boolean };
  try {
    found = exists ? { contents: readFileSync(path, 'utf8'), created: false } : createFileOnce(path, make());
  } catch (error) {
    throw keyFileError(path, error, exists ? 'read' : 'create', setInstead);
  }
  if (exists) narrowToOwner(path);
  return found;
}

/**
 * Narrows a key file that others may read (written by hand with `echo`, copied or restored under a
 * umask of 022) to 0600, as the SQLite database beside it is narrowed: whoever reads `secret.key`
 * decrypts the stored credentials. Only a file of this process's user is changed; one it may not
 * change (a read-only mount of a secret) or of another user (a shared secret) is left as it is.
 */
function narrowToOwner(path: string): void {
  try {
    const { mode, uid } = statSync(path);
    if ((mode & 0o077) !== 0 && uid === process.getuid?.()) chmodSync(path, 0o600);
  } catch {
    // read already: the key is usable, only its mode stays as it was
  }
}

function keyFileError(
  path: string,
  error: unknown,
  doing: 'read' | 'create',
  setInstead: string,
): ToolMuxError {
  const { code, syscall, path: failedPath } = (error ?? {}) as NodeJS.ErrnoException;
  const file = resolve(path);
  const directory = dirname(file);
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  // the temporary file createFileOnce writes first is not named: it is no file the user knows
  const reason =
    code === 'EISDIR'
      ? 'a directory is in its place'
      : syscall === 'mkdir' && failedPath !== undefined
        ? `the directory ${failedPath} cannot be created (${code})`
        : code === 'ENOTDIR'
          ? `a part of its path is a file, not a directory (${code})`
          : denied && doing === 'read'
            ? `this process may not read it (${code})`
            : denied || code === 'ENOENT'
              ? `this process cannot create files in ${directory} (${code})`
              : code !== undefined
                ? `${code}`
                : errorMessage(error);
  const fix =
    code === 'EISDIR'
      ? `Move that directory away, or set ${setInstead} so that no key file is needed.`
      : denied && doing === 'read'
        ? `Give this user read access to it, or set ${setInstead} so that no key file is needed.`
        : `Keep the SQLite database in a directory this user may create files in (the key files are made beside it), or set ${setInstead} so that no key file is needed.`;
  return new ToolMuxError({
    code: 'KEY_FILE_UNAVAILABLE',
    message: `The key file ${file} cannot be ${doing === 'read' ? 'read' : 'created'}: ${reason}. ${fix}`,
    cause: error,
    details: { path: file, ...(code === undefined ? {} : { errno: code }) },
  });
}
