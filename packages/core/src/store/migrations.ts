import { ToolMuxError } from '../errors.js';
import type { SealedSecretKind, Store } from './types.js';

/**
 * The entries of workbench cells, in either naming style of the meta-tools (`TOOLMUX_WORKBENCH`,
 * `COMPOSIO_REMOTE_WORKBENCH`): the condition of migration 10's partial index. A query that repeats it
 * word for word (`hasWorkbenchCell`) is served by that index, with a custom or a generic plan. Never
 * change it: a new naming style needs a new index (and migration).
 */
export const WORKBENCH_CELL_CONDITION = "tool_slug IN ('TOOLMUX_WORKBENCH', 'COMPOSIO_REMOTE_WORKBENCH')";

/**
 * Connected accounts that never held credentials and no callback can connect any more: attempts that
 * expired or failed before they were ever ACTIVE. The condition of migration 15's partial index, which
 * `deleteNeverConnectedAccountsBefore` repeats word for word (so that the index serves it). An account
 * that ever held credentials has a `connected_at` (set whenever it becomes ACTIVE) and is never in it.
 * Never change it: another condition needs a new index (and migration).
 */
export const NEVER_CONNECTED_CONDITION =
  "status IN ('EXPIRED', 'FAILED') AND secret IS NULL AND connected_at IS NULL";

/** OAuth attempts not finished yet: the condition of migration 15's partial index of them, as above. */
export const ATTEMPT_CONDITION = "status = 'INITIATED'";

/** Migration 15's indexes, the same SQL in both dialects. */
const STALE_CONNECTION_INDEXES = `
  CREATE INDEX toolmux_connected_accounts_attempts ON toolmux_connected_accounts (created_at)
    WHERE ${ATTEMPT_CONDITION};
  CREATE INDEX toolmux_connected_accounts_never_connected ON toolmux_connected_accounts (updated_at)
    WHERE ${NEVER_CONNECTED_CONDITION};
  CREATE INDEX toolmux_connection_requests_expires_at ON toolmux_connection_requests (expires_at);
`;

/**
 * Migration 16's indexes, the same SQL in both dialects: one user's attempts and accounts never
 * connected of one auth config, in the order the count bounds read them (newest last, the id breaking
 * ties, so that no sort is needed) (`insertConnectionAttempt`,
 * `deleteNeverConnectedAccountsBeyond`). Partial on the conditions above, word for word, so that the
 * queries that repeat them are served and the ACTIVE accounts' writes leave them alone.
 */
const ATTEMPT_BOUND_INDEXES = `
  CREATE INDEX toolmux_connected_accounts_user_attempts
    ON toolmux_connected_accounts (user_id, auth_config_id, created_at, id) WHERE ${ATTEMPT_CONDITION};
  CREATE INDEX toolmux_connected_accounts_user_never_connected
    ON toolmux_connected_accounts (user_id, auth_config_id, updated_at, id) WHERE ${NEVER_CONNECTED_CONDITION};
`;

/**
 * Credential-form requests still open: the condition of migration 17's partial index, which
 * `insertFieldsRequest` repeats word for word. A form request is completed (used and COMPLETED) in one
 * step, so an unused PENDING one not replaced is open until it expires. A replaced one is out even
 * for an insert of an earlier `createdAt` (another instance's clock, or one that waited for the
 * lock), which would otherwise find it not expired at its time and end it once more. Never change
 * it, as above.
 */
export const OPEN_FORM_REQUEST_CONDITION =
  "kind = 'fields' AND status = 'PENDING' AND used_at IS NULL AND replaced_at IS NULL";

/**
 * Migration 17's index, the same SQL in both dialects: one user's open form requests of one auth
 * config by expiry. A start reads those not expired yet (a range of it), which are at most the bound
 * and the starts at once: the ones it replaced expire at once and leave that range, and the ones that
 * ran out of time are behind it, however many are kept until the pruner takes them.
 */
const FORM_REQUEST_BOUND_INDEX = `
  CREATE INDEX toolmux_connection_requests_user_open_forms
    ON toolmux_connection_requests (user_id, auth_config_id, expires_at) WHERE ${OPEN_FORM_REQUEST_CONDITION};
`;

/**
 * Indexes that a migration makes (and drops) on one table, and nothing else. On PostgreSQL a large
 * table's are built with `CONCURRENTLY`, outside the migration transaction (see
 * `PostgresStore.migrate`), so the previous release's instances go on writing and reading the table
 * while they are built; in one transaction, `CREATE INDEX` holds every write to the table until it
 * commits, and `DROP INDEX` every read too.
 */
export interface IndexChange {
  /** The table the indexes are on. */
  table: string;
  /** The indexes made: their names and what follows the table (the columns, a partial index's WHERE). */
  create: ReadonlyArray<{ name: string; columns: string }>;
  /** Indexes dropped, once the new ones are made (the reads that used them have the new ones). */
  drop?: readonly string[];
}

/**
 * The statements of `change`: as a transaction runs them, or (`concurrently`) each on its own, with
 * `CONCURRENTLY`, and `IF [NOT] EXISTS` so that one cut off part way can run again.
 */
export function indexStatements(change: IndexChange, concurrently = false): string[] {
  const how = concurrently ? ' CONCURRENTLY' : '';
  return [
    ...change.create.map(
      ({ name, columns }) =>
        `CREATE INDEX${how}${concurrently ? ' IF NOT EXISTS' : ''} ${name} ON ${change.table} ${columns}`,
    ),
    ...(change.drop ?? []).map((name) => `DROP INDEX${how}${concurrently ? ' IF EXISTS' : ''} ${name}`),
  ];
}

/** One transaction's SQL of `change` (both dialects). */
const indexSql = (change: IndexChange): string => `${indexStatements(change).join(';\n')};`;

/** Migration 20's index: one tool's log entries in id order. */
const TOOL_INDEX: IndexChange = {
  table: 'toolmux_execution_logs',
  create: [{ name: 'toolmux_execution_logs_tool_slug_id', columns: '(tool_slug, id)' }],
};

/**
 * Migration 21: the parent index led by the parent, `(parent_id, id)`, in place of migration 9's
 * `(session_id, parent_id, id)`; partial as that one (only the entries that have a parent are in it).
 */
const PARENT_INDEX: IndexChange = {
  table: 'toolmux_execution_logs',
  create: [
    { name: 'toolmux_execution_logs_parent_id', columns: '(parent_id, id) WHERE parent_id IS NOT NULL' },
  ],
  drop: ['toolmux_execution_logs_session_parent_id'],
};

/** Statistics of migration 20 (see there), gathered after its index on PostgreSQL. */
const SESSION_DEPENDENCIES = `
  CREATE STATISTICS IF NOT EXISTS toolmux_execution_logs_session_dependencies (dependencies)
    ON session_id, user_id, parent_id FROM toolmux_execution_logs;
  ANALYZE toolmux_execution_logs;`;

/** The SQL dialects the stores speak. */
export type Dialect = Store['dialect'];

/**
 * One schema change. Each store runs the SQL of its own dialect inside the migration transaction
 * and records `version` and `name` in `toolmux_migrations`.
 */
export interface Migration {
  /** 1, 2, 3, …: the position in {@link MIGRATIONS}. Never renumber a released migration. */
  version: number;
  /** snake_case summary, stored for people reading the table. */
  name: string;
  /** One or more statements per dialect. */
  sql: Record<Dialect, string>;
  /**
   * The indexes of a migration that makes only indexes (then `sql` is theirs, and on PostgreSQL
   * `postgresAfter`): PostgreSQL builds them `CONCURRENTLY` on a large table (see {@link IndexChange}).
   */
  indexes?: IndexChange;
  /** PostgreSQL statements of an {@link indexes} migration that follow its indexes (`sql.postgres` ends with them). */
  postgresAfter?: string;
}

/** Creates the table that records applied migrations; runs before every migration check. */
export const MIGRATIONS_TABLE_SQL: Record<Dialect, string> = {
  sqlite: `CREATE TABLE IF NOT EXISTS toolmux_migrations (
    version INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`,
  postgres: `CREATE TABLE IF NOT EXISTS toolmux_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL
  )`,
};

/**
 * Every schema change, oldest first. To change the schema, append an entry with the next version;
 * never edit what one that has shipped makes (migrations 20 and 21 were written again as their
 * {@link IndexChange}s, which make the same indexes, so that PostgreSQL builds them online).
 *
 * A migration runs while instances of the previous release still serve (a rolling deploy; they never
 * look at the schema again, see docs/server.md#upgrading), so it keeps their queries working: add
 * tables, indexes, and columns that are nullable or have a default; drop, rename or tighten only in
 * a later release, once no release still running uses what goes (or say in the changeset that old
 * instances must be stopped first). A toolmux that opens a database migrated further than it knows
 * refuses (`pendingMigrations`).
 *
 * Encodings: SQLite keeps JSON as text and dates as integer milliseconds since the epoch; PostgreSQL
 * uses `json` (the text as written, so keys keep their order; `jsonb` before migration 13) and
 * `timestamptz`. Id columns are `COLLATE "C"` in PostgreSQL so that `ORDER BY id` and `id < cursor`
 * compare bytes, as SQLite does, whatever the database's collation.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions_and_execution_logs',
    sql: {
      sqlite: `
        CREATE TABLE toolmux_sessions (
          id TEXT PRIMARY KEY NOT NULL,
          user_id TEXT NOT NULL,
          config TEXT NOT NULL,
          config_version INTEGER NOT NULL,
          token_hash TEXT NOT NULL,
          metadata TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX toolmux_sessions_user_id_id ON toolmux_sessions (user_id, id);

        CREATE TABLE toolmux_execution_logs (
          id TEXT PRIMARY KEY NOT NULL,
          session_id TEXT,
          user_id TEXT NOT NULL,
          tool_slug TEXT NOT NULL,
          toolkit TEXT NOT NULL,
          connected_account_id TEXT,
          call_id TEXT,
          status TEXT NOT NULL CHECK (status IN ('success', 'error')),
          error_code TEXT,
          error_message TEXT,
          duration_ms REAL NOT NULL,
          input TEXT NOT NULL,
          output TEXT NOT NULL,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX toolmux_execution_logs_session_id_id ON toolmux_execution_logs (session_id, id);
        CREATE INDEX toolmux_execution_logs_user_id_id ON toolmux_execution_logs (user_id, id);
      `,
      postgres: `
        CREATE TABLE toolmux_sessions (
          id text COLLATE "C" PRIMARY KEY,
          user_id text NOT NULL,
          config jsonb NOT NULL,
          config_version integer NOT NULL,
          token_hash text NOT NULL,
          metadata jsonb NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE INDEX toolmux_sessions_user_id_id ON toolmux_sessions (user_id, id);

        CREATE TABLE toolmux_execution_logs (
          id text COLLATE "C" PRIMARY KEY,
          session_id text,
          user_id text NOT NULL,
          tool_slug text NOT NULL,
          toolkit text NOT NULL,
          connected_account_id text,
          call_id text,
          status text NOT NULL CHECK (status IN ('success', 'error')),
          error_code text,
          error_message text,
          duration_ms double precision NOT NULL,
          input text NOT NULL,
          output text NOT NULL,
          created_at timestamptz NOT NULL
        );
        CREATE INDEX toolmux_execution_logs_session_id_id ON toolmux_execution_logs (session_id, id);
        CREATE INDEX toolmux_execution_logs_user_id_id ON toolmux_execution_logs (user_id, id);
      `,
    },
  },
  {
    version: 2,
    name: 'auth_configs_connected_accounts_connection_requests',
    // No foreign keys: the stores delete dependent rows themselves, in one transaction, the same way
    // on both databases (SQLite enforces foreign keys only per connection, after a PRAGMA).
    sql: {
      sqlite: `
        CREATE TABLE toolmux_auth_configs (
          id TEXT PRIMARY KEY NOT NULL,
          toolkit TEXT NOT NULL,
          type TEXT NOT NULL CHECK (type IN ('oauth2', 'api_key', 'bearer', 'basic')),
          created_by TEXT NOT NULL CHECK (created_by IN ('user', 'toolmux')),
          settings TEXT NOT NULL,
          secret TEXT,
          key_id TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX toolmux_auth_configs_toolkit_id ON toolmux_auth_configs (toolkit, id);
        CREATE UNIQUE INDEX toolmux_auth_configs_managed ON toolmux_auth_configs (toolkit)
          WHERE created_by = 'toolmux';

        CREATE TABLE toolmux_connected_accounts (
          id TEXT PRIMARY KEY NOT NULL,
          user_id TEXT NOT NULL,
          toolkit TEXT NOT NULL,
          auth_config_id TEXT NOT NULL,
          status TEXT NOT NULL
            CHECK (status IN ('INITIATED', 'ACTIVE', 'FAILED', 'EXPIRED', 'INACTIVE', 'REVOKED')),
          status_reason TEXT,
          secret TEXT,
          key_id TEXT,
          expires_at INTEGER,
          version INTEGER NOT NULL,
          refresh_lease_until INTEGER,
          connected_at INTEGER,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX toolmux_connected_accounts_user_id_id ON toolmux_connected_accounts (user_id, id);
        CREATE INDEX toolmux_connected_accounts_user_config
          ON toolmux_connected_accounts (user_id, auth_config_id, connected_at);
        CREATE INDEX toolmux_connected_accounts_auth_config_id ON toolmux_connected_accounts (auth_config_id);

        CREATE TABLE toolmux_connection_requests (
          id TEXT PRIMARY KEY NOT NULL,
          connected_account_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          toolkit TEXT NOT NULL,
          auth_config_id TEXT NOT NULL,
          state_hash TEXT NOT NULL UNIQUE,
          secret TEXT NOT NULL,
          key_id TEXT NOT NULL,
          callback_url TEXT NOT NULL,
          redirect_uri TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          used_at INTEGER,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX toolmux_connection_requests_account ON toolmux_connection_requests (connected_account_id);
        CREATE INDEX toolmux_connection_requests_auth_config_id ON toolmux_connection_requests (auth_config_id);
      `,
      postgres: `
        CREATE TABLE toolmux_auth_configs (
          id text COLLATE "C" PRIMARY KEY,
          toolkit text NOT NULL,
          type text NOT NULL CHECK (type IN ('oauth2', 'api_key', 'bearer', 'basic')),
          created_by text NOT NULL CHECK (created_by IN ('user', 'toolmux')),
          settings jsonb NOT NULL,
          secret text,
          key_id text,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE INDEX toolmux_auth_configs_toolkit_id ON toolmux_auth_configs (toolkit, id);
        CREATE UNIQUE INDEX toolmux_auth_configs_managed ON toolmux_auth_configs (toolkit)
          WHERE created_by = 'toolmux';

        CREATE TABLE toolmux_connected_accounts (
          id text COLLATE "C" PRIMARY KEY,
          user_id text NOT NULL,
          toolkit text NOT NULL,
          auth_config_id text COLLATE "C" NOT NULL,
          status text NOT NULL
            CHECK (status IN ('INITIATED', 'ACTIVE', 'FAILED', 'EXPIRED', 'INACTIVE', 'REVOKED')),
          status_reason text,
          secret text,
          key_id text,
          expires_at timestamptz,
          version integer NOT NULL,
          refresh_lease_until timestamptz,
          connected_at timestamptz,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE INDEX toolmux_connected_accounts_user_id_id ON toolmux_connected_accounts (user_id, id);
        CREATE INDEX toolmux_connected_accounts_user_config
          ON toolmux_connected_accounts (user_id, auth_config_id, connected_at);
        CREATE INDEX toolmux_connected_accounts_auth_config_id ON toolmux_connected_accounts (auth_config_id);

        CREATE TABLE toolmux_connection_requests (
          id text COLLATE "C" PRIMARY KEY,
          connected_account_id text COLLATE "C" NOT NULL,
          user_id text NOT NULL,
          toolkit text NOT NULL,
          auth_config_id text COLLATE "C" NOT NULL,
          state_hash text NOT NULL UNIQUE,
          secret text NOT NULL,
          key_id text NOT NULL,
          callback_url text NOT NULL,
          redirect_uri text NOT NULL,
          expires_at timestamptz NOT NULL,
          used_at timestamptz,
          created_at timestamptz NOT NULL
        );
        CREATE INDEX toolmux_connection_requests_account ON toolmux_connection_requests (connected_account_id);
        CREATE INDEX toolmux_connection_requests_auth_config_id ON toolmux_connection_requests (auth_config_id);
      `,
    },
  },
  {
    version: 3,
    name: 'connection_requests_by_id_of_both_kinds',
    // Connection requests of credentials (api_key / bearer / basic) beside OAuth ones, read by id: a
    // kind, a stored outcome (EXPIRED is derived from expires_at), and the OAuth-only columns made
    // nullable. A request used before this migration ended as its account did. SQLite cannot drop
    // NOT NULL, so it copies the table; PostgreSQL alters it in place.
    sql: {
      sqlite: `
        CREATE TABLE toolmux_connection_requests_v3 (
          id TEXT PRIMARY KEY NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('oauth2', 'fields')),
          connected_account_id TEXT,
          user_id TEXT NOT NULL,
          toolkit TEXT NOT NULL,
          auth_config_id TEXT NOT NULL,
          state_hash TEXT UNIQUE,
          secret TEXT,
          key_id TEXT,
          callback_url TEXT NOT NULL,
          redirect_uri TEXT,
          status TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
          expires_at INTEGER NOT NULL,
          used_at INTEGER,
          created_at INTEGER NOT NULL,
          CHECK (kind = 'fields' OR (connected_account_id IS NOT NULL AND state_hash IS NOT NULL
            AND secret IS NOT NULL AND key_id IS NOT NULL AND redirect_uri IS NOT NULL))
        ) STRICT;
        INSERT INTO toolmux_connection_requests_v3 (id, kind, connected_account_id, user_id, toolkit,
            auth_config_id, state_hash, secret, key_id, callback_url, redirect_uri, status, expires_at,
            used_at, created_at)
          SELECT id, 'oauth2', connected_account_id, user_id, toolkit, auth_config_id, state_hash, secret,
            key_id, callback_url, redirect_uri,
            CASE
              WHEN used_at IS NULL THEN 'PENDING'
              WHEN EXISTS (SELECT 1 FROM toolmux_connected_accounts AS account
                WHERE account.id = request.connected_account_id AND account.status = 'ACTIVE') THEN 'COMPLETED'
              ELSE 'FAILED'
            END,
            expires_at, used_at, created_at
          FROM toolmux_connection_requests AS request;
        DROP TABLE toolmux_connection_requests;
        ALTER TABLE toolmux_connection_requests_v3 RENAME TO toolmux_connection_requests;
        CREATE INDEX toolmux_connection_requests_account ON toolmux_connection_requests (connected_account_id);
        CREATE INDEX toolmux_connection_requests_auth_config_id ON toolmux_connection_requests (auth_config_id);
      `,
      postgres: `
        ALTER TABLE toolmux_connection_requests
          ADD COLUMN kind text NOT NULL DEFAULT 'oauth2' CHECK (kind IN ('oauth2', 'fields')),
          ADD COLUMN status text NOT NULL DEFAULT 'PENDING'
            CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
          ALTER COLUMN connected_account_id DROP NOT NULL,
          ALTER COLUMN state_hash DROP NOT NULL,
          ALTER COLUMN secret DROP NOT NULL,
          ALTER COLUMN key_id DROP NOT NULL,
          ALTER COLUMN redirect_uri DROP NOT NULL;
        UPDATE toolmux_connection_requests AS request SET status =
            CASE
              WHEN EXISTS (SELECT 1 FROM toolmux_connected_accounts AS account
                WHERE account.id = request.connected_account_id AND account.status = 'ACTIVE') THEN 'COMPLETED'
              ELSE 'FAILED'
            END
          WHERE used_at IS NOT NULL;
        ALTER TABLE toolmux_connection_requests
          ALTER COLUMN kind DROP DEFAULT,
          ALTER COLUMN status DROP DEFAULT,
          ADD CONSTRAINT toolmux_connection_requests_oauth2_columns CHECK (kind = 'fields' OR (
            connected_account_id IS NOT NULL AND state_hash IS NOT NULL AND secret IS NOT NULL
            AND key_id IS NOT NULL AND redirect_uri IS NOT NULL));
      `,
    },
  },
  {
    version: 4,
    name: 'session_token_versions',
    // A session's MCP token is derived from the secret key, the session id and this version; rotating
    // the token increments it (0: the token sessions had before rotation existed).
    sql: {
      sqlite: 'ALTER TABLE toolmux_sessions ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;',
      postgres: 'ALTER TABLE toolmux_sessions ADD COLUMN token_version integer NOT NULL DEFAULT 0;',
    },
  },
  {
    version: 5,
    name: 'workbench_files',
    // The files of a session's workbench (`toolmux.files`, offloaded results), kept with the session.
    sql: {
      sqlite: `
        CREATE TABLE toolmux_workbench_files (
          session_id TEXT NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          path TEXT NOT NULL,
          content TEXT NOT NULL,
          size INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (session_id, path)
        );
      `,
      postgres: `
        CREATE TABLE toolmux_workbench_files (
          session_id text NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          path text NOT NULL,
          content text NOT NULL,
          size integer NOT NULL,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (session_id, path)
        );
      `,
    },
  },
  {
    version: 6,
    name: 'connected_account_aliases',
    // Several accounts per toolkit: the name an account goes by (`work`), unique per user and toolkit
    // (the index is also what makes two concurrent renames to one alias fail), and the alias a
    // credential request gives the account it makes when completed.
    sql: {
      sqlite: `
        ALTER TABLE toolmux_connected_accounts ADD COLUMN alias TEXT;
        CREATE UNIQUE INDEX toolmux_connected_accounts_alias
          ON toolmux_connected_accounts (user_id, toolkit, alias) WHERE alias IS NOT NULL;
        ALTER TABLE toolmux_connection_requests ADD COLUMN alias TEXT;
      `,
      postgres: `
        ALTER TABLE toolmux_connected_accounts ADD COLUMN alias text;
        CREATE UNIQUE INDEX toolmux_connected_accounts_alias
          ON toolmux_connected_accounts (user_id, toolkit, alias) WHERE alias IS NOT NULL;
        ALTER TABLE toolmux_connection_requests ADD COLUMN alias text;
      `,
    },
  },
  {
    version: 7,
    name: 'execution_log_parents',
    // The entry of the call that made a call (a workbench cell, a multi-execute around it): the log
    // reads as a tree. Listed per session and parent, newest first.
    sql: {
      sqlite: `
        ALTER TABLE toolmux_execution_logs ADD COLUMN parent_id TEXT;
        CREATE INDEX toolmux_execution_logs_session_parent_id ON toolmux_execution_logs (session_id, parent_id, id);
      `,
      postgres: `
        ALTER TABLE toolmux_execution_logs ADD COLUMN parent_id text COLLATE "C";
        CREATE INDEX toolmux_execution_logs_session_parent_id ON toolmux_execution_logs (session_id, parent_id, id);
      `,
    },
  },
  {
    version: 8,
    name: 'connection_waits',
    // TOOLMUX_WAIT_FOR_CONNECTIONS reads a user's newest connection request of a toolkit. In
    // PostgreSQL, triggers notify channel toolmux_connections when an account is inserted or changes
    // status, or a request finishes, so a wait on any instance wakes at the commit (payload: the
    // table's schema and the MD5 of the user id, never the id itself).
    sql: {
      sqlite: `
        CREATE INDEX toolmux_connection_requests_user_toolkit
          ON toolmux_connection_requests (user_id, toolkit, created_at);
      `,
      postgres: `
        CREATE INDEX toolmux_connection_requests_user_toolkit
          ON toolmux_connection_requests (user_id, toolkit, created_at);
        CREATE FUNCTION toolmux_notify_connection() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          PERFORM pg_notify('toolmux_connections', TG_TABLE_SCHEMA || ':' || md5(NEW.user_id));
          RETURN NULL;
        END
        $fn$;
        CREATE TRIGGER toolmux_connected_accounts_notify
          AFTER INSERT OR UPDATE OF status ON toolmux_connected_accounts
          FOR EACH ROW EXECUTE FUNCTION toolmux_notify_connection();
        CREATE TRIGGER toolmux_connection_requests_notify
          AFTER UPDATE OF status ON toolmux_connection_requests
          FOR EACH ROW EXECUTE FUNCTION toolmux_notify_connection();
      `,
    },
  },
  {
    version: 9,
    name: 'execution_log_parents_partial_index',
    // A call answers once its log entry has committed, so every index of the log is paid for on the
    // call path: a one-row commit writes a page of each index it touches. Only the calls made by
    // another call (a workbench cell, a multi-execute) have a parent, and the parent index is read
    // only with `parent_id = …` (which implies NOT NULL, so the partial index serves the same
    // queries): the other entries leave it alone. Same columns and order as migration 7's index.
    sql: {
      sqlite: `
        DROP INDEX toolmux_execution_logs_session_parent_id;
        CREATE INDEX toolmux_execution_logs_session_parent_id ON toolmux_execution_logs (session_id, parent_id, id)
          WHERE parent_id IS NOT NULL;
      `,
      postgres: `
        DROP INDEX toolmux_execution_logs_session_parent_id;
        CREATE INDEX toolmux_execution_logs_session_parent_id ON toolmux_execution_logs (session_id, parent_id, id)
          WHERE parent_id IS NOT NULL;
      `,
    },
  },
  {
    version: 10,
    name: 'execution_log_workbench_cells',
    // Whether a session has run a workbench cell (asked once per new workbench context, to tell the
    // agent that the values of earlier cells are gone) is one probe of this partial index, which holds
    // only the cells' entries: without it the question walked the session's whole log range.
    sql: {
      sqlite: `
        CREATE INDEX toolmux_execution_logs_workbench_cells ON toolmux_execution_logs (session_id)
          WHERE ${WORKBENCH_CELL_CONDITION};
      `,
      postgres: `
        CREATE INDEX toolmux_execution_logs_workbench_cells ON toolmux_execution_logs (session_id)
          WHERE ${WORKBENCH_CELL_CONDITION};
      `,
    },
  },
  {
    version: 11,
    name: 'connection_request_account_limits',
    // The session's multiAccount.maxAccountsPerToolkit when a request started (NULL: no limit). The
    // limit is checked again when the request makes its account ACTIVE, in one transaction with
    // counting the user's accounts of the toolkit, so that requests completed at once (on one
    // instance or several) cannot connect more accounts than it.
    sql: {
      sqlite: 'ALTER TABLE toolmux_connection_requests ADD COLUMN max_accounts INTEGER;',
      postgres: 'ALTER TABLE toolmux_connection_requests ADD COLUMN max_accounts integer;',
    },
  },
  {
    version: 12,
    name: 'workbench_file_pieces',
    // A workbench file's content is kept in pieces (WORKBENCH_FILE_PIECE_CHARS characters each), so
    // that writing or reading a file of many megabytes is many short statements, not one that holds
    // the event loop. A write puts its pieces under a new generation id, then points the file's row at
    // that generation in one short transaction and deletes the old generation's pieces: a reader sees
    // the old file or the new one, and a crash mid-write leaves the old one (and pieces that no row
    // points at, collected later). A row written before this migration keeps its content in the row
    // (generation NULL) and is read as it was; writing it again moves it to pieces.
    sql: {
      sqlite: `
        ALTER TABLE toolmux_workbench_files ADD COLUMN generation TEXT;
        ALTER TABLE toolmux_workbench_files ADD COLUMN pieces INTEGER;
        CREATE TABLE toolmux_workbench_file_pieces (
          session_id TEXT NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          generation TEXT NOT NULL,
          piece INTEGER NOT NULL,
          written_at INTEGER NOT NULL,
          content TEXT NOT NULL,
          PRIMARY KEY (session_id, generation, piece)
        ) STRICT;
      `,
      postgres: `
        ALTER TABLE toolmux_workbench_files ADD COLUMN generation text COLLATE "C", ADD COLUMN pieces integer;
        CREATE TABLE toolmux_workbench_file_pieces (
          session_id text NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          generation text COLLATE "C" NOT NULL,
          piece integer NOT NULL,
          written_at timestamptz NOT NULL,
          content text NOT NULL,
          PRIMARY KEY (session_id, generation, piece)
        );
      `,
    },
  },
  {
    version: 13,
    name: 'json_columns_keep_key_order',
    // PostgreSQL's `jsonb` sorts an object's keys (by length, then bytes), so a session resumed from
    // the store handed the model its custom tools' schema properties in another order than the session
    // that created it (and another prompt to cache); SQLite keeps JSON as the text written. `json`
    // keeps the text too. Instances of the previous release write these columns with text
    // parameters and read them as parsed JSON, which works on `json` the same. The rewrite holds a
    // lock on each table while it runs (one pass over the sessions and auth configs); the key order of
    // rows written before it is the sorted one and stays so until they are written again.
    sql: {
      sqlite: 'SELECT 1;',
      postgres: `
        ALTER TABLE toolmux_sessions
          ALTER COLUMN config TYPE json USING config::json,
          ALTER COLUMN metadata TYPE json USING metadata::json;
        ALTER TABLE toolmux_auth_configs ALTER COLUMN settings TYPE json USING settings::json;
      `,
    },
  },
  {
    version: 14,
    name: 'session_delete_notifies_waits',
    // A wait for connections ends when its session is deleted. Deleted on another instance, the wait
    // learnt it only at its next re-read (every 5 s while listening). In PostgreSQL a delete now
    // notifies channel toolmux_connections like migration 8's triggers (the schema and the MD5 of the
    // user id), so the user's waits on every instance wake at the commit and find their session gone.
    // SQLite has no notifications: a wait there polls (at most every 500 ms) as before.
    sql: {
      sqlite: 'SELECT 1;',
      postgres: `
        CREATE FUNCTION toolmux_notify_session_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          PERFORM pg_notify('toolmux_connections', TG_TABLE_SCHEMA || ':' || md5(OLD.user_id));
          RETURN NULL;
        END
        $fn$;
        CREATE TRIGGER toolmux_sessions_notify_delete
          AFTER DELETE ON toolmux_sessions
          FOR EACH ROW EXECUTE FUNCTION toolmux_notify_session_deleted();
      `,
    },
  },
  {
    version: 15,
    name: 'stale_connection_state',
    // Connection state that can never complete is cleaned up in batches (connection-state-pruning.ts):
    // OAuth attempts left INITIATED become EXPIRED (by creation time), connection requests go a day
    // after they expire (by expiry), and accounts that never held credentials some weeks after their
    // last change. Each batch is the oldest rows of one of these indexes, so its cost does not grow
    // with the tables; the partial ones hold only the rows they are read for (the attempts, the
    // accounts never connected), so the ACTIVE accounts' writes leave them alone.
    sql: { sqlite: STALE_CONNECTION_INDEXES, postgres: STALE_CONNECTION_INDEXES },
  },
  {
    version: 16,
    name: 'connection_attempt_bounds',
    // Connection state is bounded by count too: a user has at most 10 pending OAuth attempts per auth
    // config (starting one more ends the oldest, in the start's transaction) and keeps the newest 10
    // accounts never connected per auth config (the pruner deletes older ones). Both read one user's
    // rows of one auth config, newest first, from these indexes, so their cost does not grow with the
    // user's other accounts or anyone else's.
    sql: { sqlite: ATTEMPT_BOUND_INDEXES, postgres: ATTEMPT_BOUND_INDEXES },
  },
  {
    version: 17,
    name: 'form_request_bound',
    // Credential-form requests are bounded by count like OAuth attempts: at most 10 open per user and
    // auth config, a new one ends the oldest in its insert's transaction. They have no account to
    // hold why they ended, so `replaced_at` says when newer requests replaced one (null: never; OAuth
    // attempts' requests are marked so too), and the index serves the start's count. A nullable
    // column without a default: instant on both, and instances of the previous release, which neither
    // read nor write it, go on working meanwhile.
    sql: {
      sqlite: `ALTER TABLE toolmux_connection_requests ADD COLUMN replaced_at INTEGER;${FORM_REQUEST_BOUND_INDEX}`,
      postgres: `ALTER TABLE toolmux_connection_requests ADD COLUMN replaced_at timestamptz;${FORM_REQUEST_BOUND_INDEX}`,
    },
  },
  {
    version: 18,
    name: 'workbench_file_writes',
    // A workbench file of several pieces reserves its bytes against the session's quota before it
    // writes a piece (a row here, under the session's lock), and the reservation goes when the file
    // is in or the write fails: writes at once counted only the files already in, so each wrote its
    // pieces, and a session held some three times its quota until the switch refused all but a few.
    // Pieces of a file replaced or deleted that are still being deleted keep a row too (SQLite
    // deletes them a few at a time, after the switch). A row that old pieces' age rule would collect
    // (WORKBENCH_STALE_PIECES_MS, a write killed mid-way) no longer counts. A new table: instances of
    // the previous release go on working meanwhile, without reserving.
    sql: {
      sqlite: `
        CREATE TABLE toolmux_workbench_file_writes (
          session_id TEXT NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          generation TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          started_at INTEGER NOT NULL,
          PRIMARY KEY (session_id, generation)
        ) STRICT;
      `,
      postgres: `
        CREATE TABLE toolmux_workbench_file_writes (
          session_id text NOT NULL REFERENCES toolmux_sessions (id) ON DELETE CASCADE,
          generation text COLLATE "C" NOT NULL,
          bytes bigint NOT NULL,
          started_at timestamptz NOT NULL,
          PRIMARY KEY (session_id, generation)
        );
      `,
    },
  },
  {
    version: 19,
    name: 'connection_request_reconnect_of',
    // A reconnect's request names the account it gives new credentials to, so that its readers
    // (`connectionRequests.get()`, its waiter, the connect page) can tell it from a new connection. A
    // nullable column without a default: instant on both, and instances of the previous release, which
    // neither read nor write it, go on working meanwhile (their reconnects read as new connections).
    sql: {
      sqlite: 'ALTER TABLE toolmux_connection_requests ADD COLUMN reconnect_of TEXT;',
      postgres: 'ALTER TABLE toolmux_connection_requests ADD COLUMN reconnect_of text;',
    },
  },
  {
    version: 20,
    name: 'execution_log_tool_index',
    // The log filtered by tool (`GET /logs?tool_slug=…`, `mux.logs.list({ toolSlug })`) walks one
    // tool's entries newest first: without an index a rarely called or unknown tool's page read the
    // whole table (~270 ms at a million entries on PostgreSQL). Every index is paid on each call's
    // log commit, so this one is narrow: the slug and the id, nothing more (bench/log-insert.bench.ts).
    // A filter by tool beside a session or a user walks one of the indexes and checks the other
    // column on the entries it reads. PostgreSQL also learns that a session's entries are all of one
    // user and a parent's all of one session (statistics, kept by ANALYZE, nothing written per entry;
    // gathered here once, from a sample): it took a filter by both for a handful of entries, combined
    // or bitmap-read the indexes and sorted every entry of the session (or of the parent).
    sql: { sqlite: indexSql(TOOL_INDEX), postgres: `${indexSql(TOOL_INDEX)}${SESSION_DEPENDENCIES}` },
    indexes: TOOL_INDEX,
    postgresAfter: SESSION_DEPENDENCIES,
  },
  {
    version: 21,
    name: 'execution_log_parent_index',
    // The calls of a parent were indexed behind their session, `(session_id, parent_id, id)`: a
    // filter by parent without the session (`GET /logs?parent_id=…`, `mux.logs.list({ parentId })`,
    // alone or beside a user or a tool) walked the whole table, or a user's or a tool's entries, for a
    // page, all of them for a parent no entry names. The parent's own entry cannot tell the session
    // in its place: calls are stored before it (a remote client's multi-execute uploads its entry when
    // it ends), or without it for good (an aborted call logged after that upload, a parent the pruner
    // took). Led by the parent, the index serves a session's calls of a parent as well (the stores
    // walk it and check the session: a parent's calls are its session's). It replaces migration 9's,
    // so a call's log commit writes no more than before (only an entry that has a parent, one column
    // fewer); a release still running reads a session's calls of a parent by the session's index.
    sql: { sqlite: indexSql(PARENT_INDEX), postgres: indexSql(PARENT_INDEX) },
    indexes: PARENT_INDEX,
  },
  {
    version: 22,
    name: 'sqlite_execution_log_user_tool_index',
    // SQLite: the log filtered by user and tool (`GET /logs?user_id=…&tool_slug=…`) walked the tool's
    // index and checked each entry's user, so a user who rarely or never calls a common tool had a
    // page read all that tool's entries (bench/log-user-tool.bench.ts: 22 ms at 10,000 entries, 690
    // ms at 200,000). This index reads the user's entries of the tool alone, newest first. PostgreSQL
    // records the version only: its planner, which takes user and tool as independent, did not pick
    // such an index over the primary key for a page (an index more costs every call's log commit).
    sql: {
      sqlite:
        'CREATE INDEX toolmux_execution_logs_user_tool_id ON toolmux_execution_logs (user_id, tool_slug, id);',
      postgres: '-- SQLite only',
    },
  },
];

/** The table of each kind of record that holds encrypted values. */
export const SEALED_SECRET_TABLES: Record<SealedSecretKind, string> = {
  auth_config: 'toolmux_auth_configs',
  connected_account: 'toolmux_connected_accounts',
  connection_request: 'toolmux_connection_requests',
};

/** The newest migration this code knows: the schema version it writes. */
export const LATEST_MIGRATION_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A row of `toolmux_migrations`. */
export interface AppliedMigration {
  version: number;
  name: string;
}

/**
 * The migrations still to apply to a database whose `toolmux_migrations` holds `applied`, in order.
 *
 * Throws `STORE_SCHEMA_TOO_NEW` when the database holds a migration this code does not know: a newer
 * toolmux migrated it, and this code cannot tell what its tables mean now (nor migrate them back).
 * The stores call it before they apply anything, inside the migration transaction.
 */
export function pendingMigrations(applied: readonly AppliedMigration[]): Migration[] {
  const known = new Set(MIGRATIONS.map((migration) => migration.version));
  const unknown = applied.filter((migration) => !known.has(migration.version));
  if (unknown.length > 0) throw schemaTooNewError(applied, unknown);
  const done = new Set(applied.map((migration) => migration.version));
  return MIGRATIONS.filter((migration) => !done.has(migration.version));
}

function schemaTooNewError(
  applied: readonly AppliedMigration[],
  unknown: readonly AppliedMigration[],
): ToolMuxError {
  const newest = applied.reduce((a, b) => (b.version > a.version ? b : a));
  const unknownMigrations = [...unknown]
    .sort((a, b) => a.version - b.version)
    .map((migration) => `${migration.version} ${migration.name}`);
  return new ToolMuxError({
    code: 'STORE_SCHEMA_TOO_NEW',
    message:
      `The database was migrated by a newer toolmux: its schema is at migration ${newest.version} ` +
      `(${newest.name}), and this toolmux knows migrations up to ${LATEST_MIGRATION_VERSION} only ` +
      `(it does not know ${unknownMigrations.join(', ')}). Upgrade toolmux here to the release that ` +
      'migrated the database or a later one. A database is never migrated back: to run this release ' +
      'again, restore the backup taken before the upgrade.',
    details: {
      databaseVersion: newest.version,
      supportedVersion: LATEST_MIGRATION_VERSION,
      unknownMigrations,
    },
  });
}
