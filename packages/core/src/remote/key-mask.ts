import { quotedText, ToolMuxError } from '../errors.js';
import { maskSecretsLeading, REDACTED, secretForms } from '../util/redact.js';
import { quotedString, shownValue } from '../util/stored-text.js';

/**
 * The most characters of one text (a message, a stack) masked whole, runs of the key's characters
 * included (see `maskSecretsLeading`); a longer one is cut there. A message of the SDK's own that
 * quotes a server's is at most about half of it.
 */
const MAX_MASKED_CHARS = 65_536;

/** The most characters of a value a message shows (`shownValue`'s cut). */
const SHOWN_CHARS = 64;

/** The error types a copy keeps (a TypeError stays one); any other becomes an Error of its name. */
const BUILT_IN_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, URIError, EvalError];

/** How deep a chain of causes (and an AggregateError's errors) is copied; deeper ones are left out. */
const MAX_CAUSE_DEPTH = 8;

/** An AggregateError's errors copied at most; the others are left out. */
const MAX_CAUSE_ERRORS = 16;

/** How many characters of an error's own properties {@link KeyMask.cause} looks at for the key. */
const MAX_SCANNED_CHARS = 1_048_576;

/**
 * The one place where what a remote ToolMux throws loses the API key: a server or a proxy that
 * echoes the request's `Authorization` header (in an error's code, message or details, a redirect's
 * address, a field of an answer), and a `fetch` of the application's own whose error names what it
 * sent, show `[REDACTED]` instead, in the message, the stack, the details and every cause.
 */
export class KeyMask {
  /** The key as a request carries it and so as an answer may quote it (percent- or form-encoded). */
  readonly #secrets: readonly string[];
  /** The same as JSON writes them inside a string (a key with a quote or a backslash). */
  readonly #jsonSecrets: readonly string[];
  /** The length of the longest of {@link #secrets}. */
  readonly #longest: number;

  constructor(apiKey: string) {
    this.#secrets = secretForms(apiKey);
    this.#longest = Math.max(...this.#secrets.map((form) => form.length));
    this.#jsonSecrets = [...new Set(this.#secrets.map((form) => JSON.stringify(form).slice(1, -1)))];
  }

  /** `text` without the key (and runs of 12 or more of its characters: a cut that split it). */
  text(text: string): string {
    if (text.length > MAX_MASKED_CHARS) return quotedText(text, this.#secrets, MAX_MASKED_CHARS);
    return maskSecretsLeading(text, this.#secrets, Number.POSITIVE_INFINITY).text;
  }

  /**
   * A value from an answer as a message shows it (`shownValue`: quoted, cut to 64 characters), the
   * key masked before the cut: a key the cut splits is masked whole, not shown in part.
   */
  shown(value: unknown): string {
    if (typeof value !== 'string') return this.text(shownValue(value));
    if (value.length <= SHOWN_CHARS) return quotedString(this.text(value));
    // every key that starts in the first characters is whole in this window, and masked there
    const masked = this.text(value.slice(0, SHOWN_CHARS + this.#longest));
    // cut where shownValue cuts, but never inside a marker
    let end = Math.min(masked.length, SHOWN_CHARS);
    const marker = masked.lastIndexOf(REDACTED, end - 1);
    if (marker !== -1 && marker + REDACTED.length > end) end = marker + REDACTED.length;
    return quotedString(`${masked.slice(0, end)}…`);
  }

  /**
   * A server's `details` without the key, as JSON writes them; `details` itself when they do not
   * hold it, undefined when JSON cannot write them again (nested past the stack).
   */
  details(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (details === undefined) return undefined;
    let text: string;
    try {
      text = JSON.stringify(details);
    } catch {
      return undefined;
    }
    const masked = maskSecretsLeading(text, this.#jsonSecrets, Number.POSITIVE_INFINITY, false).text;
    if (masked === text) return details;
    try {
      return JSON.parse(masked) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /**
   * What leaves a remote ToolMux's request: a ToolMuxError as it is when nothing of it holds the
   * key, else the same error (code, message, details, stack and cause) with the key masked; anything
   * else (an abort's reason) as {@link cause} keeps it.
   */
  error(error: unknown): unknown {
    if (!ToolMuxError.isInstance(error)) return this.cause(error);
    const message = this.text(error.message);
    const details = this.details(error.details);
    const cause = error.cause === undefined ? undefined : this.cause(error.cause);
    const stack = typeof error.stack === 'string' ? this.text(error.stack) : undefined;
    if (
      message === error.message &&
      details === error.details &&
      cause === error.cause &&
      stack === error.stack
    ) {
      return error;
    }
    const masked = new ToolMuxError({ code: error.code, message, details, cause });
    if (stack !== undefined) masked.stack = stack;
    return masked;
  }

  /**
   * A cause to attach (an error `fetch` or the read of an answer threw, one a reader of the answer
   * threw): `cause` itself when neither its message, name, code and stack, nor its own properties,
   * nor its causes hold the key; else a copy of it with the key masked (message, stack, code and
   * causes; its other properties, where the key was, left out); undefined when it cannot be read.
   */
  cause(cause: unknown, depth = 0): unknown {
    try {
      if (!this.#holdsKey(cause, 0, [], { left: MAX_SCANNED_CHARS })) return cause;
      return this.#maskedCopy(cause, depth);
    } catch {
      // a getter or a proxy that threw as it was read: nothing of it is attached
      return undefined;
    }
  }

  /** Whether `value` (its strings, own properties, causes and stack, as far as `budget`) holds the key. */
  #holdsKey(value: unknown, depth: number, seen: object[], budget: { left: number }): boolean {
    if (typeof value === 'string') {
      budget.left -= value.length;
      // past the budget it may hold it: a copy is made, which holds only what was masked
      return budget.left < 0 || this.text(value) !== value;
    }
    if (typeof value !== 'object' || value === null) return false;
    if (seen.includes(value)) return false;
    if (depth > MAX_CAUSE_DEPTH) return true;
    seen.push(value);
    if (value instanceof Error) {
      for (const text of [value.stack, value.message, value.name])
        if (this.#holdsKey(text, depth + 1, seen, budget)) return true;
    }
    // an error's own properties that are not enumerable too (an AggregateError's errors, a cause)
    const keys = value instanceof Error ? Object.getOwnPropertyNames(value) : Object.keys(value);
    if (
      value instanceof Error &&
      !keys.includes('cause') &&
      this.#holdsKey(value.cause, depth + 1, seen, budget)
    )
      return true;
    for (const key of keys) {
      if (this.#holdsKey(key, depth + 1, seen, budget)) return true;
      if (this.#holdsKey((value as Record<string, unknown>)[key], depth + 1, seen, budget)) return true;
    }
    return false;
  }

  /** A copy of `value` (an error, or anything thrown) without the key. */
  #maskedCopy(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.text(value);
    if (!(value instanceof Error)) {
      // not an Error: its words, masked
      return new Error(this.text(String(value)));
    }
    const nested =
      value.cause === undefined || depth >= MAX_CAUSE_DEPTH ? undefined : this.cause(value.cause, depth + 1);
    const errors = (value as { errors?: unknown }).errors;
    const copy: Error & { code?: string; errors?: unknown[] } =
      Array.isArray(errors) && depth < MAX_CAUSE_DEPTH
        ? new AggregateError(
            errors.slice(0, MAX_CAUSE_ERRORS).map((error) => this.cause(error, depth + 1)),
            this.text(String(value.message)),
          )
        : new (BUILT_IN_ERRORS.find((type) => value instanceof type) ?? Error)(
            this.text(String(value.message)),
          );
    if (nested !== undefined) copy.cause = nested;
    copy.name = this.text(String(value.name));
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string') copy.code = this.text(code);
    copy.stack = typeof value.stack === 'string' ? this.text(value.stack) : `${copy.name}: ${copy.message}`;
    return copy;
  }
}
