import { homedir } from 'node:os';
import { join } from 'node:path';
import { quotedMessage, ToolMuxError } from '../errors.js';
import type { AppliedMigration } from './migrations.js';
import { PostgresStore } from './postgres.js';
import { postgresSpecProblem, shownStoreSpec } from './store-spec-text.js';
import type { Store } from './types.js';

/** The store used when none is given: a SQLite file under the working directory. */
export const DEFAULT_STORE_SPEC = 'sqlite:./.toolmux/toolmux.db';

/** What a store spec string names. */
export type StoreSpec =
  | {
      dialect: 'sqlite';
      /** A file path, or `':memory:'`. */
      path: string;
    }
  | { dialect: 'postgres'; connectionString: string };

const ACCEPTED_FORMS =
  '"sqlite:./path/to/file.db", "sqlite::memory:", ":memory:", a file path ending in .db or .sqlite, ' +
  '"postgres://user:password@host:5432/database" (or postgresql://), or a Store instance';

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function invalidSpec(shown: string, source: string | undefined): ToolMuxError {
  return new ToolMuxError({
    code: 'STORE_CONFIG_INVALID',
    message: `Invalid store ${shown}${source === undefined ? '' : ` (${source})`}. Use ${ACCEPTED_FORMS}.`,
  });
}

/**
 * Reads a store spec without opening anything:
 *
 * - `undefined`: {@link DEFAULT_STORE_SPEC}, a SQLite file at `./.toolmux/toolmux.db`
 * - `'sqlite:./path.db'`, or a bare path ending in `.db` / `.sqlite`: a SQLite file; a path that starts
 *   with `~/` is under the home directory (`~name/`, another user's, is refused)
 * - `'sqlite::memory:'` or `':memory:'`: an in-memory SQLite database
 * - `'postgres://…'` / `'postgresql://…'`: PostgreSQL
 *
 * Throws `ToolMuxError` `STORE_CONFIG_INVALID` for anything else.
 */
export function parseStoreSpec(
  spec: string | undefined = DEFAULT_STORE_SPEC,
  /** Where the spec was set (`--store`, `TOOLMUX_STORE`, …), named in the message of a bad one. */
  source?: string,
): StoreSpec {
  if (typeof spec !== 'string') {
    throw invalidSpec(`of type ${spec === null ? 'null' : typeof spec}`, source);
  }
  if (spec === ':memory:') return { dialect: 'sqlite', path: ':memory:' };
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    // pg reads the URL only when it connects, and throws its own error then ("Invalid URL")
    const problem = postgresSpecProblem(spec);
    if (problem !== undefined) {
      throw new ToolMuxError({
        code: 'STORE_CONFIG_INVALID',
        message: `Invalid store ${JSON.stringify(shownStoreSpec(spec))}${source === undefined ? '' : ` (${source})`}: ${problem}.`,
      });
    }
    return { dialect: 'postgres', connectionString: spec };
  }
  if (spec.startsWith('sqlite:') && !spec.startsWith('sqlite://') && spec.length > 'sqlite:'.length) {
    return { dialect: 'sqlite', path: homePath(spec.slice('sqlite:'.length), spec, source) };
  }
  if (!URL_SCHEME.test(spec) && /\.(db|sqlite)$/i.test(spec)) {
    return { dialect: 'sqlite', path: homePath(spec, spec, source) };
  }
  // a URL's password must not reach logs through the message
  throw invalidSpec(JSON.stringify(shownStoreSpec(spec)), source);
}

/**
 * A SQLite path with a leading `~` read as a shell reads it: `~` or `~/data/x.db` under the home
 * directory. A spec reaches no shell in a config file, an environment variable or code, nor on a
 * command line after `sqlite:`, and the `~` was a directory of that name under the working directory.
 * `~name/…` (another user's home) is refused, naming the fix.
 */
function homePath(path: string, spec: string, source: string | undefined): string {
  if (!path.startsWith('~')) return path;
  const separator = process.platform === 'win32' ? /^~(?:$|[/\\])/ : /^~(?:$|\/)/;
  if (separator.test(path)) return join(homedir(), path.slice(1));
  throw new ToolMuxError({
    code: 'STORE_CONFIG_INVALID',
    message: `Invalid store ${JSON.stringify(spec)}${source === undefined ? '' : ` (${source})`}: "${path.split(/[/\\]/)[0]}" is not expanded (only "~/", this user's home directory, is): write the absolute path, or "./${path}" for a file or directory whose name starts with "~".`,
  });
}

/**
 * The SQLite store, imported when a SQLite store is opened: `node:sqlite` (Node ≥ 22.13) is then
 * loaded, so an application that never opens one — remote mode, a PostgreSQL store — runs where it
 * does not exist (like `pg`, which PostgresStore.create() imports).
 */
async function loadSqliteStore() {
  try {
    return (await import('./sqlite.js')).SqliteStore;
  } catch (error) {
    throw new ToolMuxError({
      code: 'STORE_CONFIG_INVALID',
      message: `A SQLite store needs node:sqlite, built into Node.js 22.13 and later; this is Node.js ${process.versions.node} (${quotedMessage(error)}). Upgrade Node.js, use a PostgreSQL store, or remote mode.`,
      cause: error,
    });
  }
}

/** Whether `value` is a `Store` object (what `openStore` takes as is), not a spec. */
export function isStore(value: unknown): value is Store {
  return typeof value === 'object' && value !== null && typeof (value as Store).migrate === 'function';
}

/**
 * Opens the store a spec names (see {@link parseStoreSpec}), or takes a `Store` as is, and runs its
 * pending migrations. A store opened here is closed again when migrating fails.
 *
 * @example
 * ```ts
 * const store = await openStore(process.env.TOOLMUX_STORE); // SQLite under ./.toolmux/ when unset
 * ```
 */
export async function openStore(spec?: string | Store): Promise<Store> {
  let store: Store;
  if (isStore(spec)) {
    store = spec;
  } else {
    const parsed = parseStoreSpec(spec);
    store =
      parsed.dialect === 'sqlite'
        ? new (await loadSqliteStore())({ path: parsed.path })
        : await PostgresStore.create({ connectionString: parsed.connectionString });
  }
  try {
    await store.migrate();
  } catch (error) {
    if (store !== spec) await store.close();
    throw error;
  }
  return store;
}

/**
 * @internal Opens the store a spec names to read it only (`toolmux sessions list`): nothing is
 * created, migrated or written. A SQLite file must exist (it is opened refusing writes); a
 * PostgreSQL database is only read. Resolves with the store and the migrations its schema records
 * (none when no toolmux ran on it): whether that schema can be read is the caller's to decide
 * (`pendingMigrations`). The store is closed again when reading them fails.
 */
export async function openStoreToRead(spec: string): Promise<{ store: Store; applied: AppliedMigration[] }> {
  const parsed = parseStoreSpec(spec);
  const store =
    parsed.dialect === 'sqlite'
      ? new (await loadSqliteStore())({ path: parsed.path, readOnly: true })
      : await PostgresStore.create({ connectionString: parsed.connectionString, poolSize: 1 });
  try {
    return { store, applied: await store.appliedMigrations() };
  } catch (error) {
    await store.close();
    throw error;
  }
}
