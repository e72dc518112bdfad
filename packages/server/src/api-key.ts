import { ToolMuxError } from '@toolmux/core';

/** The shortest project API key the server takes. */
export const MIN_API_KEY_LENGTH = 16;

/**
 * A check of a presented secret against the project API key that takes the same time whatever was
 * presented: every character of the key is compared (no early exit at the first difference), and
 * the time depends on the key's length only, never on how much of the presented text matches or on
 * its length. Equal exactly when the two strings are equal.
 *
 * Every REST request is checked: this is a loop over the key's characters, where a SHA-256 of each
 * presented header (to compare equal-length digests with `crypto.timingSafeEqual`) cost a native
 * call and a Buffer made for the digest each time (about 5% of a small REST answer's CPU).
 */
export function secretMatcher(secret: string): (presented: string) => boolean {
  const length = secret.length;
  const codes = new Uint16Array(length);
  for (let index = 0; index < length; index++) codes[index] = secret.charCodeAt(index);
  return (presented) => {
    // a length that differs is a difference too, found without stopping early
    let difference = presented.length ^ length;
    for (let index = 0; index < length; index++) {
      // past the end of `presented`, charCodeAt is NaN, which `^` reads as 0
      difference |= presented.charCodeAt(index) ^ codes[index]!;
    }
    return difference === 0;
  };
}

/**
 * The credentials of an `Authorization` header of the Bearer scheme: what follows the scheme (in any
 * case) and one or more spaces (RFC 9110, 11.1 and 11.4: `auth-scheme 1*SP token68`), or undefined
 * for another scheme or none. The REST API, the MCP endpoint and the Composio routes all read the
 * header this way: `Bearer  <token>` (two spaces) was a wrong token on MCP and a wrong key on the
 * Composio routes, though right on /api/v1.
 */
export function bearerCredentials(authorization: string | null | undefined): string | undefined {
  const scheme = /^bearer +/i.exec(authorization ?? '');
  if (scheme === null) return undefined;
  const credentials = authorization!.slice(scheme[0].length);
  return credentials === '' ? undefined : credentials;
}

/**
 * Where the project API key of a server is kept, for the callers it refuses: a key file, an
 * environment variable, or the `apiKey` of a config file (its path). Never the key itself.
 */
export type ApiKeySource = { file: string } | { variable: string } | { configFile: string };

const API_KEY_SOURCE_FIELDS = ['file', 'variable', 'configFile'] as const;

/**
 * The sentence of a 401 answer that says where the key is: the source `createServer()` was given,
 * else TOOLMUX_API_KEY when the key came from it, else the `apiKey` option. Undefined `source` and a
 * bad one are told apart by {@link checkApiKeySource} before this runs.
 */
export function whereTheApiKeyIs(source: ApiKeySource | undefined, fromOption: boolean): string {
  if (source === undefined) {
    return fromOption
      ? 'The key is the apiKey this server was created with (createServer({ apiKey })).'
      : "The key is the server's TOOLMUX_API_KEY (the environment variable it was started with).";
  }
  if ('file' in source) return `The key is in the file ${source.file} on the server's machine.`;
  if ('variable' in source)
    return `The key is the server's ${source.variable} (the environment variable it was started with).`;
  return `The key is apiKey in the server's config file ${source.configFile}.`;
}

/** `createServer()`'s `apiKeySource`: one of its fields, a non-empty string, or the option left out. */
export function checkApiKeySource(source: unknown): asserts source is ApiKeySource | undefined {
  if (source === undefined) return;
  const fields =
    typeof source === 'object' && source !== null && !Array.isArray(source) ? Object.keys(source) : [];
  const value = fields.length === 1 ? (source as Record<string, unknown>)[fields[0]!] : undefined;
  if (
    fields.length === 1 &&
    (API_KEY_SOURCE_FIELDS as readonly string[]).includes(fields[0]!) &&
    typeof value === 'string' &&
    value !== ''
  ) {
    return;
  }
  const shown =
    typeof source === 'object' && source !== null
      ? `an object with ${fields.length === 0 ? 'no fields' : `the fields ${fields.join(', ')}`}`
      : typeof source;
  throw new ToolMuxError({
    code: 'CONFIG_INVALID',
    message: `apiKeySource must be one of { file: '<path of the key file>' }, { variable: '<environment variable name>' } or { configFile: '<path of the config file>' }, a non-empty string; got ${shown}. Leave it out to name TOOLMUX_API_KEY or the apiKey option.`,
  });
}
