import { ToolMuxError } from '../errors.js';
import { settlesWithin } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import { MAX_TIMER_MS, wholeNumberOf } from '../util/whole-number.js';

/** How long `ToolMux.close()` lets tool calls in flight finish before it stops them. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** How long `close()` waits for the calls it stopped to answer (they do at once, as a rule). */
export const STOPPED_GRACE_MS = 2_000;

/** A running tool handler's stop: aborts it (its call answers TOOL_ABORTED) after `timeoutMs` of waiting. */
export type StopHandler = (timeoutMs: number) => void;

/** One tool call from its start until it answered (its log entry stored). */
export class CallInFlight {
  /** The `drain()` calls started before this call: a drain waits only for calls of its epoch or before. */
  readonly epoch: number;
  /** Stops its tool handler while it runs (see `running`). */
  stop: StopHandler | undefined;
  /** The timeout it ran past, once a drain stopped it. */
  stoppedAfter: number | undefined;
  /**
   * Its caller's signal was aborted by a stop of toolmux's own (a server's drain ended, see
   * `stoppedByToolmux`): stopped already, and counted by that stop, it is not one a drain stops.
   */
  stoppedByToolmux = false;

  constructor(epoch: number) {
    this.epoch = epoch;
  }

  /**
   * Its tool handler runs: `stop` aborts it if a drain stops the call (at once when a drain stopped
   * it already: it reached its tool only then). The handler clears `stop` when it ends.
   */
  running(stop: StopHandler): void {
    if (this.stoppedAfter !== undefined) stop(this.stoppedAfter);
    else this.stop = stop;
  }
}

/**
 * The tool calls of one ToolMux that have started and not yet answered (their log entry stored), so
 * that `close()` can let them finish, stop the ones that take too long, and close the log writer and
 * the store only after every entry is written. A call after `close()` began is refused.
 */
export class CallsInFlight {
  readonly #calls = new Set<CallInFlight>();
  /** Drains begun so far; a call started now belongs to the next one. */
  #epoch = 0;
  /** The drains waiting: their epoch, and how many of the calls they wait for have not answered. */
  readonly #waiting: Array<{ epoch: number; left: number; resolve: () => void }> = [];
  #closing = false;

  /** Calls started and not answered. */
  get running(): number {
    return this.#calls.size;
  }

  /** A call starts (`slug` of `sessionId`): TOOLMUX_CLOSED once `close()` began. Pair with `leave()`. */
  enter(slug: string, sessionId: string | null): CallInFlight {
    if (this.#closing) {
      throw new ToolMuxError({
        code: 'TOOLMUX_CLOSED',
        message: `${slug}${sessionId ? ` (session ${sessionId})` : ''} was not run: its ToolMux was closed (mux.close()). Make calls before close(), or on a ToolMux that is open (a session of a closed ToolMux can be taken up again with use() on an open one).`,
      });
    }
    const call = new CallInFlight(this.#epoch);
    this.#calls.add(call);
    return call;
  }

  /** A call answered (its log entry stored, or reported lost). */
  leave(call: CallInFlight): void {
    // on a call's path: only a drain (close()) has more to do
    if (!this.#calls.delete(call) || this.#waiting.length === 0) return;
    for (let index = this.#waiting.length - 1; index >= 0; index--) {
      const waiter = this.#waiting[index]!;
      if (call.epoch > waiter.epoch || --waiter.left > 0) continue;
      this.#waiting.splice(index, 1);
      waiter.resolve();
    }
  }

  /** Refuses new calls from now on, then `drain(timeoutMs)`. */
  close(timeoutMs: number): Promise<number> {
    this.#closing = true;
    return this.drain(timeoutMs);
  }

  /**
   * Waits up to `timeoutMs` for the calls running now, then stops the handlers of those still
   * running (their calls answer TOOL_ABORTED) and waits until they have all answered. Calls that
   * start meanwhile are not waited for. Resolves with the number of calls it stopped.
   */
  async drain(timeoutMs: number): Promise<number> {
    // every call running now started before this drain; those that start later have a later epoch
    const epoch = this.#epoch++;
    if (this.#calls.size === 0) return 0;
    const idle = new Promise<void>((resolve) => {
      this.#waiting.push({ epoch, left: this.#calls.size, resolve });
    });
    const late = !(await settlesWithin(idle, timeoutMs));
    let stopped = 0;
    if (late) {
      for (const call of [...this.#calls]) {
        if (call.epoch > epoch || call.stoppedAfter !== undefined || call.stoppedByToolmux) continue;
        call.stoppedAfter = timeoutMs;
        call.stop?.(timeoutMs);
        stopped++;
      }
      // A stopped call answers at once and its entry takes milliseconds; one still not done after
      // this (it waits for something that never comes: a store that hangs) does not hold the close
      // for ever.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        idle,
        new Promise<void>((resolve) => {
          grace = setTimeout(resolve, STOPPED_GRACE_MS);
        }),
      ]);
      clearTimeout(grace);
      return stopped;
    }
    await idle;
    return stopped;
  }
}

/**
 * Checks `close({ timeoutMs })`: a whole number of milliseconds from 0 to {@link MAX_TIMER_MS}. A
 * longer one was a timer of 1 ms (Node.js says so in a TimeoutOverflowWarning), which stopped the
 * calls in flight at once instead of waiting for them.
 */
export function closeTimeoutOf(options: { timeoutMs?: number } | undefined): number {
  return wholeNumberOf(options?.timeoutMs, {
    name: 'close({ timeoutMs })',
    code: 'INVALID_REQUEST',
    unit: 'milliseconds',
    min: 0,
    max: MAX_TIMER_MS,
    purpose: 'how long calls in flight may take before they are stopped',
    leaveOut: `Leave it out for ${DEFAULT_CLOSE_TIMEOUT_MS}.`,
    default: DEFAULT_CLOSE_TIMEOUT_MS,
  });
}

/**
 * What gave the calls in flight their time, when it was not `close({ timeoutMs })`: a server's
 * shutdown drain (`toolmux serve`'s `shutdownTimeoutMs`), after which its close stops them at once.
 */
export interface DrainTime {
  /** The setting that governs it, as its operator wrote it (`shutdownTimeoutMs`). */
  setting: string;
  /** How long the drain gave them, in milliseconds. */
  ms: number;
}

/**
 * The warning about the `stopped` tool calls (more than none) a server stopped as its shutdown drain
 * (`drain`) ended, naming the setting that gave them their time.
 */
export function drainStoppedWarning(stopped: number, drain: DrainTime): string {
  const one = stopped === 1;
  return `toolmux: the server stopped ${stopped} tool call${one ? '' : 's'} still running when its shutdown drain ended (${drain.setting}: ${drain.ms} ms): ${one ? 'it is' : 'they are'} answered, where ${one ? 'its connection was' : 'their connections were'} still open, and logged as TOOL_ABORTED. Give ${drain.setting} more time if the tools should finish.`;
}

/**
 * Tells the logger how many calls `close()` stopped (none: nothing to tell), naming what gave them
 * their time: `drain` when a server's drain did (its close then waits 0 ms), else `close({ timeoutMs })`.
 */
export function reportStopped(
  logger: Logger,
  stopped: number | undefined,
  timeoutMs: number,
  drain?: DrainTime,
): void {
  if (!stopped) return;
  if (drain !== undefined) {
    logger.warn(drainStoppedWarning(stopped, drain));
    return;
  }
  logger.warn(
    `toolmux: close() stopped ${stopped} tool call${stopped === 1 ? '' : 's'} still running after ${timeoutMs} ms: ${stopped === 1 ? 'it answers' : 'they answer'} TOOL_ABORTED, and ${stopped === 1 ? 'its log entry is' : 'their log entries are'} written. Give close({ timeoutMs }) more time if the tools should finish.`,
  );
}
