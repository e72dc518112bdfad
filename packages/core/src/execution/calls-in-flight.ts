import { ToolMuxError } from '../errors.js';

/** How long `ToolMux.close()` lets tool calls in flight finish before it stops them. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** A running tool handler's stop: aborts it (its call answers TOOL_ABORTED) after `timeoutMs` of waiting. */
export type StopHandler = (timeoutMs: number) => void;

/**
 * The tool calls of one ToolMux that have started and not yet answered (their log entry stored), so
 * that `close()` can let them finish, stop the ones that take too long, and close the log writer and
 * the store only after every entry is written. A call after `close()` began is refused.
 */
export class CallsInFlight {
  #running = 0;
  #closing = false;
  readonly #idle: Array<() => void> = [];
  readonly #handlers = new Set<StopHandler>();

  /** Calls started and not answered. */
  get running(): number {
    return this.#running;
  }

  /** A call starts (`slug` of `sessionId`): TOOLMUX_CLOSED once `close()` began. Pair with `leave()`. */
  enter(slug: string, sessionId: string | null): void {
    if (this.#closing) {
      throw new ToolMuxError({
        code: 'TOOLMUX_CLOSED',
        message: `${slug}${sessionId ? ` (session ${sessionId})` : ''} was not run: its ToolMux was closed (mux.close()). Make calls before close(), or on a ToolMux that is open (a session of a closed ToolMux can be taken up again with use() on an open one).`,
      });
    }
    this.#running++;
  }

  /** A call answered (its log entry stored, or reported lost). */
  leave(): void {
    this.#running--;
    if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** A tool handler runs: `stop` aborts it if `close()` stops the calls still running. Returns the unregister. */
  handler(stop: StopHandler): () => void {
    this.#handlers.add(stop);
    return () => this.#handlers.delete(stop);
  }

  /** Refuses new calls from now on, then `drain(timeoutMs)`. */
  close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    return this.drain(timeoutMs);
  }

  /**
   * Waits up to `timeoutMs` for the running calls, then stops the handlers still running (their
   * calls answer TOOL_ABORTED) and waits until every call has answered.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#running === 0) return;
    const idle = new Promise<void>((resolve) => {
      this.#idle.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (late) for (const stop of [...this.#handlers]) stop(timeoutMs);
    await idle;
  }
}

/** Checks `close({ timeoutMs })`. */
export function closeTimeoutOf(options: { timeoutMs?: number } | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `close({ timeoutMs }) takes a number of milliseconds ≥ 0 (how long calls in flight may take before they are stopped), got ${String(timeoutMs)}; leave it out for ${DEFAULT_CLOSE_TIMEOUT_MS}.`,
    });
  }
  return timeoutMs;
}
