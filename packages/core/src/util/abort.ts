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

/**
 * What a call stopped by its caller's `signal` says when the signal was aborted by a time limit: its
 * reason a `TimeoutError`, as `AbortSignal.timeout()` and the frameworks' timeouts built on it give
 * (the AI SDK's `timeout`, LangChain's `timeout`), or an error named `…TimeoutError` (the OpenAI Agents
 * SDK's tool `timeoutMs`). `during` says what the call was doing, as words that follow "time limit"
 * (" while it waited for …"). `undefined` for any other abort, which says "aborted by the caller".
 */
export function callerTimeoutMessage(
  slug: string,
  signal: AbortSignal | undefined,
  during = '',
): string | undefined {
  const reason: unknown = signal?.reason;
  let name: unknown;
  try {
    name = typeof reason === 'object' && reason !== null ? (reason as { name?: unknown }).name : undefined;
  } catch {
    // a reason whose name throws is no time limit: the call still stops, as an abort
    return undefined;
  }
  if (typeof name !== 'string' || !name.endsWith('TimeoutError')) return undefined;
  return `${slug} was stopped by its caller's time limit${during} (${name}: ${quotedMessage(reason, [], MAX_REASON_CHARS)}); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`;
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
 * so a deadline that is no longer needed does not hold the process open.
 */
export function withDeadline<T>(promise: PromiseLike<T>, timeoutMs: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), timeoutMs);
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
