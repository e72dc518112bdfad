import { errorMessage } from '../errors.js';
import type { ExecutionLogRecord, Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';

/** A batch is written at the latest when it reaches this many entries. */
const MAX_BATCH = 500;

/**
 * Writes execution log entries off the call's path: entries of one event-loop turn go to the store
 * in one transaction (`Store.insertLogs`), so a tool call never waits for a disk or network write.
 * Batches are written in order, one at a time. `flush()` waits for everything queued so far; reads of
 * the log (`session.logs()`) and `close()` flush first, so a caller always reads its own writes.
 */
/** Where batches of log entries go: the store, or (remote mode) the server. */
export type ExecutionLogSink = Pick<Store, 'insertLogs'>;

export class ExecutionLogWriter {
  readonly #store: ExecutionLogSink;
  readonly #logger: Logger;
  #queue: ExecutionLogRecord[] = [];
  #scheduled = false;
  #writing: Promise<void> = Promise.resolve();
  /** The batch being written that holds a session's latest entry, by session id. */
  readonly #inFlight = new Map<string | null, Promise<void>>();

  constructor(store: ExecutionLogSink, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  write(record: ExecutionLogRecord): void {
    this.#queue.push(record);
    if (this.#queue.length >= MAX_BATCH) {
      void this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.flush();
      });
    }
  }

  /** Resolves when every entry written so far is stored (or reported as lost). Never rejects. */
  flush(): Promise<void> {
    if (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const writing = this.#writing.then(() => this.#store_(batch));
      this.#writing = writing;
      const sessions = new Set(batch.map((record) => record.sessionId));
      for (const sessionId of sessions) this.#inFlight.set(sessionId, writing);
      void writing.then(() => {
        for (const sessionId of sessions) {
          if (this.#inFlight.get(sessionId) === writing) this.#inFlight.delete(sessionId);
        }
      });
    }
    return this.#writing;
  }

  /**
   * Resolves when every entry of `sessionId` written so far is stored (or reported as lost), without
   * waiting for other sessions' entries: a read of one session's log under load does not queue behind
   * the writes of every other call. Never rejects.
   */
  flushSession(sessionId: string): Promise<void> {
    if (this.#queue.some((record) => record.sessionId === sessionId)) return this.flush();
    return this.#inFlight.get(sessionId) ?? Promise.resolve();
  }

  async #store_(batch: ExecutionLogRecord[]): Promise<void> {
    try {
      await this.#store.insertLogs(batch);
    } catch (first) {
      try {
        await this.#store.insertLogs(batch); // one retry: a dropped connection or a busy database
      } catch {
        this.#logger.error(
          `toolmux: could not write ${batch.length} execution log entr${batch.length === 1 ? 'y' : 'ies'} (${batch[0]!.id}…): ${errorMessage(first)}`,
        );
      }
    }
  }
}
