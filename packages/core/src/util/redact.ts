import type { ListedKeys, Slice } from './json-slices.js';

/** Keys whose values are treated as secrets wherever they appear in a logged payload. */
const SECRET_KEY =
  /(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|^auth$|bearer|signature)/i;

export const REDACTED = '[REDACTED]';
export const MAX_LOG_PAYLOAD_BYTES = 4096;

/**
 * The longest input, output or error message of an execution log entry a store holds: those toolmux
 * writes are cut to {@link MAX_LOG_PAYLOAD_BYTES} bytes, those a remote-mode client adds (`POST
 * /sessions/:id/logs`) are taken up to this many characters.
 */
export const MAX_LOG_TEXT_LENGTH = 8192;

/** The longest error code of an execution log entry: a ToolMuxError's, or one a remote-mode client adds. */
export const MAX_LOG_ERROR_CODE_LENGTH = 64;

const TRUNCATED = '…[truncated]';
/** Known secrets shorter than this are not masked (they would mask ordinary words). */
const MIN_SECRET_LENGTH = 4;
/** Deeper values are logged as `"[…]"`. */
const MAX_DEPTH = 100;
/**
 * How many characters of strings one payload may look at in all. Plain text uses up the byte budget
 * long before this; only long runs of masked secrets get this far, and are cut here.
 */
const MAX_SCANNED_CHARS = 64 * MAX_LOG_PAYLOAD_BYTES;

/** Thrown inside the serializer once the budget is spent; never escapes this module. */
class BudgetSpent extends Error {}

/** The known secrets worth masking, longest first, without duplicates. */
function secretsToMask(secrets: readonly unknown[]): string[] {
  const kept = new Set<string>();
  for (const secret of secrets)
    if (typeof secret === 'string' && secret.length >= MIN_SECRET_LENGTH) kept.add(secret);
  return [...kept].sort((a, b) => b.length - a.length);
}

/**
 * The spans `[start, end)` of `text` covered by an occurrence of a secret that overlaps
 * `[from, to)`, clipped to start at `from`, merged and in order. Looks only at
 * `text[from - longest + 1, to + longest - 1)`, so the cost is bounded by `to - from`.
 */
function secretSpans(
  text: string,
  from: number,
  to: number,
  secrets: readonly string[],
): Array<[number, number]> {
  if (secrets.length === 0) return [];
  const longest = secrets[0]!.length;
  const windowStart = Math.max(0, from - longest + 1);
  const window = text.slice(windowStart, Math.min(text.length, to + longest - 1));
  const spans: Array<[number, number]> = [];
  for (const secret of secrets) {
    for (let at = window.indexOf(secret); at !== -1; at = window.indexOf(secret, at + 1)) {
      const start = windowStart + at;
      const end = start + secret.length;
      if (end > from && start < to) spans.push([Math.max(start, from), end]);
    }
  }
  return mergedSpans(spans);
}

/**
 * A secret as a request may carry it, and so as a server may quote it back: as it is, percent-encoded
 * in a URL, form-encoded in a body, and form-encoded as RFC 6749 (appendix B) has OAuth client
 * credentials for HTTP Basic (`_` as `%5F`, `-` as `%2D`, …).
 */
export function secretForms(secret: string): string[] {
  // a lone surrogate cannot be percent-encoded (a URIError): then no request carried it so
  if (!secret.isWellFormed()) return [secret];
  const uri = encodeURIComponent(secret);
  return [
    secret,
    // as a JSON string writes it (a `"`, a `\\` or a control character escaped): an answer's text
    // that quotes the request as JSON
    JSON.stringify(secret).slice(1, -1),
    uri,
    new URLSearchParams({ s: secret }).toString().slice(2),
    uri.replace(/[-_.!~*'()]|%20/g, (character) =>
      character === '%20' ? '+' : `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
    ),
  ];
}

/** The credentials of an HTTP Basic authorization header (RFC 7617): `user:password` in base64. */
export function basicCredentials(user: string, password: string): string {
  return Buffer.from(`${user}:${password}`).toString('base64');
}

/**
 * `text` with every occurrence of a known secret (at least 4 characters) replaced by `[REDACTED]`;
 * overlapping occurrences become one marker. Linear in the length of `text`.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  const masked = secretsToMask(secrets);
  if (masked.length === 0) return text;
  return maskKnown(text, masked);
}

/**
 * {@link maskSecrets} for many texts with one list of secrets: a function that masks a text (the
 * same string when it holds none of them), or undefined when no secret is long enough to mask.
 */
export function secretMasker(
  secrets: readonly string[],
  /** Also the part of a secret that a cut of the text left at its end or start (see `cutSecretEnds`). */
  cutEnds = false,
): ((text: string) => string) | undefined {
  // one list is often masked with again and again (a connected account's, call after call): what it
  // takes to make its masker (sorting, every run of its long secrets) is done once per list
  let made = maskersBySecrets.get(secrets);
  if (made === undefined) {
    made = {};
    maskersBySecrets.set(secrets, made);
  }
  const key = cutEnds ? 'cutEnds' : 'whole';
  if (!(key in made)) made[key] = newSecretMasker(secrets, cutEnds);
  return made[key];
}

type Masker = ((text: string) => string) | undefined;
const maskersBySecrets = new WeakMap<readonly string[], { whole?: Masker; cutEnds?: Masker }>();

function newSecretMasker(secrets: readonly string[], cutEnds: boolean): Masker {
  const masked = secretsToMask(secrets);
  if (masked.length === 0) return undefined;
  const shortest = masked[masked.length - 1]!.length;
  const whole = (text: string) => (text.length < shortest ? text : maskKnown(text, masked));
  const ends = cutEnds ? cutEndsMasker(masked) : undefined;
  if (ends === undefined) return whole;
  // a text too short to end in a cut run may still hold a whole (shorter) secret
  return (text) => (text.length < FRAGMENT_CHARS ? whole(text) : ends(whole(text)));
}

/**
 * A function that masks what a cut left of a secret at a text's end or start (see
 * `cutSecretEnds`), or undefined when no secret is long enough to have its runs masked.
 */
function cutEndsMasker(masked: readonly string[]): ((text: string) => string) | undefined {
  const long = masked.filter((secret) => secret.length >= FRAGMENT_FROM_SECRET_LENGTH);
  if (long.length === 0) return undefined;
  // every run of FRAGMENT_CHARS of a long secret: a text whose end (or start) is none of them holds no
  // cut secret there, which one look up tells
  const runs = new Set<string>();
  for (const secret of long)
    for (let at = 0; at + FRAGMENT_CHARS <= secret.length; at++)
      runs.add(secret.slice(at, at + FRAGMENT_CHARS));
  return (text) => (mayEndCut(text, runs) ? cutSecretEnds(text, long) : text);
}

/** Whether the last or first {@link FRAGMENT_CHARS} of `text` (past an ellipsis) are a run of a secret. */
function mayEndCut(text: string, runs: ReadonlySet<string>): boolean {
  const end = text.endsWith('…') ? text.length - 1 : text.endsWith('...') ? text.length - 3 : text.length;
  const start = text.startsWith('…') ? 1 : text.startsWith('...') ? 3 : 0;
  if (end - start < FRAGMENT_CHARS) return false;
  return (
    runs.has(text.slice(end - FRAGMENT_CHARS, end)) || runs.has(text.slice(start, start + FRAGMENT_CHARS))
  );
}

/** A text longer than this is masked {@link MASKED_CHUNK} characters at a time by {@link maskedLongText}. */
export const LONG_TEXT_CHARS = 256 * 1024;
const MASKED_CHUNK = 64 * 1024;

/**
 * What `secretMasker(secrets, cutEnds)(text)` answers, for a text of any length without holding the
 * event loop: looked at {@link MASKED_CHUNK} characters at a time (and a secret's length around
 * them), pausing when `slice` is due. The same string when it holds no secret.
 */
export async function maskedLongText(
  text: string,
  secrets: readonly string[],
  cutEnds: boolean,
  slice: Slice,
): Promise<string> {
  const masked = secretsToMask(secrets);
  if (masked.length === 0) return text;
  const parts: string[] = [];
  let position = 0;
  let maskedTo = -1;
  for (let from = 0; from < text.length; from += MASKED_CHUNK) {
    if (slice.due()) await slice.pause();
    const to = Math.min(text.length, from + MASKED_CHUNK);
    if (position >= to) continue;
    for (const [start, end] of secretSpans(text, Math.max(from, position), to, masked)) {
      // a span that goes on where the last marker ended is the same masked run: one marker
      if (start > position || maskedTo !== position) {
        parts.push(text.slice(position, start), REDACTED);
      }
      position = end;
      maskedTo = end;
    }
  }
  const whole = parts.length === 0 ? text : parts.join('') + text.slice(position);
  const ends = cutEnds ? cutEndsMasker(masked) : undefined;
  return ends === undefined ? whole : ends(whole);
}

/**
 * `text` with the start of a secret at its end, or the end of one at its start, replaced by
 * `[REDACTED]` when it is {@link FRAGMENT_CHARS} characters or more: what a cut of a longer text (a
 * tool that hands on the first 50,000 characters of an answer and `…`) left of a secret the cut
 * split. Looks at a secret's length at each end, whatever the length of `text`.
 */
function cutSecretEnds(text: string, secrets: readonly string[]): string {
  // past the ellipsis a cut writes
  const end = text.endsWith('…') ? text.length - 1 : text.endsWith('...') ? text.length - 3 : text.length;
  const start = text.startsWith('…') ? 1 : text.startsWith('...') ? 3 : 0;
  let headTo = start;
  let tailFrom = end;
  for (const secret of secrets) {
    const first = secret.slice(0, FRAGMENT_CHARS);
    for (
      let at = text.indexOf(first, Math.max(start, end - secret.length + 1));
      at !== -1 && at + FRAGMENT_CHARS <= end;
      at = text.indexOf(first, at + 1)
    ) {
      if (secret.startsWith(text.slice(at, end))) {
        tailFrom = Math.min(tailFrom, at);
        break;
      }
    }
    const last = secret.slice(-FRAGMENT_CHARS);
    const within = Math.min(end, start + secret.length - 1);
    for (
      let at = text.lastIndexOf(last, within - FRAGMENT_CHARS);
      at >= start;
      at = text.lastIndexOf(last, at - 1)
    ) {
      if (secret.endsWith(text.slice(start, at + FRAGMENT_CHARS))) {
        headTo = Math.max(headTo, at + FRAGMENT_CHARS);
        break;
      }
      if (at === 0) break;
    }
  }
  if (headTo === start && tailFrom === end) return text;
  if (headTo >= tailFrom) return text.slice(0, start) + REDACTED + text.slice(end);
  return (
    text.slice(0, start) +
    (headTo > start ? REDACTED : '') +
    text.slice(headTo, tailFrom) +
    (tailFrom < end ? REDACTED : '') +
    text.slice(end)
  );
}

/** `text` with the occurrences of `masked` (as `secretsToMask` gives them) replaced. */
function maskKnown(text: string, masked: readonly string[]): string {
  const spans = secretSpans(text, 0, text.length, masked);
  if (spans.length === 0) return text;
  let out = '';
  let position = 0;
  for (const [start, end] of spans) {
    out += text.slice(position, start) + REDACTED;
    position = end;
  }
  return out + text.slice(position);
}

/**
 * The start of `text` with known secrets masked, at most `maxChars` characters (never half a
 * surrogate pair), and whether anything was left out. Every occurrence of a secret that overlaps the
 * first `maxChars` characters is masked whole, also one the cut would split: masking a prefix cut
 * first would show the start of such a secret. Looks only at those characters and a secret's length
 * past them, so a text of any length costs what `maxChars` does.
 */
export function maskSecretsLeading(
  text: string,
  secrets: readonly string[],
  maxChars: number,
  /** Also runs of a secret's characters (see `fragmentSpans`); off for a provider's error code, a word of its vocabulary. */
  fragments = true,
): { text: string; cut: boolean } {
  // never half a surrogate pair
  const to =
    text.length > maxChars && splitsPair(text, maxChars) ? maxChars - 1 : Math.min(text.length, maxChars);
  let out = '';
  let position = 0;
  const masked = secretsToMask(secrets);
  const spans = secretSpans(text, 0, to, masked);
  if (fragments) spans.push(...fragmentSpans(text, to, masked));
  for (const [start, end] of mergedSpans(spans)) {
    out += text.slice(position, start) + REDACTED;
    position = end;
  }
  if (position < to) {
    out += text.slice(position, to);
    position = to;
  }
  // a marker is longer than a secret of fewer than 10 characters: the masked text can be longer
  if (out.length > maxChars)
    return { text: out.slice(0, splitsPair(out, maxChars) ? maxChars - 1 : maxChars), cut: true };
  return { text: out, cut: position < text.length };
}

/** A run of this many characters of a secret is masked wherever it appears in a quoted message. */
const FRAGMENT_CHARS = 12;
/** Secrets at least this long have their fragments masked too (shorter ones only whole). */
const FRAGMENT_FROM_SECRET_LENGTH = 16;

/**
 * The spans of `text` that start before `to` and hold runs of {@link FRAGMENT_CHARS} or more
 * characters of a secret (of {@link FRAGMENT_FROM_SECRET_LENGTH} or more): a provider that quotes
 * the start of a refresh token or client secret in its error ("refresh token 4f3c9a0b2e7d1f65…
 * revoked") showed that much of it, where only whole secrets were masked. A run is followed at
 * most a secret's length. Looks at `to` characters (a message's quoted start), not the whole text.
 */
function fragmentSpans(text: string, to: number, secrets: readonly string[]): Array<[number, number]> {
  const fragments = new Set<string>();
  let longest = 0;
  for (const secret of secrets) {
    if (secret.length < FRAGMENT_FROM_SECRET_LENGTH) continue;
    longest = Math.max(longest, secret.length);
    for (let at = 0; at + FRAGMENT_CHARS <= secret.length; at++)
      fragments.add(secret.slice(at, at + FRAGMENT_CHARS));
  }
  if (fragments.size === 0) return [];
  const spans: Array<[number, number]> = [];
  const lastStart = Math.min(to - 1, text.length - FRAGMENT_CHARS);
  for (let start = 0; start <= lastStart; start++) {
    if (!fragments.has(text.slice(start, start + FRAGMENT_CHARS))) continue;
    let end = start + FRAGMENT_CHARS;
    while (
      end < text.length &&
      end - start < longest &&
      fragments.has(text.slice(end + 1 - FRAGMENT_CHARS, end + 1))
    )
      end++;
    spans.push([start, end]);
    start = end - 1;
  }
  return spans;
}

/** Spans in order, overlapping ones merged. */
function mergedSpans(spans: Array<[number, number]>): Array<[number, number]> {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [spans[0]!];
  for (const span of spans.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push(span);
  }
  return merged;
}

/** True when `text[index - 1]` and `text[index]` are the two halves of one surrogate pair. */
function splitsPair(text: string, index: number): boolean {
  const high = text.charCodeAt(index - 1);
  const low = text.charCodeAt(index);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

/**
 * The sizes below are one number, `bytes * 4 + units` (units: 1, or 2 for a surrogate pair), not an
 * object: they run per character of up to 4 KB of every logged payload, and an object per character
 * was most of what redacting a megabyte allocated (garbage that brings the next scavenge closer while
 * the call's megabyte is alive).
 */
const sized = (bytes: number, units: number) => bytes * 4 + units;

/** Bytes of the UTF-8 of `text[index]` (a surrogate pair: 4, with units 2), packed by {@link sized}. */
function utf8Size(text: string, index: number): number {
  const code = text.charCodeAt(index);
  if (code < 0x80) return sized(1, 1);
  if (code < 0x800) return sized(2, 1);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(index + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return sized(4, 2);
  }
  return sized(3, 1);
}

/** Bytes of `text[index]` escaped by JSON.stringify (a surrogate pair: 4, with units 2), packed by {@link sized}. */
function escapedSize(text: string, index: number): number {
  const code = text.charCodeAt(index);
  if (code === 0x22 || code === 0x5c) return sized(2, 1);
  if (code < 0x20)
    return sized(code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6, 1);
  const size = utf8Size(text, index);
  // a lone surrogate is written as \uXXXX
  return code >= 0xd800 && code <= 0xdfff && (size & 3) === 1 ? sized(6, 1) : size;
}

/** How many UTF-16 units of `text` (whole characters) fit in `maxBytes` as sized by `size`. */
function fittingUnits(text: string, maxBytes: number, size: (text: string, index: number) => number): number {
  let bytes = 0;
  let index = 0;
  while (index < text.length) {
    const next = size(text, index);
    const nextBytes = next >> 2;
    if (bytes + nextBytes > maxBytes) break;
    bytes += nextBytes;
    index += next & 3;
  }
  return index;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends on a whole character. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  // every UTF-16 unit takes at least one byte: look no further than maxBytes units
  const head = text.length > maxBytes ? text.slice(0, maxBytes) : text;
  return text.slice(0, fittingUnits(head, maxBytes, utf8Size));
}

/** Cuts a string to at most `maxBytes` of UTF-8, marking the cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  return cutUtf8(text, maxBytes - Buffer.byteLength(TRUNCATED)) + TRUNCATED;
}

/**
 * Builds JSON text of at most `budget` UTF-8 bytes; an append that does not fit adds the whole
 * characters that do (never half an escape) and throws `BudgetSpent`.
 */
class BoundedJson {
  text = '';
  #bytes = 0;
  #scanned = 0;
  readonly #budget: number;
  readonly #secrets: readonly string[];

  constructor(budget: number, secrets: readonly string[]) {
    this.#budget = budget;
    this.#secrets = secrets;
  }

  get remaining(): number {
    return this.#budget - this.#bytes;
  }

  /** Counts `units` of work that may write nothing (skipped keys, scanned secrets). */
  visit(units: number): void {
    this.#scanned += units;
    if (this.#scanned > MAX_SCANNED_CHARS) throw new BudgetSpent();
  }

  /** Appends JSON syntax or a number (ASCII). */
  raw(piece: string): void {
    if (piece.length <= this.remaining) {
      this.text += piece;
      this.#bytes += piece.length;
      return;
    }
    this.text += piece.slice(0, this.remaining);
    this.#bytes = this.#budget;
    throw new BudgetSpent();
  }

  /** Appends the characters of `text` escaped for a JSON string (without quotes), NUL as U+FFFD. */
  #plain(text: string): void {
    if (text.length === 0) return;
    // every character takes at least one byte: no more than `remaining` of them can fit
    const head = text.length > this.remaining ? text.slice(0, this.remaining) : text;
    const clean = head.includes('\0') ? head.replaceAll('\0', '\uFFFD') : head;
    const units = fittingUnits(clean, this.remaining, escapedSize);
    const escaped = JSON.stringify(units === clean.length ? clean : clean.slice(0, units)).slice(1, -1);
    this.text += escaped;
    this.#bytes += Buffer.byteLength(escaped);
    if (units < text.length) throw new BudgetSpent();
  }

  /** Appends `text` as a JSON string with known secrets masked, looking only at what can fit. */
  string(text: string): void {
    this.raw('"');
    let position = 0;
    let maskedTo = -1;
    while (position < text.length) {
      if (this.remaining <= 0) throw new BudgetSpent();
      // every character takes at least one byte: no more than `remaining` of them can be written
      let to = Math.min(text.length, position + this.remaining);
      if (splitsPair(text, to)) to = to - 1 > position ? to - 1 : to + 1;
      this.visit(to - position);
      for (const [start, end] of secretSpans(text, position, to, this.#secrets)) {
        // a span that goes on where the last marker ended is the same masked run: one marker
        if (start > position || maskedTo !== position) {
          this.#plain(text.slice(position, start));
          this.raw(REDACTED);
        }
        position = end;
        maskedTo = end;
      }
      if (position < to) {
        this.#plain(text.slice(position, to));
        position = to;
      }
    }
    this.raw('"');
  }
}

/** The bytes of a Buffer, written as the array `Buffer.toJSON` would give without copying them. */
class ByteList {
  // a field assigned in the constructor, not a parameter property: workbench worker threads load this
  // module through errors.ts, and Node.js strips types only where nothing else must be written (tests
  // run the workers on the TypeScript sources)
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/** What JSON.stringify writes for `value`: the result of its `toJSON(key)` if it has one. */
function jsonValue(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return { type: 'Buffer', data: new ByteList(value) };
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  return typeof toJSON === 'function' ? toJSON.call(value, key) : value;
}

/** Writes `value` (already passed through {@link jsonValue}) as JSON. */
function writeValue(
  out: BoundedJson,
  value: unknown,
  ancestors: object[],
  listedKeys: ListedKeys | undefined,
): void {
  switch (typeof value) {
    case 'string':
      out.string(value);
      return;
    case 'number':
      out.raw(Number.isFinite(value) ? String(value) : 'null');
      return;
    case 'boolean':
      out.raw(String(value));
      return;
    case 'bigint':
      out.string(String(value));
      return;
    case 'object':
      break;
    default:
      // undefined, functions and symbols: left out of objects, null elsewhere (as JSON.stringify)
      out.raw('null');
      return;
  }
  if (value === null) {
    out.raw('null');
    return;
  }
  if (ancestors.includes(value)) {
    out.string('[circular]');
    return;
  }
  if (ancestors.length >= MAX_DEPTH) {
    out.string('[…]');
    return;
  }
  ancestors.push(value);
  if (value instanceof ByteList) {
    out.raw('[');
    for (let index = 0; index < value.bytes.length; index++)
      out.raw(index === 0 ? String(value.bytes[index]) : `,${value.bytes[index]}`);
    out.raw(']');
  } else if (Array.isArray(value)) {
    out.raw('[');
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out.raw(',');
      writeValue(out, jsonValue(value[index], String(index)), ancestors, listedKeys);
    }
    out.raw(']');
  } else {
    out.raw('{');
    let first = true;
    const member = (name: string): void => {
      out.visit(1);
      if (!Object.hasOwn(value, name)) return;
      const item = jsonValue((value as Record<string, unknown>)[name], name);
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') return;
      if (!first) out.raw(',');
      first = false;
      out.string(name);
      out.raw(':');
      // the key was written whole, so it is shorter than the budget: testing it is cheap
      if (SECRET_KEY.test(name) && item !== null && item !== '') out.string(REDACTED);
      else writeValue(out, item, ancestors, listedKeys);
    };
    // `for…in` lists every key before the first one comes out: for a wide object that is the
    // whole cost (a budget of 4 KB only ever looks at its first keys)
    const listed = listedKeys?.(value);
    if (listed !== undefined) for (const name of listed) member(name);
    else for (const name in value) member(name);
    out.raw('}');
  }
  ancestors.pop();
}

/** How {@link redactForLog} works. */
export interface RedactOptions {
  /**
   * The keys of objects in the value that the caller has listed already (`Object.keys` of a wide
   * object, which costs milliseconds to list again): written in that order instead of `for…in`'s
   * (the same for an object not changed since). A key no longer there is left out.
   */
  listedKeys?: ListedKeys;
}

/**
 * JSON of `value` for the execution log: values under secret-looking keys and every known secret
 * string (the call's credentials) replaced by `[REDACTED]`, NUL as U+FFFD, cut to 4 KB (marked
 * `…[truncated]`). Walks the value once and stops when the budget is spent, so a payload of any size
 * costs about as much as a 4 KB one.
 */
export function redactForLog(
  value: unknown,
  secrets: readonly string[] = [],
  options: RedactOptions = {},
): string {
  const out = new BoundedJson(MAX_LOG_PAYLOAD_BYTES, secretsToMask(secrets));
  try {
    writeValue(out, jsonValue(value, ''), [], options.listedKeys);
    return out.text;
  } catch (error) {
    if (error instanceof BudgetSpent) {
      return cutUtf8(out.text, MAX_LOG_PAYLOAD_BYTES - Buffer.byteLength(TRUNCATED)) + TRUNCATED;
    }
    // a toJSON or getter threw: log what the value is called, not its content
    return redactForLog(String(Object.prototype.toString.call(value)));
  }
}
