import { ToolMuxError, type ToolMuxErrorCode } from '../errors.js';
import { runSteps, type Steps } from './slices.js';

/**
 * Every id and label that reaches the store passes one check here: the databases cannot keep every
 * JavaScript string. SQLite and PostgreSQL store text as UTF-8, where a lone UTF-16 surrogate becomes
 * U+FFFD (so `"\ud800v1"` and `"\udc00v1"` would be one user), and PostgreSQL refuses a NUL byte in
 * text and JSON (a server fault, not an answer). Control characters in ids only ever come from bugs
 * or attacks. A value that fails is refused at the entry point with a code and a message that names
 * it (escaped and cut) and the fix.
 */

/** The longest user id. */
export const MAX_USER_ID_LENGTH = 256;
/** The longest id, slug or label a caller passes in (session, account, auth config ids, call ids, …). */
export const MAX_ID_LENGTH = 256;

/** What a stored string may hold. */
export interface TextRule {
  /** How the message names the value: `userId`, `metadata key`, `path parameter sessionId`. */
  field: string;
  code: ToolMuxErrorCode;
  /** Longest length in UTF-16 code units. */
  maxLength: number;
  /** The value may be empty. @default false */
  allowEmpty?: boolean;
  /** Free text (names, descriptions, metadata values): tab, line feed and carriage return are allowed. @default false */
  freeText?: boolean;
  /** The sentence that tells the caller what to pass instead. */
  fix?: string;
}

/** The index of the first C0 control, DEL or C1 control (free text keeps tab, LF and CR), or -1. */
function firstControl(value: string, freeText: boolean): number {
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    if (unit < 0x20) {
      if (!(freeText && (unit === 0x09 || unit === 0x0a || unit === 0x0d))) return index;
    } else if (unit >= 0x7f && unit <= 0x9f) return index;
  }
  return -1;
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(char: string): string {
  return `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `value` cannot be stored under `rule`, or undefined when it can. Linear in the length, and a
 * value over the length limit is refused before it is scanned.
 */
export function textProblem(value: string, rule: Omit<TextRule, 'field' | 'code'>): string | undefined {
  if (value.length > rule.maxLength) {
    return `is ${value.length} characters long, over the limit of ${rule.maxLength}`;
  }
  if (value.length === 0 && !rule.allowEmpty) return 'is empty';
  if (!value.isWellFormed()) {
    const at = LONE_SURROGATE.exec(value)!;
    return `holds a lone UTF-16 surrogate (${codePoint(at[0])}) at index ${at.index}, which no database can store`;
  }
  const control = firstControl(value, rule.freeText ?? false);
  if (control >= 0) {
    return `holds the control character ${codePoint(value[control]!)} at index ${control}`;
  }
  return undefined;
}

/** What a value is, for a message: its kind only (a string given where an object goes may be a secret). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/**
 * A value as messages show it: JSON-escaped (control characters and lone surrogates become `\u…`
 * escapes, so a message is always storable and printable) and cut to 64 characters.
 */
export function shownValue(value: unknown): string {
  return shownValueUpTo(value, 64);
}

/**
 * {@link shownValue} cut to `maxLength` characters. (A function of its own, not an optional
 * parameter of `shownValue`: `list.map(shownValue)` would pass each index as the length.)
 */
export function shownValueUpTo(value: unknown, maxLength: number): string {
  if (typeof value !== 'string') {
    if (value === undefined || value === null) return String(value);
    if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
    return `${typeof value} ${String(value).slice(0, maxLength)}`;
  }
  // cut never inside a surrogate pair (half of one is a lone surrogate, escaped as \ud83d)
  return quotedString(value.length > maxLength ? `${leadingText(value, maxLength)}…` : value);
}

/** `text` quoted as {@link shownValue} quotes a string, not cut. */
export function quotedString(text: string): string {
  // JSON escapes C0 controls and lone surrogates; DEL and C1 controls too, here
  return JSON.stringify(text).replace(
    /[\x7f-\x9f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Text from outside (a provider's error description) made storable as is: lone surrogates and
 * control characters (but tab and line breaks) become U+FFFD.
 */
export function storableText(text: string): string {
  const wellFormed = text.toWellFormed();
  if (firstControl(wellFormed, true) < 0) return wellFormed;
  let out = '';
  for (const char of wellFormed) out += firstControl(char, true) < 0 ? char : '\ufffd';
  return out;
}

function defaultFix(rule: TextRule): string {
  const length = `${rule.allowEmpty ? 0 : 1} to ${rule.maxLength} characters`;
  const controls = rule.freeText ? 'no control characters but tab and line breaks' : 'no control characters';
  return `pass well-formed Unicode text of ${length}, with ${controls}`;
}

/** `value` when it is a string `rule` allows; otherwise throws `rule.code` naming the value and the fix. */
export function checkText(value: unknown, rule: TextRule): string {
  const problem = typeof value === 'string' ? textProblem(value, rule) : undefined;
  if (typeof value === 'string' && problem === undefined) return value;
  throw new ToolMuxError({
    code: rule.code,
    message:
      problem === undefined
        ? `${rule.field} must be a string; got ${shownValue(value)}: ${rule.fix ?? defaultFix(rule)}.`
        : `${rule.field} ${shownValue(value)} ${problem}: ${rule.fix ?? defaultFix(rule)}.`,
    details: { field: rule.field },
  });
}

const USER_ID_RULE: TextRule = {
  field: 'userId',
  code: 'USER_ID_INVALID',
  maxLength: MAX_USER_ID_LENGTH,
  fix: `pass your application's id for the user: well-formed Unicode text of 1 to ${MAX_USER_ID_LENGTH} characters without control characters (e.g. its database id)`,
};

/** A user id: well-formed, no control characters, 1 to 256 characters; USER_ID_INVALID otherwise. */
export function checkUserId(userId: unknown, field = 'userId'): string {
  if (typeof userId === 'string' && userId.trim() === '' && userId.length <= MAX_USER_ID_LENGTH) {
    throw new ToolMuxError({
      code: 'USER_ID_INVALID',
      message: `${field} ${shownValue(userId)} is blank: ${USER_ID_RULE.fix}.`,
      details: { field },
    });
  }
  return checkText(userId, field === 'userId' ? USER_ID_RULE : { ...USER_ID_RULE, field });
}

/**
 * An id a caller passes in (`ses_…`, `ca_…`, `ac_…`, `cr_…`, a call id, a slug): INVALID_REQUEST when
 * it cannot be an id at all. An id that is well-formed but unknown is the caller's NOT_FOUND.
 */
export function checkId(
  value: unknown,
  field: string,
  options: { code?: ToolMuxErrorCode; fix?: string } = {},
): string {
  return checkText(value, {
    field,
    code: options.code ?? 'INVALID_REQUEST',
    maxLength: MAX_ID_LENGTH,
    // an empty id is merely unknown: the lookup answers NOT_FOUND
    allowEmpty: true,
    ...(options.fix ? { fix: options.fix } : {}),
  });
}

/**
 * `value` as a URL without the user name and password it holds, or undefined when it holds none (or
 * is not a URL): for a message that must not repeat a password.
 */
export function urlWithoutCredentials(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.username === '' && url.password === '') return undefined;
  url.username = '';
  url.password = '';
  return url.href;
}

/** The first `max` characters of `text`, one fewer rather than half of a surrogate pair. */
export function leadingText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * A tool call id that an agent framework or a model's API gave, as the execution log keeps it: the id
 * itself when it can be stored; otherwise with each control character and lone surrogate made U+FFFD
 * and cut to {@link MAX_ID_LENGTH} characters (never inside a surrogate pair). `suffix` (`#0` for the
 * first call a multi-execute makes) is kept whole after the cut. The call runs either way: a label the
 * model's API chose is no reason to refuse it (an application's own bad `callId` is refused).
 */
export function storableCallId(callId: string, suffix = ''): string {
  const maxLength = MAX_ID_LENGTH - suffix.length;
  if (textProblem(callId, { maxLength, allowEmpty: true }) === undefined) return `${callId}${suffix}`;
  let id = callId.toWellFormed();
  if (firstControl(id, false) >= 0) {
    let replaced = '';
    for (const char of id) replaced += firstControl(char, false) < 0 ? char : '\ufffd';
    id = replaced;
  }
  return `${leadingText(id, maxLength)}${suffix}`;
}

/** A call id is the agent framework's tool call id; it is written to the execution log. */
export function checkCallId(callId: unknown): void {
  if (callId !== undefined) {
    checkId(callId, 'callId', { fix: "pass the agent framework's tool call id, or none" });
  }
}

/**
 * The first string (key or value) in a JSON-like value that cannot be stored under `rule`, with its
 * path (`.tools.github[0]`), or undefined. Iterative, and stops at the first bad string. The value
 * must be finite (parsed JSON, or checked with `jsonDepthExceeds`): a cycle would not end.
 */
export function findUnstorableString(
  value: unknown,
  rule: Omit<TextRule, 'field' | 'code'>,
): UnstorableString | undefined {
  return runSteps(unstorableStringSteps(value, rule));
}

/** What {@link findUnstorableString} found. */
export interface UnstorableString {
  path: string;
  value: string;
  problem: string;
  isKey: boolean;
}

/** How many values {@link unstorableStringSteps} looks at in one step. */
const VALUES_PER_STEP = 64;

/** {@link findUnstorableString} as steps, {@link VALUES_PER_STEP} values each (see `runStepsSliced`). */
export function* unstorableStringSteps(
  value: unknown,
  rule: Omit<TextRule, 'field' | 'code'>,
): Steps<UnstorableString | undefined> {
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  for (let looked = 0; stack.length > 0; looked++) {
    if (looked === VALUES_PER_STEP) {
      looked = 0;
      yield;
    }
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current, rule);
      if (problem) return { path: path || '(root)', value: current, problem, isKey: false };
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) {
        stack.push({ value: current[index], path: `${path}[${index}]` });
      }
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        const problem = textProblem(key, { ...rule, allowEmpty: true });
        if (problem) return { path: path || '(root)', value: key, problem, isKey: true };
        stack.push({ value: item, path: path ? `${path}.${key}` : key });
      }
    }
  }
  return undefined;
}
