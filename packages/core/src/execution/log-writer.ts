import { quotedMessage, ToolMuxError } from '../errors.js';
import type { ExecutionLogRecord, Store } from '../store/types.js';
import { forEachAtMost } from '../util/at-most.js';
import type { Logger } from '../util/logger.js';

/** A batch is written at the latest when it reaches this many entries. */
const MAX_BATCH = 500;
/**
 * Batches being stored at once (PostgreSQL commits them on separate pooled connections): while one
 * commits, the calls that answered meanwhile already run again and their entries form the next.
 */
const MAX_BATCHES_IN_FLIGHT = 4;

/** Where batches of log entries go: the store, or (remote mode) the server. */
export type ExecutionLogSink = Pick<Store, 'insertLogs'>;

export interface ExecutionLogWriterOptions {
  /**
   * `write()` resolves only once the entry is stored, so a call answers after its log entry has
   * committed (embedded and server mode). Off for remote-mode clients, whose uploads go on in the
   * background and are flushed by `close()` and before the process exits.
   * @default true
   */
  durable?: boolean;
  /**
   * Flush pending entries when the process is about to exit (`beforeExit`). A `process.exit()` or a
   * SIGKILL cannot be covered: call `close()` first.
   * @default false
   */
  flushBeforeExit?: boolean;
  /**
   * A batch starts as soon as this many entries are queued, not only at the end of the event-loop
   * turn. For a store whose commits wait on the network (`Store.logBatchSize`): while one batch
   * commits, the calls that answered earlier already run again, and many concurrent callers keep
   * several batches in flight instead of waiting, all of them, for one commit per turn.
   * A whole number from 1 to 500; anything else is `STORE_CONFIG_INVALID`.
   * @default 500 (batches start at the end of the turn)
   */
  batchSize?: number;
  /**
   * Whether a batch the sink refused with `error` is tried again, entry by entry (a single entry:
   * once more). False for a failure that is not the entries' (remote mode: a server that cannot be
   * reached or did not answer in time), where the retries would only send the same requests again to
   * a server in trouble, and could store twice a batch that did land: its entries are reported lost.
   * @default always true
   */
  retryRefused?: (error: unknown) => boolean;
  /**
   * Whether a batch the sink refused with `error` is sent again as it is, whole (before
   * `retryRefused` is asked): resolves true once it is time to send it (after a backoff the function
   * waits), false to stop. `attempt` counts from 1. Remote mode: an upload whose connection failed
   * before any answer came, a few times with a growing delay, rather than one request per entry.
   * @default never
   */
  retryBatch?: (error: unknown, attempt: number) => Promise<boolean>;
}

/** Entries (or entries written together) tried again alone at once, at most. */
const MAX_RETRIES_IN_FLIGHT = 4;

/**
 * Thrown by a sink that stored some of a batch and failed the rest (remote mode: a batch holds the
 * entries of several sessions, one upload each, and one of them failed): each failure names its
 * entries, which alone are tried again or reported lost as its error says; the others are stored,
 * and are not sent again.
 */
export class PartlyStored extends Error {
  readonly failures: ReadonlyArray<{ records: readonly ExecutionLogRecord[]; error: unknown }>;

  constructor(failures: ReadonlyArray<{ records: readonly ExecutionLogRecord[]; error: unknown }>) {
    super(
      `${failures.reduce((count, failure) => count + failure.records.length, 0)} execution log entries were not stored: ${quotedMessage(failures[0]?.error)}`,
      { cause: failures[0]?.error },
    );
    this.name = 'PartlyStored';
    this.failures = failures;
  }
}

interface Pending {
  record: ExecutionLogRecord;
  /** The next entry was written together with this one (`writeTogether`): same batch. */
  joined?: true;
  /** Settles with `settle`'s value. */
  stored: Promise<boolean>;
  settle: (stored: boolean) => void;
}

/** Writers with entries not yet stored, flushed on `beforeExit`. */
const flushedBeforeExit = new Set<ExecutionLogWriter>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('beforeExit', () => {
    // the flush keeps the event loop busy; `beforeExit` comes again once it is done and the set is empty
    for (const writer of flushedBeforeExit) void writer.flush();
  });
}

/**
 * Writes execution log entries with group commit: the entries of one event-loop turn go to the store
 * in one call (`Store.insertLogs`, one transaction), and entries written while a batch is being
 * stored form the next batch. With `durable` (the default) `write()` resolves once its entry is
 * stored, so `session.execute` answers only after its entry has committed, and a crash cannot lose an
 * answered call's entry. If a batch is refused, its entries are stored one by one, so a bad entry
 * costs only itself; entries that cannot be stored are reported to the logger.
 */
export class ExecutionLogWriter {
  readonly #sink: ExecutionLogSink;
  readonly #logger: Logger;
  readonly #durable: boolean;
  readonly #flushBeforeExit: boolean;
  readonly #batchSize: number;
  readonly #retryRefused: (error: unknown) => boolean;
  readonly #retryBatch: ((error: unknown, attempt: number) => Promise<boolean>) | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  /** Batches being stored; each settles when its entries are stored or reported lost. */
  readonly #batches = new Set<Promise<void>>();
  /** Entries queued or being stored, by session id. */
  #closed = false;

  constructor(sink: ExecutionLogSink, logger: Logger, options: ExecutionLogWriterOptions = {}) {
    this.#sink = sink;
    this.#logger = logger;
    this.#durable = options.durable ?? true;
    this.#flushBeforeExit = options.flushBeforeExit ?? false;
    const batchSize = options.batchSize ?? MAX_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      throw new ToolMuxError({
        code: 'STORE_CONFIG_INVALID',
        message: `A store's logBatchSize must be a whole number of entries from 1 to ${MAX_BATCH}, got ${String(batchSize)}; leave it unset to write the entries of each event-loop turn as one batch.`,
      });
    }
    this.#batchSize = batchSize;
    this.#retryRefused = options.retryRefused ?? (() => true);
    this.#retryBatch = options.retryBatch;
  }

  /**
   * Queues `record` for the next batch. Resolves true once it is stored, false if it could not be
   * (reported to the logger); a writer that is not `durable` resolves true at once. Never rejects.
   */
  write(record: ExecutionLogRecord): Promise<boolean> {
    this.given(record);
    return this.#write(record);
  }

  /**
   * Called once with each entry handed to {@link write}, {@link writeAll} or {@link writeTogether},
   * before it is queued (also when the writer is closed and the entry is lost): where a subclass
   * observes the calls written (metrics), whichever of them writes it. Must not throw.
   */
  protected given(_record: ExecutionLogRecord): void {}

  /** `write` without {@link given}: the entries of writeAll and writeTogether were given already. */
  #write(record: ExecutionLogRecord): Promise<boolean> {
    if (this.#closed) {
      this.#logger.error(
        `toolmux: execution log entry ${record.id} was written after the log writer was closed and is lost.`,
      );
      return Promise.resolve(false);
    }
    let settle!: (stored: boolean) => void;
    const stored = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    this.#queue.push({ record, stored, settle });
    return this.#queued(stored);
  }

  /**
   * `write` of each of `records`, queued at once: they go in one batch (unless more than 500 are
   * queued), also on a store whose `logBatchSize` starts a batch before the end of the turn, and
   * one that is refused is retried entry by entry as any. Resolves true once all are stored, false
   * if one could not be; never rejects.
   */
  writeAll(records: readonly ExecutionLogRecord[]): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true);
    for (const record of records) this.given(record);
    if (this.#closed) return Promise.all(records.map((record) => this.#write(record))).then(() => false);
    const written = records.map((record) => {
      let settle!: (stored: boolean) => void;
      const stored = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      this.#queue.push({ record, stored, settle });
      return stored;
    });
    return this.#queued(Promise.all(written).then((stored) => stored.every(Boolean)));
  }

  /**
   * Queues `records` to be stored in one batch (one `insertLogs` call; in remote mode one upload), and
   * if that batch is refused, tried again together: a client's TOOLMUX_MULTI_EXECUTE_TOOL entry with
   * the entries of its calls, whose `parentId` the server resolves within one request. More than 500
   * are written one by one. Resolves true once all of them are stored, false if they could not be; never rejects.
   */
  writeTogether(records: readonly ExecutionLogRecord[]): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true);
    for (const record of records) this.given(record);
    if (records.length === 1 || records.length > MAX_BATCH) {
      // more than a batch holds: written one by one (a multi-execute has at most 51 entries)
      return Promise.all(records.map((record) => this.#write(record))).then((stored) =>
        stored.every(Boolean),
      );
    }
    if (this.#closed) {
      this.#logger.error(
        `toolmux: execution log entries ${records.map((record) => record.id).join(', ')} were written after the log writer was closed and are lost.`,
      );
      return Promise.resolve(false);
    }
    const written = records.map((record, index) => {
      let settle!: (stored: boolean) => void;
      const stored = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      const pending: Pending =
        index < records.length - 1 ? { record, stored, settle, joined: true } : { record, stored, settle };
      this.#queue.push(pending);
      return stored;
    });
    return this.#queued(Promise.all(written).then((stored) => stored.every(Boolean)));
  }

  /** Schedules the batch of what was just queued; `stored` settles once it is stored. */
  #queued(stored: Promise<boolean>): Promise<boolean> {
    if (this.#flushBeforeExit) {
      installExitHook();
      flushedBeforeExit.add(this);
    }
    if (this.#queue.length >= this.#batchSize) this.#drain();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#drain();
      });
    }
    return this.#durable ? stored : Promise.resolve(true);
  }

  /** Resolves when every entry written so far is stored (or reported as lost). Never rejects. */
  async flush(): Promise<void> {
    const written = [...this.#batches, ...this.#queue.map((pending) => pending.stored)];
    this.#drain();
    await Promise.all(written);
  }

  /**
   * Flushes, then refuses further entries (they are reported as lost). Calls still running should
   * finish first: each of them resolves after its own entry is stored.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    flushedBeforeExit.delete(this);
  }

  /**
   * Starts storing what is queued, in batches, as far as {@link MAX_BATCHES_IN_FLIGHT} allows; a
   * batch that finishes starts the next one with whatever was queued meanwhile.
   */
  #drain(): void {
    while (this.#queue.length > 0 && this.#batches.size < MAX_BATCHES_IN_FLIGHT) {
      let size = Math.min(this.#queue.length, MAX_BATCH);
      // a batch never ends inside entries written together (there are at most MAX_BATCH of them)
      while (size > 0 && size < this.#queue.length && this.#queue[size - 1]!.joined) size--;
      const batch = this.#queue.splice(0, size === 0 ? MAX_BATCH : size);
      const done = this.#store(batch).then((stored) => {
        for (const [index, pending] of batch.entries()) pending.settle(stored[index]!);
        this.#batches.delete(done);
        if (this.#queue.length > 0) this.#drain();
        else if (this.#batches.size === 0) flushedBeforeExit.delete(this);
      });
      this.#batches.add(done);
    }
  }

  /**
   * Stores a batch; if it is refused, each entry alone (entries written together, together): those
   * the sink says it did not store, when it stored the others ({@link PartlyStored}). Which entries
   * are stored; never rejects.
   */
  async #store(pending: readonly Pending[], attempt = 0): Promise<boolean[]> {
    try {
      await this.#sink.insertLogs(pending.map((entry) => entry.record));
      return pending.map(() => true);
    } catch (thrown) {
      if (!(thrown instanceof PartlyStored)) return this.#retried(pending, thrown, attempt);
      const stored = new Map<ExecutionLogRecord, boolean>();
      await Promise.all(
        thrown.failures.map(async ({ records, error }) => {
          const named = new Set(records);
          const failed = pending.filter((entry) => named.has(entry.record));
          const outcomes = await this.#retried(failed, error, attempt);
          for (const [index, entry] of failed.entries()) stored.set(entry.record, outcomes[index]!);
        }),
      );
      return pending.map((entry) => stored.get(entry.record) ?? true);
    }
  }

  /**
   * The entries of `pending`, which the sink refused with `error`: sent again whole when
   * `retryBatch` says so (after its backoff), else {@link #storeRefused}.
   */
  async #retried(pending: readonly Pending[], error: unknown, attempt: number): Promise<boolean[]> {
    let again = false;
    try {
      again = (await this.#retryBatch?.(error, attempt + 1)) === true;
    } catch {
      again = false;
    }
    return again ? this.#store(pending, attempt + 1) : this.#storeRefused(pending, error);
  }

  /**
   * The entries of `pending`, which the sink refused with `first`, each tried again alone (entries
   * written together, together), or reported lost when `retryRefused` says they are not. Which
   * entries are stored; never rejects.
   */
  async #storeRefused(pending: readonly Pending[], first: unknown): Promise<boolean[]> {
    const batch = pending.map((entry) => entry.record);
    if (!this.#retryRefused(first)) {
      this.#reportLost(batch, first);
      return batch.map(() => false);
    }
    // One retry for a single entry (a dropped connection, a busy database); a batch is retried
    // entry by entry, so that an entry the database refuses does not take the others with it.
    // Entries written together are retried together (their parent may be among them).
    const units: ExecutionLogRecord[][] = [];
    let unit: ExecutionLogRecord[] = [];
    for (const entry of pending) {
      unit.push(entry.record);
      if (!entry.joined) {
        units.push(unit);
        unit = [];
      }
    }
    if (unit.length > 0) units.push(unit);
    // a few at a time, never one request per entry at once (a remote server past its connections
    // per client would refuse most of them)
    const outcomes: Array<Array<{ ok: true } | { ok: false; error: unknown }>> = [];
    await forEachAtMost([...units.entries()], MAX_RETRIES_IN_FLIGHT, async ([index, records]) => {
      try {
        await this.#sink.insertLogs(records);
        outcomes[index] = records.map(() => ({ ok: true as const }));
      } catch (error) {
        outcomes[index] = records.map(() => ({ ok: false as const, error }));
      }
    });
    const stored = outcomes.flat();
    const lost = batch.filter((_, index) => !stored[index]!.ok);
    if (lost.length > 0) {
      this.#reportLost(
        lost,
        batch.length === 1 ? first : (stored.find((outcome) => !outcome.ok) as { error: unknown }).error,
      );
    }
    return stored.map((outcome) => outcome.ok);
  }

  #reportLost(lost: readonly ExecutionLogRecord[], cause: unknown): void {
    this.#logger.error(
      `toolmux: could not write ${lost.length} execution log entr${lost.length === 1 ? 'y' : 'ies'} (${lost
        .slice(0, 5)
        .map((record) => record.id)
        .join(', ')}${lost.length > 5 ? ', …' : ''}): ${quotedMessage(cause)}`,
    );
  }
}

/** Held entries are written (as one batch) once this many wait. */
const HELD_BATCH = 64;

/**
 * The log entries of the calls a workbench cell makes: they answer the cell without waiting for a
 * commit, and are written together (a batch per {@link HELD_BATCH} entries, the rest when the cell
 * ends, with the cell's own entry: `storedWith`) instead of one commit per call, each in its own
 * turn. `stored()` resolves once every entry held is stored (or reported lost): the cell answers its
 * caller only after it, so an answered call never lacks its calls' entries.
 */
export class HeldLogEntries {
  readonly #writer: ExecutionLogWriter;
  #held: ExecutionLogRecord[] = [];
  readonly #written: Array<Promise<boolean>> = [];

  constructor(writer: ExecutionLogWriter) {
    this.#writer = writer;
  }

  /**
   * Keeps `entry` for the next write; once the cell's entries were written (`stored`), writes it at
   * once: a call the cell made can end after the cell did (it timed out, or its context was dropped,
   * while a tool that does not heed the abort ran on), and its entry must not wait for a write that
   * will not come.
   */
  readonly hold = (entry: ExecutionLogRecord): void => {
    if (this.#ended) {
      void this.#writer.write(entry);
      return;
    }
    this.#held.push(entry);
    if (this.#held.length >= HELD_BATCH) this.#write();
  };

  /** Whether `stored` was called: the cell ended, and entries held later are written as they come. */
  #ended = false;

  /**
   * Writes what is held and resolves once everything held so far is stored (the cell's last write:
   * entries held after it are written at once). Never rejects.
   */
  async stored(): Promise<void> {
    this.#ended = true;
    this.#write();
    await Promise.all(this.#written);
  }

  /**
   * `stored()` with `entry` (the cell's own) written last in the same batch as what is still held:
   * one commit for the cell and its last calls.
   */
  storedWith(entry: ExecutionLogRecord): Promise<void> {
    this.#held.push(entry);
    return this.stored();
  }

  #write(): void {
    if (this.#held.length === 0) return;
    this.#written.push(this.#writer.writeAll(this.#held));
    this.#held = [];
  }
}
