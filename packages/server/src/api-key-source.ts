import { ToolMuxError } from '@toolmux/core';

// Apart from api-key.ts, which `toolmux --help` loads: this one loads the engine (ToolMuxError).

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
