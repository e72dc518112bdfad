/** Keys whose values are treated as secrets wherever they appear in a logged payload. */
const SECRET_KEY =
  /(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|^auth$|bearer|signature)/i;

/** A secret-looking key as it appears in JSON text (`"apiKey":`); may match more than keys, never less. */
const SECRET_KEY_IN_JSON =
  /"[^"]*(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|bearer|signature|auth)[^"]*":/i;

function needsRedaction(json: string, secrets: readonly string[]): boolean {
  if (SECRET_KEY_IN_JSON.test(json)) return true;
  for (const secret of secrets) {
    if (secret.length >= 4 && json.includes(JSON.stringify(secret).slice(1, -1))) return true;
  }
  return false;
}

export const REDACTED = '[REDACTED]';
export const MAX_LOG_PAYLOAD_BYTES = 4096;

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redactString(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 20) return '[…]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && item !== null && item !== undefined && item !== ''
        ? REDACTED
        : redactValue(item, secrets, depth + 1);
  }
  return out;
}

function redactString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets)
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * JSON of `value` for the execution log: values under secret-looking keys and every known secret
 * string (the call's credentials) replaced by `[REDACTED]`, then cut to 4 KB.
 */
export function redactForLog(value: unknown, secrets: readonly string[] = []): string {
  if (value === undefined) return 'null';
  let json: string;
  try {
    // fast path, the common case: no secret-looking key and no known secret anywhere in the JSON
    const raw = JSON.stringify(value) ?? 'null';
    json = needsRedaction(raw, secrets) ? (JSON.stringify(redactValue(value, secrets, 0)) ?? 'null') : raw;
  } catch {
    json = JSON.stringify(String(value));
  }
  return truncateUtf8(
    json.includes('\\u0000') ? json.replaceAll('\\u0000', '\\ufffd') : json,
    MAX_LOG_PAYLOAD_BYTES,
  );
}

/** Cuts a string to at most `maxBytes` of UTF-8, marking the cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const marker = '…[truncated]';
  const budget = maxBytes - Buffer.byteLength(marker);
  // a multi-byte character cut in half decodes to U+FFFD: drop it
  const head = Buffer.from(text)
    .subarray(0, budget)
    .toString()
    .replace(/\uFFFD+$/, '');
  return head + marker;
}
