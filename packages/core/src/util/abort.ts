import { quotedMessage, ToolMuxError } from '../errors.js';
import { shownValue } from './stored-text.js';

/**
 * Refuses a `signal` option that is not an AbortSignal (a plain object from JavaScript, or what code
 * in the workbench passes on), which failed later as a TypeError far from its cause (a call's
 * "addEventListener is not a function"). An object that looks like one (`aborted`,
 * `addEventListener`) passes, so that a polyfill's signal still works.
 */
export function checkSignal(signal: unknown, operation: string): void {
  if (signal === undefined) return;
  const candidate = signal as Partial<AbortSignal> | null;
  if (
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function'
  )
    return;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${operation} takes signal as an AbortSignal (an AbortController's signal, or AbortSignal.timeout(ms)); got ${shownValue(signal)}. Pass one, or leave signal out.`,
  });
}

/** The longest part of a caller's abort reason a call's message quotes. */
const MAX_REASON_CHARS = 200;

/** A caller's time limit: the error its signal was aborted with, and the meta-tool call it came through. */
type TimeLimit = { reason: object; name: string; via?: string };

/**
 * The time limits carried on by abort reasons toolmux made: a call stopped by its caller's time limit
 * aborts its handler's `ctx.signal` with a failure of its own, and the calls a meta-tool makes under
 * that signal (a workbench cell's `toolmux.execute`, a multi-execute's calls) were stopped by the same
 * limit. Keyed by the failure, so nothing is added to the object the handler reads.
 */
const carriedTimeLimits = new WeakMap<object, TimeLimit>();

/** The time limit `signal` was aborted by: its reason itself, or one an abort reason of toolmux's carries. */
function timeLimitOf(signal: AbortSignal | undefined): TimeLimit | undefined {
  const reason: unknown = signal?.reason;
  if (typeof reason !== 'object' || reason === null) return undefined;
  const carried = carriedTimeLimits.get(reason);
  if (carried) return carried;
  let name: unknown;
  try {
    name = (reason as { name?: unknown }).name;
  } catch {
    // a reason whose name throws is no time limit: the call still stops, as an abort
    return undefined;
  }
  return typeof name === 'string' && name.endsWith('TimeoutError') ? { reason, name } : undefined;
}

/**
 * What a call stopped by its caller's `signal` says when the signal was aborted by a time limit: its
 * reason a `TimeoutError`, as `AbortSignal.timeout()` and the frameworks' timeouts built on it give
 * (the AI SDK's `timeout`, LangChain's `timeout`), or an error named `…TimeoutError` (the OpenAI Agents
 * SDK's tool `timeoutMs`); or a call made by a meta-tool whose own call such a limit stopped (see
 * {@link carryingTimeLimit}), which names that call. `during` says what the call was doing, as words
 * that follow "time limit" (" while it waited for …"). `undefined` for any other abort, which says
 * "aborted by the caller".
 */
export function callerTimeoutMessage(
  slug: string,
  signal: AbortSignal | undefined,
  during = '',
): string | undefined {
  const limit = timeLimitOf(signal);
  if (!limit) return undefined;
  const whose =
    limit.via === undefined ? "its caller's time limit" : `the time limit of the ${limit.via} call it ran in`;
  return `${slug} was stopped by ${whose}${during} (${limit.name}: ${quotedMessage(limit.reason, [], MAX_REASON_CHARS)}); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`;
}

/** Whether `signal` was aborted by a caller's time limit (see {@link callerTimeoutMessage}). */
export function stoppedByTimeLimit(signal: AbortSignal | undefined): boolean {
  return timeLimitOf(signal) !== undefined;
}

/**
 * `failure`, the reason a call (`slug`) that its caller's `signal` stopped aborts its handler's
 * `ctx.signal` with, made to carry what stopped it on to the calls made under that signal: a caller's
 * time limit (they then say that limit stopped them, see {@link callerTimeoutMessage}), or a stop of
 * toolmux's own (they say why toolmux stopped them, see {@link stoppedByToolmux}).
 */
export function carryingTimeLimit<T extends object>(
  failure: T,
  slug: string,
  signal: AbortSignal | undefined,
): T {
  const limit = timeLimitOf(signal);
  if (limit) carriedTimeLimits.set(failure, { via: slug, ...limit });
  const because = toolmuxStopOf(signal);
  if (because !== undefined) toolmuxStops.set(failure, because);
  const tally = tallyOf(signal);
  if (tally !== undefined) stopTallies.set(failure, tally);
  return failure;
}

/**
 * The abort reasons toolmux made when it stopped calls itself, not at their caller's word: the
 * workbench cell they were called from ended (returned, threw, ran past its `timeoutMs`, its context
 * was dropped), the call they ran in was stopped by its own timeout or by `close()`. Each maps to why,
 * as words that follow "because"; the calls made under a signal aborted with one say so, where they
 * said "aborted by the caller", which no caller did. Keyed by the reason: nothing is added to it.
 */
const toolmuxStops = new WeakMap<object, string>();

/** The stops of toolmux's own that count the calls they stop (see {@link stoppedByToolmux}), with their count. */
const stopTallies = new WeakMap<object, { stopped: number }>();

/** The count of the calls stopped by the stop of toolmux's own that aborted `signal`, when it keeps one. */
function tallyOf(signal: AbortSignal | undefined): { stopped: number } | undefined {
  const reason: unknown = signal?.reason;
  return typeof reason === 'object' && reason !== null ? stopTallies.get(reason) : undefined;
}

/**
 * `reason`, an abort reason toolmux stops calls with itself, marked with why (`because`: words that
 * follow "because", and what to do where that helps): the calls made under the signal it aborts
 * say so (see {@link abortedCallMessage}). With `tally`, each call it stops (those made under the
 * calls it stops included) adds one to `tally.stopped` (see {@link countToolmuxStop}): a server's
 * drain says how many calls its end stopped.
 */
export function stoppedByToolmux<T extends object>(
  reason: T,
  because: string,
  tally?: { stopped: number },
): T {
  toolmuxStops.set(reason, because);
  if (tally !== undefined) stopTallies.set(reason, tally);
  return reason;
}

/**
 * Whether `signal`, the signal a call was given, was aborted by a stop of toolmux's own (see
 * {@link stoppedByToolmux}): then the call is counted in that stop's tally, when it keeps one. Call
 * it once per call that signal stops.
 */
export function countToolmuxStop(signal: AbortSignal | undefined): boolean {
  if (toolmuxStopOf(signal) === undefined) return false;
  const tally = tallyOf(signal);
  if (tally !== undefined) tally.stopped += 1;
  return true;
}

/** Why toolmux itself aborted `signal` (see {@link stoppedByToolmux}), or undefined for a caller's abort. */
export function toolmuxStopOf(signal: AbortSignal | undefined): string | undefined {
  const reason: unknown = signal?.reason;
  return typeof reason === 'object' && reason !== null ? toolmuxStops.get(reason) : undefined;
}

/**
 * What a call (`slug`) stopped because `signal`, the signal it was given, aborted says: stopped by a
 * caller's time limit (see {@link callerTimeoutMessage}); stopped by toolmux, and why (see
 * {@link stoppedByToolmux}); else `aborted` (by default "<slug> was aborted by the caller"), as the
 * caller aborted it. `during` says what the call was doing, as words that follow "stopped" (" while
 * it waited for …", " before it started").
 */
export function abortedCallMessage(
  slug: string,
  signal: AbortSignal | undefined,
  during = '',
  aborted = `${slug} was aborted by the caller${during}.`,
): string {
  const limited = callerTimeoutMessage(slug, signal, during);
  if (limited !== undefined) return limited;
  const because = toolmuxStopOf(signal);
  if (because === undefined) return aborted;
  return `${slug} was stopped${during}${during === '' ? '' : ','} because ${because}.`;
}

/**
 * Whether `promise` settles (resolves or rejects) within `timeoutMs`; its outcome is not looked at,
 * and the timer is cleared as soon as it does.
 */
export async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => true,
    () => true,
  );
  const inTime = await Promise.race([
    settled,
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return inTime;
}

/**
 * `promise`'s outcome, or a rejection with `late()` once `timeoutMs` has passed without one (the
 * promise goes on; its outcome is then not looked at). The timer is cleared as soon as it settles,
 * so a deadline that is no longer needed does not hold the process open. `lifted`, when given, is
 * asked when the time has passed: `true` (the work is seen to go on, e.g. a store applying its
 * migrations) waits for the promise after all.
 */
export function withDeadline<T>(
  promise: PromiseLike<T>,
  timeoutMs: number,
  late: () => Error,
  lifted?: () => boolean,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (!lifted?.()) reject(late());
    }, timeoutMs);
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Waits for `promise` until `signal` aborts: rejects with the signal's reason at once then (the
 * promise goes on; its outcome is not looked at). Without a signal, the promise itself.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      promise.catch(() => undefined);
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * `run()`'s value, or a rejection with the signal's reason as soon as it aborts (what `run` started
 * goes on; its outcome is not looked at). `run` throwing is its rejection.
 */
export function runUntilAborted<T>(run: () => Promise<T> | T, signal: AbortSignal): Promise<T> {
  let started: Promise<T>;
  try {
    started = Promise.resolve(run());
  } catch (error) {
    started = Promise.reject(error);
  }
  return untilAborted(started, signal);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (its timer cleared). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
