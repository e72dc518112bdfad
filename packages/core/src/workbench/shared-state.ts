import type { MessagePort } from 'node:worker_threads';
/**
 * The memory a workbench worker shares with the main thread (an `Int32Array` over a
 * `SharedArrayBuffer`): the main thread reads whether the worker computes and since when without a
 * message, and withdraws a cell the worker has not started; the worker sleeps on `SEQ` for replies.
 */
export const SHARED = {
  /** Messages the main thread posted (it adds 1 and wakes the worker after each). */
  SEQ: 0,
  /** 1 while sandbox code runs synchronously on the worker, else 0. */
  BUSY: 1,
  /** How many times sandbox code started running (tells one computing stretch from the next). */
  ENTRY: 2,
  /** When the current stretch started, in ms since the worker's `base`. */
  ENTERED_AT: 3,
  /** When the worker last showed life (a stretch started or ended, the engine checked in, or its event loop's heartbeat), ms since `base`. */
  BEAT: 4,
  /** The main thread asks the worker to stop the stretch with this ENTRY number. */
  PREEMPT: 5,
  /** Messages the worker posted (it adds 1 after each): the main thread watches it for a reply it expects soon. */
  SENT: 6,
  /**
   * The ENTRY in which code a cell left running after it answered computes on: the engine, checking
   * in during the entry in which its cell answered, marks it (the session's next cell waits for it).
   */
  LEFTOVER: 7,
  /** First of the claim slots: a cell's slot holds the token of its posting until the worker claims or the main thread withdraws it. */
  CLAIMS: 8,
} as const;

/** Claim slots per worker: cells posted to one worker and not yet finished. */
export const CLAIM_SLOTS = 1_024;

/** A slot's value once the worker started the cell. */
export const CLAIMED = -1;
/** A slot's value once the main thread took the cell back (the worker skips it). */
export const WITHDRAWN = -2;

/**
 * A started cell's slot once the main thread dropped its context (its session deleted, its ToolMux
 * closed): the worker's engine stops the cell's code at its next check, without waiting for the
 * `dispose` message, which a worker whose thread that code holds would only read after it.
 */
export const DROPPED = -3;

/** The largest posting token; the next one is 1 again. */
const MAX_CLAIM_TOKEN = 0x3fff_ffff;

/**
 * The main thread's side of one worker's claim slots. Posting a cell takes a free slot and writes a
 * token there that is new for each posting (never the run's id: a cell taken back and posted again,
 * even into the same slot, gets another token), so the worker starts a cell only from a posting
 * that is still current (`claimPosting`), and a late message of a posting taken back never starts it.
 */
export class ClaimSlots {
  readonly #state: Int32Array;
  readonly #free: number[];
  #nextToken = 1;

  constructor(state: Int32Array) {
    this.#state = state;
    this.#free = Array.from({ length: CLAIM_SLOTS }, (_, slot) => CLAIM_SLOTS - 1 - slot);
  }

  /** A free slot holding a new token, for one posting; undefined when every slot is taken. */
  post(): { slot: number; token: number } | undefined {
    const slot = this.#free.pop();
    if (slot === undefined) return undefined;
    const token = this.#nextToken;
    this.#nextToken = token >= MAX_CLAIM_TOKEN ? 1 : token + 1;
    Atomics.store(this.#state, SHARED.CLAIMS + slot, token);
    return { slot, token };
  }

  /** Whether the worker started the posting (its slot no longer holds its token). */
  claimed(slot: number, token: number): boolean {
    return Atomics.load(this.#state, SHARED.CLAIMS + slot) !== token;
  }

  /** Takes back a posting the worker has not started (then `release` its slot); false when it has. */
  withdraw(slot: number, token: number): boolean {
    return Atomics.compareExchange(this.#state, SHARED.CLAIMS + slot, token, WITHDRAWN) === token;
  }

  /** Marks a started cell as dropped (see `DROPPED`); false when the worker has not started it. */
  drop(slot: number): boolean {
    return Atomics.compareExchange(this.#state, SHARED.CLAIMS + slot, CLAIMED, DROPPED) === CLAIMED;
  }

  /** Frees a slot: its posting was taken back, or its cell ended. */
  release(slot: number): void {
    Atomics.store(this.#state, SHARED.CLAIMS + slot, 0);
    this.#free.push(slot);
  }
}

/** The worker's side: starts a posting if its slot still holds its token (marks it claimed). */
export function claimPosting(state: Int32Array, slot: number, token: number): boolean {
  return Atomics.compareExchange(state, SHARED.CLAIMS + slot, token, CLAIMED) === token;
}

/** The worker's side: whether the main thread dropped the context of the cell started from `slot`. */
export function postingDropped(state: Int32Array, slot: number): boolean {
  return Atomics.load(state, SHARED.CLAIMS + slot) === DROPPED;
}

/** The worker's default spin for fast replies, in µs (`TOOLMUX_WORKBENCH_SPIN_US`). */
export const DEFAULT_SPIN_US = 200;
/** The main thread's default watch for a worker's fast answer, in µs (`TOOLMUX_WORKBENCH_MAIN_SPIN_US`). */
export const DEFAULT_MAIN_SPIN_US = 50;

/**
 * Chooses how a thread waits for an answer it expects soon: busy (spinning on the shared memory for
 * up to `limitMicros`, which saves a thread wake-up while both threads have a CPU) or idle (asleep,
 * or its event loop: better when the CPUs are shared with other work, where spinning only delays
 * the other thread). It keeps a moving average of the time to the answer after each way and waits
 * busy only while that is clearly (10 %) faster, so answers slower than the spin (a slow tool) cost
 * no spinning; one wait in `probe` takes the other way, so that both averages follow the load.
 */
export class WaitChooser {
  readonly #limitMicros: number;
  readonly #probe: number;
  #busyMicros = 0;
  #idleMicros = 0;
  #count = 0;

  constructor(limitMicros: number, probe = 16) {
    this.#limitMicros = limitMicros;
    this.#probe = probe;
  }

  /** Whether the next wait should be busy (never when `limitMicros` is 0). */
  busy(): boolean {
    if (this.#limitMicros <= 0) return false;
    const better = this.#busyMicros < this.#idleMicros * 0.9;
    this.#count = (this.#count + 1) % this.#probe;
    return this.#count === 0 ? !better : better;
  }

  /** How long (µs) an answer took after a busy or an idle wait. */
  record(busy: boolean, micros: number): void {
    if (busy) this.#busyMicros = this.#busyMicros === 0 ? micros : this.#busyMicros * 0.75 + micros * 0.25;
    else this.#idleMicros = this.#idleMicros === 0 ? micros : this.#idleMicros * 0.75 + micros * 0.25;
  }
}

/** Int32 elements of the shared memory. */
export const SHARED_LENGTH = SHARED.CLAIMS + CLAIM_SLOTS;

/** What a workbench worker starts with. */
export interface WorkerInit {
  port: MessagePort;
  shared: SharedArrayBuffer;
  /** `Date.now()` at spawn: times in the shared memory are ms since then. */
  base: number;
}
