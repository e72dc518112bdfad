/**
 * The one persistence interface of toolmux. Two real databases implement it: SQLite through
 * `node:sqlite` (the embedded default, also `:memory:`) and PostgreSQL through `pg`. The same
 * test suite (`store.test.ts`) runs against both. Every method is async so that callers do not
 * care which one they hold.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Creates tables and runs pending migrations. Safe to call from several processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Resolves when the database answers a cheap query (readiness checks); throws `STORE_ERROR`
   * otherwise. Optional for stores of your own.
   */
  ping?(): Promise<void>;

  insertSession(record: SessionRecord): Promise<void>;
  /**
   * Writes a workbench file of a session (replacing one at `path`) unless the session's files would
   * then exceed `quotaBytes`; returns the session's total after the write, or `undefined` when over
   * quota (nothing written). A file counts its `size`, its path's length in UTF-8 bytes and
   * `WORKBENCH_FILE_RECORD_BYTES` (1,024, for its record), and
   * writes of one session at once are checked one after the other (none sees the quota free of
   * another that is being written). Throws `ToolMuxError` `SESSION_NOT_FOUND` when the session is not
   * there (deleted before or while the file was written), writing nothing. Optional for stores of
   * your own (the workbench has no files without it).
   */
  putWorkbenchFile?(file: WorkbenchFileWrite, quotaBytes: number): Promise<number | undefined>;
  getWorkbenchFile?(sessionId: string, path: string): Promise<WorkbenchFileRecord | undefined>;
  /**
   * A range of a workbench file's JSON text (`toolmux.files.read(path, { offset, length })`): at most
   * `length` UTF-16 code units from `offset` (see `fileRangeReader` for the cuts), read from the
   * file as one write left it, without holding the whole file; `undefined` when there is no file.
   * Optional: without it the workbench reads the whole file with `getWorkbenchFile` and cuts the range.
   */
  getWorkbenchFileRange?(
    sessionId: string,
    path: string,
    offset: number,
    length: number,
  ): Promise<WorkbenchFileRange | undefined>;
  listWorkbenchFiles?(sessionId: string): Promise<Array<Omit<WorkbenchFileRecord, 'content'>>>;
  /** True when there was a file to delete. */
  deleteWorkbenchFile?(sessionId: string, path: string): Promise<boolean>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /**
   * Replaces config and metadata if the stored version is `expectedVersion`; returns the new record.
   * Throws `ToolMuxError` `SESSION_NOT_FOUND` for an unknown id and `SESSION_VERSION_CONFLICT` when the
   * version moved (someone else updated it first).
   */
  updateSession(id: string, update: SessionUpdate): Promise<SessionRecord>;
  /**
   * Replaces the session's token (its version and hash) if the stored token version is
   * `expectedTokenVersion`; returns the new record, or undefined when the version moved (another
   * rotation came first). Throws `ToolMuxError` `SESSION_NOT_FOUND` for an unknown id.
   */
  rotateSessionToken(id: string, rotation: SessionTokenRotation): Promise<SessionRecord | undefined>;
  /**
   * The stored token hash of a session, or undefined for an unknown id: what authenticates a request
   * to the session's MCP endpoint, read on every one (so a rotation shows at once on every instance).
   */
  getSessionTokenHash(id: string): Promise<string | undefined>;
  /**
   * Optional: the stored token version and hash of a session, or undefined for an unknown id (one
   * primary-key read of two columns). The MCP endpoint checks a request's token against them before
   * it reads or builds anything else of the session; a store without it is read with `getSession`.
   */
  getSessionToken?(id: string): Promise<StoredSessionToken | undefined>;
  /**
   * Optional: the stored config version of a session, or undefined for an unknown id (one
   * primary-key read of one column). A session object reads it (once `accountCacheTtlMs` passed, or
   * after a session was deleted or updated in its process) to learn that its session was deleted, or
   * updated through another object, before its next call; a store without it is read with
   * `getSessionTokenHash`, and its session objects then keep the config they were made with.
   */
  getSessionConfigVersion?(id: string): Promise<number | undefined>;
  /**
   * Deletes a session; false for an unknown id. Its execution log stays (entries keep the session id),
   * and `getSession` / `getSessionTokenHash` answer undefined for it from then on.
   */
  deleteSession(id: string): Promise<boolean>;
  /** Newest first. */
  listSessions(query: ListSessionsQuery): Promise<Page<SessionRecord>>;

  /**
   * Appends execution log entries in one transaction: all of them or none. The execution path
   * batches the entries of one event-loop turn into one call (see `ExecutionLogWriter`).
   */
  insertLogs(records: readonly ExecutionLogRecord[]): Promise<void>;
  /**
   * Optional: start a batch of log entries as soon as this many are queued rather than at the end of
   * the event-loop turn. A store whose commits wait on the network sets it, so that many concurrent
   * calls keep several commits in flight (see `ExecutionLogWriter`); leave it unset for a store that
   * commits synchronously in this process. A whole number from 1 to 500; anything else makes the
   * ToolMux refuse the store (`STORE_CONFIG_INVALID`).
   */
  readonly logBatchSize?: number;
  /** Newest first. */
  listLogs(query: ListLogsQuery): Promise<Page<ExecutionLogRecord>>;
  /**
   * Deletes at most `limit` of the oldest execution log entries whose id sorts before `beforeId`
   * (ids of one prefix sort by creation time) and answers how many it deleted. The ToolMux's
   * `logRetentionDays` calls it a batch at a time; optional for stores of your own (a ToolMux with
   * `logRetentionDays` then refuses the store, `STORE_CONFIG_INVALID`).
   */
  deleteLogsBefore?(beforeId: string, limit: number): Promise<number>;
  /**
   * One entry by id (checks of a client's `parentId`). Optional for stores of your own: without it,
   * a client's entries cannot name a stored parent, and the calls a remote client's multi-execute
   * sends to the server are logged without theirs.
   */
  getLog?(id: string): Promise<ExecutionLogRecord | undefined>;
  /**
   * Sets `parentId` to `to` on the entries of session `sessionId` whose `parentId` is `from`, and
   * answers how many: a remote client's entry was stored under another id than the one its calls
   * name. Optional for stores of your own (those calls then keep naming the id the client sent).
   */
  moveLogChildren?(sessionId: string, from: string, to: string): Promise<number>;
  /**
   * Whether session `sessionId` has a logged workbench cell (`TOOLMUX_WORKBENCH` or
   * `COMPOSIO_REMOTE_WORKBENCH`), at a cost that does not grow with its log. Optional for stores of
   * your own (the session then asks `listLogs` with `toolSlug`).
   */
  hasWorkbenchCell?(sessionId: string): Promise<boolean>;

  /**
   * Inserts an auth config. Returns false (and writes nothing) when the record is `createdBy: 'toolmux'`
   * and the toolkit already has such a config: there is at most one per toolkit, even when two
   * processes create it at once.
   */
  insertAuthConfig(record: AuthConfigRecord): Promise<boolean>;
  getAuthConfig(id: string): Promise<AuthConfigRecord | undefined>;
  /** Newest first. */
  listAuthConfigs(query: ListAuthConfigsQuery): Promise<Page<AuthConfigRecord>>;
  /**
   * Writes `changes` (the columns given, and `updatedAt`) if the config's `updatedAt` is still
   * `expectedUpdatedAt`; returns the new record, or `undefined` when no config has this id or it was
   * changed meanwhile (read it again and retry; `authConfigs.update()` does so up to 20 times, then
   * answers STORE_ERROR). Optional for stores of your own: without it, `authConfigs.update()` answers
   * NOT_SUPPORTED.
   */
  updateAuthConfig?(
    id: string,
    changes: AuthConfigChanges,
    expectedUpdatedAt: Date,
  ): Promise<AuthConfigRecord | undefined>;
  /**
   * Deletes the config with its connected accounts and connection requests; false for an unknown id.
   * Accounts and requests inserted through the config at the same moment (by any process sharing the
   * database) go with it: none outlives it. Answers the accounts it deleted that held credentials
   * (`secret` not null), as they were when they went: `authConfigs.delete()` deletes the accounts one by
   * one first, revoking their tokens, and revokes these too (an account connected through the config
   * after it listed them). A store of your own may answer `true`: such accounts' tokens then stay
   * live at the provider.
   *
   * With `keepHeldAccounts`, it deletes nothing while an account of the config holds credentials,
   * and answers those accounts as `{ held }` (their tokens are revoked and the accounts deleted one by
   * one, then the config is deleted again): so a process that dies between the deletion and the
   * revocation never leaves tokens live at the provider with no row to revoke them with. A store that
   * ignores the option deletes them with the config, as without it.
   */
  deleteAuthConfig(
    id: string,
    options?: { keepHeldAccounts?: boolean },
  ): Promise<boolean | ConnectedAccountRecord[] | { held: ConnectedAccountRecord[] }>;

  /**
   * Inserts the account only while its auth config exists (atomically with `deleteAuthConfig`);
   * otherwise throws `ToolMuxError` `AUTH_CONFIG_NOT_FOUND` and writes nothing. A `record.alias` held
   * by another account of the user and toolkit that no call can use (INITIATED, FAILED, EXPIRED,
   * REVOKED) is taken from it (alias null, version + 1) in the same transaction, as in
   * `completeConnectionRequest`; held by an ACTIVE or INACTIVE one, throws `ALIAS_TAKEN`. Refused for
   * any reason, nothing is written: the holder keeps the alias.
   */
  insertConnectedAccount(record: ConnectedAccountRecord): Promise<void>;
  getConnectedAccount(id: string): Promise<ConnectedAccountRecord | undefined>;
  /** Only the status columns, for cheap polling (`waitForConnection`). */
  getConnectedAccountStatus(id: string): Promise<ConnectedAccountStatusRecord | undefined>;
  /** Newest first (by id, i.e. creation). */
  listConnectedAccounts(query: ListConnectedAccountsQuery): Promise<Page<ConnectedAccountRecord>>;
  /**
   * One user's accounts on one auth config with one of `statuses`, most recently connected first
   * (`connectedAt` descending, then id descending). At most `limit`.
   */
  listRecentConnectedAccounts(query: RecentConnectedAccountsQuery): Promise<ConnectedAccountRecord[]>;
  /**
   * Applies `changes`, bumps `version`, sets `updatedAt`, and returns the new record; `undefined` when
   * no account has this id or, with `expectedVersion`, when its version moved on.
   */
  updateConnectedAccount(
    id: string,
    changes: ConnectedAccountChanges,
    expectedVersion?: number,
  ): Promise<ConnectedAccountRecord | undefined>;
  /**
   * Takes the refresh lease of an account (sets `refreshLeaseUntil`, bumps `version`) if its version is
   * still `expectedVersion` and no unexpired lease is held at `now`; `undefined` otherwise. This is
   * what keeps two processes from spending one refresh token twice. `now` and `leaseUntil` are the
   * calling process's clock: a store that machines share may read both by its own clock instead (the
   * lease as long, from its now), as PostgreSQL's does, so that a machine whose clock runs ahead does
   * not take over a live lease. A refusal at an unchanged version is taken for a live lease.
   */
  acquireRefreshLease(
    id: string,
    expectedVersion: number,
    leaseUntil: Date,
    now: Date,
  ): Promise<ConnectedAccountRecord | undefined>;
  /**
   * Deletes an account and its connection requests; false for an unknown id or, with
   * `expectedVersion`, when its version moved on (then nothing is deleted).
   */
  deleteConnectedAccount(id: string, expectedVersion?: number): Promise<boolean>;

  /** Inserts the request only while its auth config exists, as `insertConnectedAccount`. */
  insertConnectionRequest(record: ConnectionRequestRecord): Promise<void>;
  getConnectionRequest(id: string): Promise<ConnectionRequestRecord | undefined>;
  getConnectionRequestByStateHash(stateHash: string): Promise<ConnectionRequestRecord | undefined>;
  /**
   * Sets `usedAt` if the request was not used yet and has not expired at `usedAt`; false when it was
   * used, expired (a newer attempt may have ended it since it was read: see `insertConnectionAttempt`),
   * or does not exist.
   */
  markConnectionRequestUsed(id: string, usedAt: Date): Promise<boolean>;
  /**
   * Records how a used OAuth request ended: sets `status` if it is still PENDING; false otherwise
   * (or for an unknown id).
   */
  finishConnectionRequest(id: string, status: 'COMPLETED' | 'FAILED'): Promise<boolean>;
  /**
   * Completes a `fields` request with the account made from the user's credentials, in one
   * transaction: marks the request used and COMPLETED (with `account.id`) and inserts the account, if
   * the request is a PENDING `fields` request, unused and not expired at `now`, and `account`'s auth
   * config exists. Returns false and
   * writes nothing otherwise, so two completions of one request create one account. An `account.alias`
   * held by another account of the user and toolkit that no call can use (INITIATED, FAILED, EXPIRED,
   * REVOKED) is taken from it (alias null, version + 1) in the same transaction; held by an ACTIVE or
   * INACTIVE one, the insert throws `ALIAS_TAKEN` and nothing is written. When the request
   * has `maxAccounts` and the user already has that many ACTIVE or INACTIVE accounts of the toolkit,
   * throws `ToolMuxError` `ACCOUNT_LIMIT_REACHED` and writes nothing; the count and the insert are one
   * step, so completions at once (in any process sharing the database) never pass the limit together.
   */
  completeConnectionRequest(id: string, account: ConnectedAccountRecord, now: Date): Promise<boolean>;
  /**
   * `updateConnectedAccount(id, changes)` for changes that make an account ACTIVE (the OAuth callback
   * of a request with `maxAccounts` or an alias), in one transaction. With `maxAccounts` (null: no
   * limit), done only while the user has fewer than `maxAccounts` ACTIVE or INACTIVE accounts of the
   * account's toolkit, not counting this one: else throws `ToolMuxError` `ACCOUNT_LIMIT_REACHED` and
   * changes nothing. With `changes.alias`, another account of the user and toolkit that has it and that
   * no call can use (INITIATED, FAILED, EXPIRED, REVOKED) lets go of it (alias null, version + 1);
   * held by an ACTIVE or INACTIVE one, the update throws `ALIAS_TAKEN` and nothing is written. The
   * count, the alias and the update are one step, as in `completeConnectionRequest`. `undefined` for an
   * unknown id. Optional for stores of your own: without it, the limit and the alias are checked just
   * before the update, so callbacks landing at the same moment can pass the limit.
   */
  activateConnectedAccount?(
    id: string,
    changes: ConnectedAccountChanges,
    maxAccounts: number | null,
  ): Promise<ConnectedAccountRecord | undefined>;
  /**
   * The newest connection request (by creation) of one user and toolkit, or undefined: how the
   * user's last attempt to connect it stands (`TOOLMUX_WAIT_FOR_CONNECTIONS`). Optional for stores of
   * your own (waits then tell only connected or not).
   */
  latestConnectionRequest?(userId: string, toolkit: string): Promise<ConnectionRequestRecord | undefined>;
  /**
   * Starts an OAuth attempt: inserts its INITIATED `account` and its connection `request` (whose
   * `connectedAccountId` is `account.id`) in one transaction, only while their auth config exists
   * (else throws `ToolMuxError` `AUTH_CONFIG_NOT_FOUND` and writes nothing), and ends the user's
   * pending attempts through the same auth config beyond the newest `maxPending`, the new one
   * included. A pending attempt is an INITIATED account whose request is PENDING, unused and not
   * expired at `request.createdAt`; one whose request a callback took (it is trading the code) is
   * neither counted nor ended. Ending one makes its account EXPIRED with `statusReason`
   * {@link ATTEMPT_REPLACED_REASON} (`version` + 1, `updatedAt` the request's `createdAt`) and sets its
   * request's `expiresAt` and `replacedAt` to then, so its waiter, a late callback and the connect page
   * answer that newer attempts replaced it. The oldest go first (by `createdAt`, then id), never the
   * new one, at most 100 in one call; answers how many it ended. Attempts started at once for the
   * same user and auth config (in any process sharing the database) are counted one after the
   * other, so that no more than `maxPending` stay pending and none is ended while fewer are.
   * Optional for stores of your own:
   * without it, the account and the request are inserted one after the other and pending attempts are
   * not bounded (see docs/auth.md, "Stale connection state").
   */
  insertConnectionAttempt?(
    account: ConnectedAccountRecord,
    request: ConnectionRequestRecord,
    maxPending: number,
  ): Promise<number>;
  /**
   * Inserts a credential-form (`fields`) `request` only while its auth config exists (else throws
   * `ToolMuxError` `AUTH_CONFIG_NOT_FOUND` and writes nothing), and in the same transaction ends the
   * user's open form requests through the same auth config beyond the newest `maxPending`, the new one
   * included. An open form request is a `fields` request PENDING, unused and not expired at
   * `request.createdAt`. Ending one sets its `expiresAt` and `replacedAt` to `request.createdAt`, so
   * its waiter, its connect page and `connectionRequests.get()` answer that newer requests replaced
   * it, and a completion of it is refused (`completeConnectionRequest` writes nothing). The oldest go
   * first (by `createdAt`, then id), never the new one, at most 100 in one call; answers how many it
   * ended. Inserts at once for the same user and auth config (in any process sharing the database)
   * count one after the other, as `insertConnectionAttempt`'s. Optional for stores of your own:
   * without it, `insertConnectionRequest` inserts the request and form requests are bounded by time
   * only (see docs/auth.md, "Stale connection state").
   */
  insertFieldsRequest?(request: ConnectionRequestRecord, maxPending: number): Promise<number>;
  /**
   * Makes at most `limit` of the oldest OAuth attempts (INITIATED accounts) created before
   * `createdBefore` EXPIRED, with `statusReason` {@link ATTEMPT_EXPIRED_REASON}, `version` + 1 and
   * `updatedAt` `now`; answers how many. An attempt is made with its connection request, which expires
   * a fixed time after (10 minutes): the ToolMux passes a `createdBefore` by which the request has
   * expired and a callback that took it in its last moment has finished. An account that became ACTIVE
   * (or anything else) meanwhile is left alone, and instances sharing the database that expire at the
   * same time take different attempts (none waits for another). Optional for stores of your own, as
   * the two below: without them, stale connection state is kept (see docs/auth.md, "Stale connection state").
   */
  expireAbandonedAttempts?(createdBefore: Date, now: Date, limit: number): Promise<number>;
  /**
   * Deletes at most `limit` of the connection requests that expired first, of those whose `expiresAt`
   * is before `before` (whatever their status: a request is taken before it expires, so one that
   * expired long ago is finished or abandoned), and answers how many. Bounded and multi-instance safe
   * as `expireAbandonedAttempts`.
   */
  deleteConnectionRequestsBefore?(before: Date, limit: number): Promise<number>;
  /**
   * Deletes at most `limit` of the accounts that never held credentials — EXPIRED or FAILED with no
   * `secret` and no `connectedAt` (which is set whenever an account becomes ACTIVE) — last changed
   * before `before`, oldest change first, with their connection requests; answers how many accounts.
   * Never an account that held credentials, whatever its status. Bounded and multi-instance safe as
   * `expireAbandonedAttempts`.
   */
  deleteNeverConnectedAccountsBefore?(before: Date, limit: number): Promise<number>;
  /**
   * Deletes at most `limit` accounts that never held credentials (as
   * `deleteNeverConnectedAccountsBefore` reads them) beyond the newest `keep` (at least 1) of their
   * user and auth config (by `updatedAt`, then id), with their connection requests, and answers how many accounts.
   * Only the users and auth configs that have such an account changed at or after `changedSince` are
   * looked at (the pruner passes the start of its last run, less a margin, so that a run costs what
   * changed since). Never an account that held credentials. Bounded and multi-instance safe as
   * `expireAbandonedAttempts`. Optional for stores of your own: without it, such accounts are kept
   * until `deleteNeverConnectedAccountsBefore` takes them.
   */
  deleteNeverConnectedAccountsBeyond?(keep: number, changedSince: Date, limit: number): Promise<number>;
  /**
   * Calls `onChange` soon after a connected account of `userId` is inserted or changes status, or a
   * connection request of the user finishes, in any process sharing the database (PostgreSQL
   * LISTEN/NOTIFY). Optional: a store without it (SQLite) is polled by waits instead.
   */
  watchConnections?(userId: string, onChange: () => void): ConnectionWatch;

  /** Encrypted records not under `keyId`, by id ascending after `afterId` (for key rotation). */
  listSealedSecrets(query: SealedSecretsQuery): Promise<Array<{ id: string; secret: SealedSecret }>>;
  /** Replaces a record's encrypted value if it is still `expected`; false when it changed meanwhile. */
  replaceSealedSecret(
    kind: SealedSecretKind,
    id: string,
    expected: SealedSecret,
    next: SealedSecret,
  ): Promise<boolean>;
}

/** The `statusReason` of an attempt that {@link Store.expireAbandonedAttempts} made EXPIRED. */
export const ATTEMPT_EXPIRED_REASON =
  'The connection request expired before the user finished connecting: start a new connection.';

/**
 * The `statusReason` of an attempt that {@link Store.insertConnectionAttempt} ended because newer
 * attempts of the same user and auth config were started (at most 10 stay pending).
 */
export const ATTEMPT_REPLACED_REASON =
  'Newer connection attempts of the same user and auth config replaced this one before the user finished connecting (at most 10 stay pending): use the newest link, or start a new connection.';

/**
 * The most pending attempts {@link Store.insertConnectionAttempt} ends in one call: one in the steady
 * state (the attempt that the new one pushed past the bound); more only where attempts piled up before
 * the bound existed, which the next starts (or their expiry) take, so that a start's transaction stays
 * short.
 */
export const MAX_ATTEMPTS_ENDED_PER_START = 100;

/** A subscription of `Store.watchConnections`. */
export interface ConnectionWatch {
  /** Resolves once changes are being delivered (true), or when they cannot be for now (false). */
  readonly ready: Promise<boolean>;
  /** Whether changes are being delivered now (the listening connection is up). */
  live(): boolean;
  /** Ends the subscription. */
  close(): void;
}

/** An encrypted value and the id of the key that encrypted it (see `Vault`). */
export interface SealedSecret {
  keyId: string;
  ciphertext: string;
}

/** The kinds of records that hold encrypted values. */
export type SealedSecretKind = 'auth_config' | 'connected_account' | 'connection_request';

export interface SealedSecretsQuery {
  kind: SealedSecretKind;
  /** Records whose key id is not this one. */
  notKeyId: string;
  /** Exclusive lower bound on the id. */
  afterId?: string;
  limit: number;
}

export type AuthConfigType = 'oauth2' | 'api_key' | 'bearer' | 'basic';

export interface AuthConfigRecord {
  /** `ac_…` */
  id: string;
  toolkit: string;
  type: AuthConfigType;
  /** `toolmux` for the config toolmux created from `managedAuth`; at most one per toolkit. */
  createdBy: 'user' | 'toolmux';
  /** Non-secret settings (JSON): client id, scopes, name. */
  settings: Record<string, unknown>;
  /** The encrypted secret settings (the OAuth client secret), if any. */
  secret: SealedSecret | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What {@link Store.updateAuthConfig} writes: `settings` and `secret` only when given; `updatedAt`
 * always (later than the one it replaces, so that it tells every write apart).
 */
export interface AuthConfigChanges {
  settings?: Record<string, unknown>;
  secret?: SealedSecret | null;
  updatedAt: Date;
}

export interface ListAuthConfigsQuery {
  toolkit?: string;
  createdBy?: 'user' | 'toolmux';
  /** 1..1000 */
  limit: number;
  cursor?: string;
}

export type ConnectionStatus = 'INITIATED' | 'ACTIVE' | 'FAILED' | 'EXPIRED' | 'INACTIVE' | 'REVOKED';

export interface ConnectedAccountRecord {
  /** `ca_…` */
  id: string;
  userId: string;
  toolkit: string;
  authConfigId: string;
  status: ConnectionStatus;
  /** Why the account is FAILED / EXPIRED (the provider's error code and description); never secrets. */
  statusReason: string | null;
  /** The encrypted credentials (JSON); null while INITIATED. */
  secret: SealedSecret | null;
  /** When the OAuth access token expires; null when unknown or not OAuth. */
  expiresAt: Date | null;
  /** +1 on every change: conditional updates compare it. */
  version: number;
  /** Until when one process holds the right to refresh the token. */
  refreshLeaseUntil: Date | null;
  /** When the account last became ACTIVE (precedence: the most recently connected wins). */
  connectedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The name the user and the agent call the account by (`work`); unique per user and toolkit. */
  alias?: string | null;
}

export type ConnectedAccountStatusRecord = Pick<
  ConnectedAccountRecord,
  'id' | 'status' | 'statusReason' | 'version' | 'toolkit'
>;

export type ConnectedAccountChanges = Partial<
  Pick<
    ConnectedAccountRecord,
    'status' | 'statusReason' | 'secret' | 'expiresAt' | 'refreshLeaseUntil' | 'connectedAt' | 'alias'
  >
>;

export interface ListConnectedAccountsQuery {
  /** Any of these users; empty or absent: all. */
  userIds?: readonly string[];
  toolkits?: readonly string[];
  statuses?: readonly ConnectionStatus[];
  authConfigIds?: readonly string[];
  /** Accounts with any of these aliases. */
  aliases?: readonly string[];
  /** 1..1000 */
  limit: number;
  cursor?: string;
}

export interface RecentConnectedAccountsQuery {
  userId: string;
  authConfigId: string;
  statuses: readonly ConnectionStatus[];
  limit: number;
}

export type ConnectionRequestKind = 'oauth2' | 'fields';

/** What the store keeps; `EXPIRED` is not stored: a PENDING request past `expiresAt` is expired. */
export type ConnectionRequestRecordStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

export interface ConnectionRequestRecord {
  /** `cr_…` */
  id: string;
  /** `oauth2`: the user signs in at the provider; `fields`: the user gives an API key, token or password. */
  kind: ConnectionRequestKind;
  /**
   * `oauth2`: the INITIATED account the callback fills. `fields`: null until completed, then the
   * account made from the credentials.
   */
  connectedAccountId: string | null;
  userId: string;
  toolkit: string;
  authConfigId: string;
  /** `oauth2`: SHA-256 (hex) of the OAuth `state`, which is never stored in the clear. `fields`: null. */
  stateHash: string | null;
  /**
   * `oauth2`: the encrypted JSON `{ codeVerifier, authorizationUrl }` (the URL carries the state).
   * `fields`: null.
   */
  secret: SealedSecret | null;
  /** Where the user is sent back after connecting (the application's URL). */
  callbackUrl: string;
  /** `oauth2`: the `redirect_uri` sent to the provider (where `handleCallback` is mounted). `fields`: null. */
  redirectUri: string | null;
  status: ConnectionRequestRecordStatus;
  expiresAt: Date;
  /** When the callback or the completion took the request (it is used once). */
  usedAt: Date | null;
  createdAt: Date;
  /**
   * The alias the account gets: a `fields` request's account is made at completion, an `oauth2`
   * request's INITIATED account (which holds no alias) gets it when its callback makes it ACTIVE.
   */
  alias?: string | null;
  /**
   * The session's `multiAccount.maxAccountsPerToolkit` when the request started; null or absent: no
   * limit. The request makes its account ACTIVE only while the user has fewer ACTIVE or INACTIVE
   * accounts of the toolkit (see `completeConnectionRequest`, `activateConnectedAccount`).
   */
  maxAccounts?: number | null;
  /**
   * When newer requests of the same user and auth config replaced it (it expired then: see
   * `insertConnectionAttempt`, `insertFieldsRequest`); null or absent: never.
   */
  replacedAt?: Date | null;
  /**
   * The account a reconnect (`connectedAccounts.reconnect()`) gives the new credentials to (its
   * `connectedAccountId` from the start); null or absent: the request connects a new account.
   */
  reconnectOf?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; `undefined` when there is none. */
  nextCursor: string | undefined;
}

export interface SessionRecord {
  /** `ses_…` */
  id: string;
  userId: string;
  /** The normalized session config (JSON-serializable). */
  config: Record<string, unknown>;
  /** Starts at 1, +1 on every update. */
  configVersion: number;
  /** SHA-256 (hex) of the session token. */
  tokenHash: string;
  /** Which token the session has: 0 at first, +1 on every rotation. */
  tokenVersion: number;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionUpdate {
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  expectedVersion: number;
}

/** What {@link Store.getSessionToken} reads: the token version and the SHA-256 (hex) of its token. */
export interface StoredSessionToken {
  tokenVersion: number;
  tokenHash: string;
}

export interface SessionTokenRotation {
  expectedTokenVersion: number;
  /** The new version (`expectedTokenVersion + 1`) and the hash of the token it derives. */
  tokenVersion: number;
  tokenHash: string;
}

export interface ListSessionsQuery {
  userId?: string;
  /** 1..1000 */
  limit: number;
  cursor?: string;
}

export type ExecutionStatus = 'success' | 'error';

/** One file of a session's workbench. `size` is the content's length in UTF-8 bytes. */
export interface WorkbenchFileRecord {
  sessionId: string;
  path: string;
  content: string;
  size: number;
  updatedAt: Date;
}

/** A part of a workbench file's JSON text, as a ranged read gives it. */
export interface WorkbenchFileRange {
  /** The characters read: UTF-16 code units of the file's JSON text, as JavaScript counts a string's length. */
  text: string;
  /** Where `text` starts in the file's text: the offset asked for, one less where it fell inside a surrogate pair. */
  offset: number;
  /** Where the next range starts; `null` when `text` reaches the end of the file. */
  nextOffset: number | null;
}

/**
 * A workbench file as `putWorkbenchFile` is given it. When toolmux has the content as the pieces of
 * text it was made in (the JSON of a large value), it gives them as `contentPieces`, and `content`
 * joins them when it is first read: joining megabytes is one long turn of the event loop, so a store
 * that writes the file in pieces should write it from `contentPieces` and not read `content`.
 */
export interface WorkbenchFileWrite extends WorkbenchFileRecord {
  /** The content as pieces of text whose concatenation is `content` (any lengths, some may be empty). */
  readonly contentPieces?: readonly string[];
}

export interface ExecutionLogRecord {
  /** `log_…` */
  id: string;
  sessionId: string | null;
  userId: string;
  toolSlug: string;
  toolkit: string;
  connectedAccountId: string | null;
  callId: string | null;
  status: ExecutionStatus;
  /** A `ToolMuxErrorCode` or `TOOL_EXECUTION_FAILED` for handler errors; null on success. */
  errorCode: string | null;
  errorMessage: string | null;
  durationMs: number;
  /**
   * The arguments as a string of JSON text (`JSON.parse` it), redacted and cut to 4 KB: a cut one
   * ends in `…[truncated]` and is no longer JSON.
   */
  input: string;
  /**
   * The result as a string of JSON text (`JSON.parse` it), redacted and cut to 4 KB: a cut one ends
   * in `…[truncated]` and is no longer JSON.
   */
  output: string;
  /**
   * When the entry was written: as the call ended (it started `durationMs` earlier). Pages are
   * ordered by `id`, which the call gets as it starts, so among calls that overlapped `createdAt`
   * need not be in the page's order.
   */
  createdAt: Date;
  /**
   * The entry of the call that made this one (a TOOLMUX_WORKBENCH cell, a TOOLMUX_MULTI_EXECUTE_TOOL
   * around it), an entry of the same session; null (or absent) for a call of the agent itself.
   */
  parentId?: string | null;
}

export interface ListLogsQuery {
  sessionId?: string;
  userId?: string;
  toolSlug?: string;
  /** Only the entries made by the call whose entry has this id. */
  parentId?: string;
  /** 1..1000 */
  limit: number;
  cursor?: string;
}
