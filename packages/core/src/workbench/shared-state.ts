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
  /** When the worker last showed life (a stretch started or ended, or the engine checked in), ms since `base`. */
  BEAT: 4,
  /** The main thread asks the worker to stop the stretch with this ENTRY number. */
  PREEMPT: 5,
  /** First of the claim slots: a cell's slot holds its run id until the worker claims or the main thread withdraws it. */
  CLAIMS: 8,
} as const;

/** Claim slots per worker: cells posted to one worker and not yet finished. */
export const CLAIM_SLOTS = 1_024;

/** A slot's value once the worker started the cell. */
export const CLAIMED = -1;
/** A slot's value once the main thread took the cell back (the worker skips it). */
export const WITHDRAWN = -2;

/** Int32 elements of the shared memory. */
export const SHARED_LENGTH = SHARED.CLAIMS + CLAIM_SLOTS;

/** What a workbench worker starts with. */
export interface WorkerInit {
  port: MessagePort;
  shared: SharedArrayBuffer;
  /** `Date.now()` at spawn: times in the shared memory are ms since then. */
  base: number;
}
