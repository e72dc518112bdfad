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

  insertSession(record: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /**
   * Replaces config and metadata if the stored version is `expectedVersion`; returns the new record.
   * Throws `ToolMuxError` `SESSION_NOT_FOUND` for an unknown id and `SESSION_VERSION_CONFLICT` when the
   * version moved (someone else updated it first).
   */
  updateSession(id: string, update: SessionUpdate): Promise<SessionRecord>;
  /** Newest first. */
  listSessions(query: ListSessionsQuery): Promise<Page<SessionRecord>>;

  /**
   * Appends execution log entries in one transaction: all of them or none. The execution path
   * batches the entries of one event-loop turn into one call (see `ExecutionLogWriter`).
   */
  insertLogs(records: readonly ExecutionLogRecord[]): Promise<void>;
  /** Newest first. */
  listLogs(query: ListLogsQuery): Promise<Page<ExecutionLogRecord>>;
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
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionUpdate {
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  expectedVersion: number;
}

export interface ListSessionsQuery {
  userId?: string;
  /** 1..1000 */
  limit: number;
  cursor?: string;
}

export type ExecutionStatus = 'success' | 'error';

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
  /** Redacted, truncated JSON of the arguments (≤ 4 KB). */
  input: string;
  /** Redacted, truncated JSON of the result (≤ 4 KB). */
  output: string;
  createdAt: Date;
}

export interface ListLogsQuery {
  sessionId?: string;
  userId?: string;
  toolSlug?: string;
  /** 1..1000 */
  limit: number;
  cursor?: string;
}
