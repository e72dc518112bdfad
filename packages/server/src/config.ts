import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Toolkit, ToolMuxError } from '@toolmux/core';
import {
  argumentPath,
  describeZodIssue,
  MAX_LOG_RETENTION_DAYS,
  MAX_OAUTH_REQUEST_TIMEOUT_MS,
  MAX_TIMER_MS,
  withDeadline,
} from '@toolmux/core/internal';
import { z } from 'zod';
import type { ConnectionOptions } from './connection-limit.js';
import { LOG_LEVELS, type LogLevel } from './log-levels.js';
import type { McpOptions } from './mcp/mcp-endpoint.js';
import type { MetricsOptions } from './metrics.js';
import { didYouMean } from './suggest.js';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';
export type LogFormat = 'json' | 'pretty';

/**
 * The configuration of `toolmux serve`, from `toolmux.config.ts|js|mjs|json` (found in the working
 * directory, or named with `--config`). Command-line flags and environment variables override it.
 */
export interface ToolMuxConfig {
  /**
   * The catalog. In a `.json` file: module paths (relative to the file, or package names), each
   * exporting toolkits as its default export, as `toolkits`, or as any named exports.
   * @default the built-in toolkits of @toolmux/toolkits
   */
  toolkits?: ReadonlyArray<Toolkit | string>;
  /**
   * `sqlite:./path.db`, `:memory:` or `postgres://…`. A relative SQLite path is relative to the config
   * file's directory (`--store` and `TOOLMUX_STORE` are relative to the working directory).
   * @default 'sqlite:./.toolmux/toolmux.db' (in the working directory)
   */
  store?: string;
  /** Where clients reach this server (MCP URLs, OAuth callbacks). @default `http://<host>:<port>` */
  baseUrl?: string;
  /** @default 8787 (0 picks a free port) */
  port?: number;
  /** The interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * The project API key (at least 16 characters). Prefer TOOLMUX_API_KEY to a key in a file.
   * @default TOOLMUX_API_KEY, else a key file `api.key` beside the SQLite database
   */
  apiKey?: string;
  /**
   * 32-byte key (base64 or hex) that encrypts credentials. Prefer TOOLMUX_SECRET_KEY.
   * @default TOOLMUX_SECRET_KEY, else (SQLite only) a key file `secret.key` beside the database
   */
  secretKey?: string;
  /** The operator's OAuth apps, per toolkit slug (`ToolMuxOptions.managedAuth`). @default {} */
  managedAuth?: Record<string, { clientId: string; clientSecret?: string; scopes?: string[] }>;
  /**
   * Where connections may send users back to: origins or URL prefixes.
   * @default the origin of baseUrl, plus localhost on any port unless NODE_ENV is 'production'
   */
  allowedCallbackUrls?: string[];
  /** Where users land after connecting when no callbackUrl was given. @default `${baseUrl}/connect/done` */
  defaultCallbackUrl?: string;
  /**
   * The MCP endpoint: `allowedOrigins` (browser origins besides `baseUrl`'s that may call it, `'*'`
   * for any), `toolsPageSize`, `maxBatchSize`, `maxBatchResponseBytes`, `propertyKeys`,
   * `progressIntervalMs` (`createServer`'s `mcp`).
   * @default {}
   */
  mcp?: McpOptions;
  /** The server's log. */
  log?: {
    /** @default 'info' */
    level?: LogLevel;
    /** JSON lines, or human-readable lines. @default 'pretty' on a terminal, else 'json' */
    format?: LogFormat;
  };
  /** `GET /metrics` and who may read it. @default { enabled: true, public: false, allowFrom: loopback } */
  metrics?: MetricsOptions;
  /**
   * `perClient` (the most connections one client may hold open), `unlimited` (a proxy's addresses,
   * not counted), `headersTimeoutMs` (`createServer`'s `connections`).
   * @default { perClient: a 16th of the open-file limit (at least 256), unlimited: loopback,
   *   headersTimeoutMs: 20_000 }
   */
  connections?: ConnectionOptions;
  /** Largest request body in bytes. @default 1_048_576 */
  bodyLimit?: number;
  /**
   * How long in-flight requests may take to finish after SIGTERM / SIGINT / SIGHUP: milliseconds, 0 to
   * 2147483647. @default 10_000
   */
  shutdownTimeoutMs?: number;
  /**
   * How long to go on serving after SIGTERM / SIGINT / SIGHUP before the drain, while `/readyz` already
   * answers 503 "draining": the time a load balancer takes to stop sending new connections (a
   * Kubernetes Service removes the pod's endpoint on its own schedule, and connections it sends to a
   * closed port are refused). Milliseconds, 0 to 2147483647; the drain's `shutdownTimeoutMs` counts
   * after it. @default 0
   */
  shutdownDelayMs?: number;
  /**
   * How long opening the store (connecting, migrating) may take before `serve` gives up: milliseconds,
   * 1 to 2147483647. @default 30_000
   */
  startupTimeoutMs?: number;
  /**
   * How long a call's connected account (and decrypted credentials) is reused by the next calls
   * (`ToolMuxOptions.accountCacheTtlMs`); another instance's change shows after at most this long.
   * `0` turns the cache off. @default 2000
   */
  accountCacheTtlMs?: number;
  /**
   * How long a resumed session is reused by MCP and session-scoped REST calls (`createServer`'s
   * `sessionCacheTtlMs`); another instance's change shows after at most this long. `0` turns the
   * cache off. @default 2000
   */
  sessionCacheTtlMs?: number;
  /**
   * The most bytes of an API's answer one proxy call downloads (`ToolMuxOptions.proxyMaxResponseBytes`):
   * `POST /api/v1/sessions/:id/proxy`, Composio's `proxy_execute` and the workbench's `toolmux.proxy`.
   * A request's `max_response_bytes` may ask for less, never more. @default 33554432 (32 MiB)
   */
  proxyMaxResponseBytes?: number;
  /**
   * How long one request to an OAuth provider's token or revocation endpoint may take
   * (`ToolMuxOptions.oauthRequestTimeoutMs`): one that does not answer in time fails as
   * `network_error`. Milliseconds, 1 to 300000. @default 30000
   */
  oauthRequestTimeoutMs?: number;
  /**
   * How many days execution log entries are kept (`ToolMuxOptions.logRetentionDays`): older ones are
   * deleted at start and every hour. Days, 1 to 36500. @default no limit
   */
  logRetentionDays?: number;
}

/**
 * Types a `toolmux.config.ts` (or `.js` / `.mjs`): returns the config as is.
 *
 * @example
 * // toolmux.config.ts
 * import { defineConfig } from '@toolmux/server';
 * import { builtinToolkits } from '@toolmux/toolkits';
 * export default defineConfig({ toolkits: builtinToolkits, store: process.env.DATABASE_URL });
 */
export function defineConfig(config: ToolMuxConfig): ToolMuxConfig {
  return config;
}

/** The names `toolmux serve` looks for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = [
  'toolmux.config.ts',
  'toolmux.config.mjs',
  'toolmux.config.js',
  'toolmux.config.json',
] as const;

const isToolkit = (value: unknown): value is Toolkit =>
  typeof value === 'object' && value !== null && (value as Toolkit).kind === 'toolmux.toolkit';

const stringList = z.array(z.string().min(1));

export const configSchema = z.strictObject({
  toolkits: z
    .array(
      z.union([
        z.string().min(1),
        z.custom<Toolkit>(isToolkit, { message: 'expected a toolkit (defineToolkit) or a module path' }),
      ]),
    )
    .optional(),
  store: z.string().min(1).optional(),
  baseUrl: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  secretKey: z.string().min(1).optional(),
  managedAuth: z
    .record(
      z.string(),
      z.strictObject({
        clientId: z.string().min(1),
        clientSecret: z.string().min(1).optional(),
        scopes: stringList.optional(),
      }),
    )
    .optional(),
  allowedCallbackUrls: stringList.optional(),
  defaultCallbackUrl: z.string().min(1).optional(),
  mcp: z
    .strictObject({
      allowedOrigins: stringList.optional(),
      toolsPageSize: z.number().int().positive().optional(),
      maxBatchSize: z.number().int().positive().optional(),
      maxBatchResponseBytes: z.number().int().positive().optional(),
      propertyKeys: z.enum(['portable', 'unchanged']).optional(),
      progressIntervalMs: z.number().int().positive().optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).optional(),
      format: z.enum(['json', 'pretty']).optional(),
    })
    .optional(),
  metrics: z
    .strictObject({
      enabled: z.boolean().optional(),
      public: z.boolean().optional(),
      allowFrom: stringList.optional(),
    })
    .optional(),
  connections: z
    .strictObject({
      perClient: z.number().int().min(0).optional(),
      unlimited: stringList.optional(),
      headersTimeoutMs: z.number().int().positive().max(300_000).optional(),
    })
    .optional(),
  bodyLimit: z.number().int().positive().optional(),
  // timers: a longer one is a timer of 1 ms (the drain cut at once, the store given up at once)
  shutdownTimeoutMs: z.number().int().min(0).max(MAX_TIMER_MS).optional(),
  shutdownDelayMs: z.number().int().min(0).max(MAX_TIMER_MS).optional(),
  startupTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
  accountCacheTtlMs: z.number().int().min(0).optional(),
  sessionCacheTtlMs: z.number().int().min(0).optional(),
  proxyMaxResponseBytes: z.number().int().positive().optional(),
  oauthRequestTimeoutMs: z.number().int().min(1).max(MAX_OAUTH_REQUEST_TIMEOUT_MS).optional(),
  logRetentionDays: z.number().int().min(1).max(MAX_LOG_RETENTION_DAYS).optional(),
});

/** The top-level keys of a config file. */
export const CONFIG_KEYS: readonly string[] = Object.keys(configSchema.shape);

/** The keys each object of the config accepts, for "did you mean". */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const key of path) {
    let inner: unknown = schema;
    while (inner instanceof z.ZodOptional) inner = inner.unwrap();
    if (inner instanceof z.ZodObject) schema = inner.shape[key as string];
    else if (inner instanceof z.ZodRecord) schema = inner.valueType as z.ZodType;
    else return [];
    if (!schema) return [];
  }
  while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/**
 * A path in the config as a refused argument's is named (core's `argumentPath`, as REST's body
 * paths): `toolkits[0]`, `managedAuth.github.clientId`, `managedAuth["my.kit"].clientId` (a key with
 * a dot, a space or only digits quoted in brackets: `managedAuth.my.kit` read as three keys); `''`
 * for the config itself.
 */
function pathText(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '' : argumentPath(path);
}

function configError(source: string, message: string): ToolMuxError {
  return new ToolMuxError({ code: 'CONFIG_INVALID', message: `${source}: ${message}` });
}

/**
 * The first object of a config, at `path` or under it, that is not a plain object or array (a
 * Promise, a Map, a class instance), with what it is; the toolkits (objects of their own) excepted.
 */
function notPlainObjectIn(
  value: unknown,
  path: readonly PropertyKey[],
): { path: readonly PropertyKey[]; kind: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = notPlainObjectIn(item, [...path, index]);
      if (found) return found;
    }
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
    const kind =
      typeof (value as { then?: unknown }).then === 'function'
        ? 'a Promise'
        : typeof name === 'string' && name !== ''
          ? `a ${name}`
          : 'an object of a class';
    return { path, kind };
  }
  for (const [key, item] of Object.entries(value)) {
    if (path.length === 0 && key === 'toolkits') continue;
    const found = notPlainObjectIn(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * Checks a config object (from a file); a mistake is `CONFIG_INVALID` naming the file, the key and
 * the fix (an unknown key gets "did you mean").
 */
export function validateConfig(value: unknown, source: string): ToolMuxConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError(
      source,
      'export the config object as the default export (export default defineConfig({ … })), or write a JSON object.',
    );
  }
  // the schema reads an object's own keys: a Promise or a Map has none, and was taken as an empty
  // config (every setting its default: a new SQLite database in place of the configured store)
  const odd = notPlainObjectIn(value, []);
  if (odd) {
    const where = odd.path.length > 0 ? `${pathText(odd.path)} is` : 'the default export is';
    throw configError(
      source,
      `${where} ${odd.kind}, not a plain object: write the settings as an object literal ({ … })${odd.path.length === 0 ? ' as the default export (export default defineConfig({ … }); a config read asynchronously: export default await …)' : ''}.`,
    );
  }
  const parsed = configSchema.safeParse(value);
  if (parsed.success) return parsed.data as ToolMuxConfig;
  // a misspelt key is the likeliest cause of any other issue (a required value that seems missing)
  const issue =
    parsed.error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ??
    parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = pathText([...issue.path, key]);
    const known = knownKeys(issue.path);
    const suggestion = didYouMean(key, known);
    throw configError(
      source,
      `unknown key "${where}".${suggestion ? ` Did you mean "${pathText([...issue.path, suggestion])}"?` : ''} Known keys${issue.path.length ? ` of ${pathText(issue.path)}` : ''}: ${known.join(', ')}.`,
    );
  }
  const where = pathText(issue.path) || 'the config';
  const received = issue.path.reduce<unknown>(
    (current, key) => (current as Record<PropertyKey, unknown> | undefined)?.[key],
    value,
  );
  // a number is shown where the key takes a number (a port, a timeout); elsewhere it may be a secret
  // written without quotes (`apiKey: 1234…`), and only its type is
  const numericKey = issue.code !== 'invalid_type' || issue.expected === 'number' || issue.expected === 'int';
  const shown =
    typeof received === 'string'
      ? JSON.stringify(received)
      : typeof received === 'boolean' || (typeof received === 'number' && numericKey)
        ? String(received)
        : typeof received;
  // worded as the REST API words a refused field (what is wrong, what to write), without the value:
  // the line ends with it, shown as above (a number may be a secret written without quotes)
  const text = describeZodIssue(configSchema, value, issue).message.replace(/\.$/, '');
  // a value the words already quote (`unknown value "xml"; use one of …`) is not said twice
  const told = typeof received === 'string' && text.includes(shown);
  throw configError(source, `${where}: ${text}${told ? '' : ` (got ${shown})`}.`);
}

/** The file types a module of settings or toolkits may be: what Node.js imports (TypeScript by type stripping). */
const MODULE_TYPES = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'] as const;

/** The file types a config file may be. */
const CONFIG_FILE_TYPES = [...MODULE_TYPES, '.json'] as const;

/** The types of `types` as words: ".ts, .mts or .json". */
function typesText(types: readonly string[]): string {
  return `${types.slice(0, -1).join(', ')} or ${types.at(-1)}`;
}

/**
 * The config file to read: `--config`, else the one of {@link CONFIG_FILE_NAMES} in `cwd`, if any.
 * `--config` naming a directory, or a file of a type toolmux does not read, is `CONFIG_INVALID` naming
 * the path and what to name instead.
 */
export function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    const what = `--config ${explicit}`;
    if (!existsSync(file)) {
      throw configError(what, `no such file (${file}). Check the path, relative to the working directory.`);
    }
    if (statSync(file).isDirectory()) {
      const inside = CONFIG_FILE_NAMES.find((name) => existsSync(resolve(file, name)));
      throw configError(
        what,
        `${file} is a directory: --config names the config file itself${inside ? `: --config ${join(explicit, inside)}` : ` (e.g. --config ${join(explicit, 'toolmux.config.json')})`}.`,
      );
    }
    const type = extname(file).toLowerCase();
    if (!(CONFIG_FILE_TYPES as readonly string[]).includes(type)) {
      throw configError(
        what,
        `toolmux does not read ${type ? `a ${type} file` : 'a file without a type'} (${file}): a config file is JSON (.json) or a module whose default export is the settings (${typesText(MODULE_TYPES)}). Write the settings as toolmux.config.json, for example.`,
      );
    }
    return file;
  }
  const found = CONFIG_FILE_NAMES.filter((name) => existsSync(resolve(cwd, name)));
  if (found.length > 1) {
    throw configError(
      cwd,
      `found ${found.join(' and ')}; keep one, or name the one to use with --config <file>.`,
    );
  }
  return found[0] === undefined ? undefined : resolve(cwd, found[0]);
}

/** `import()` of a file or package, with one-line errors that name the module and the fix. */
export async function importModule(specifier: string, from: string, what: string): Promise<unknown> {
  let url: string;
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const file = resolve(from, specifier);
    if (!existsSync(file)) {
      throw configError(what, `no such file (${file}). Check the path (relative to ${from}).`);
    }
    if (statSync(file).isDirectory()) {
      throw configError(
        what,
        `${file} is a directory: name the module file in it (${typesText(MODULE_TYPES)}).`,
      );
    }
    url = pathToFileURL(file).href;
  } else {
    try {
      url = pathToFileURL(createRequire(resolve(from, 'noop.js')).resolve(specifier)).href;
    } catch {
      throw configError(
        what,
        `cannot find package "${specifier}" from ${from}. Install it, or write a path starting with ./`,
      );
    }
  }
  if (/\.[mc]?ts$/.test(url) && !(process.features as { typescript?: unknown }).typescript) {
    throw configError(
      what,
      `loading TypeScript needs type stripping, on by default from Node.js 22.18 (this is ${process.version}${process.execArgv.length ? ` with ${process.execArgv.join(' ')}` : ''}); upgrade Node.js, run with NODE_OPTIONS=--experimental-strip-types, or use a .mjs / .js / .json file.`,
    );
  }
  try {
    return await import(url);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (code === 'ERR_MODULE_NOT_FOUND') {
      throw configError(what, `it imports something that cannot be found: ${message}`);
    }
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw configError(
        what,
        `Node.js ${process.version} cannot load this file type (${message}): a module is ${typesText(MODULE_TYPES)}.`,
      );
    }
    throw configError(what, `failed to load: ${error instanceof Error ? `${error.name}: ` : ''}${message}`);
  }
}

/**
 * The toolkits a module exports: its default export or `toolkits` (a toolkit or an array of them),
 * else every named export that is a toolkit or an array of toolkits (so `@toolmux/toolkits` works).
 */
export function toolkitsOfModule(loaded: unknown, what: string): Toolkit[] {
  const exports = loaded as Record<string, unknown>;
  const listOf = (value: unknown): Toolkit[] | undefined => {
    if (isToolkit(value)) return [value];
    if (Array.isArray(value) && value.length > 0 && value.every(isToolkit)) return value;
    return undefined;
  };
  const chosen = listOf(exports.default) ?? listOf(exports.toolkits);
  if (chosen) return chosen;
  const bySlug = new Map<string, Toolkit>();
  for (const value of Object.values(exports)) {
    for (const toolkit of listOf(value) ?? [])
      if (!bySlug.has(toolkit.slug)) bySlug.set(toolkit.slug, toolkit);
  }
  if (bySlug.size > 0) return [...bySlug.values()];
  throw configError(
    what,
    'exports no toolkits: export a toolkit (defineToolkit) or an array of them as the default export or as "toolkits".',
  );
}

/** How long a config file's default export that is a Promise may take to settle. */
export const CONFIG_PROMISE_TIMEOUT_MS = 30_000;

/** A config file as read: toolkits named by module path are loaded. */
export type LoadedConfig = Omit<ToolMuxConfig, 'toolkits'> & { toolkits?: Toolkit[] };

/** Reads and checks a config file; toolkits named by module path are loaded (relative to the file). */
export async function loadConfigFile(
  file: string,
  { promiseTimeoutMs = CONFIG_PROMISE_TIMEOUT_MS }: { promiseTimeoutMs?: number } = {},
): Promise<LoadedConfig> {
  const name = basename(file);
  let raw: unknown;
  if (file.endsWith('.json')) {
    const { readFileSync } = await import('node:fs');
    try {
      // a byte order mark (Windows Notepad saves one) is no part of the JSON
      raw = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    } catch (error) {
      throw configError(name, `not valid JSON: ${(error as Error).message}`);
    }
  } else {
    const loaded = (await importModule(file, dirname(file), name)) as { default?: unknown };
    raw = loaded.default;
    // `export default (async () => ({ … }))()`: the config is what it resolves to
    if (typeof (raw as { then?: unknown } | null)?.then === 'function') {
      try {
        // bounded, as opening the store is: a secret store that never answers must not hold the start
        raw = await withDeadline(raw as PromiseLike<unknown>, promiseTimeoutMs, () =>
          configError(
            name,
            `its default export is a Promise that did not settle within ${promiseTimeoutMs} ms: what it waits for (a secret store, a request) does not answer.`,
          ),
        );
      } catch (error) {
        if (ToolMuxError.isInstance(error) && error.code === 'CONFIG_INVALID') throw error;
        throw configError(
          name,
          `its default export is a Promise that failed: ${error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error)}`,
        );
      }
    }
  }
  const config = validateConfig(raw, name);
  if (!config.toolkits) return config as LoadedConfig;
  const toolkits: Toolkit[] = [];
  for (const [index, entry] of config.toolkits.entries()) {
    if (typeof entry !== 'string') {
      toolkits.push(entry);
      continue;
    }
    const what = `${name}: toolkits[${index}] "${entry}"`;
    toolkits.push(...toolkitsOfModule(await importModule(entry, dirname(file), what), what));
  }
  return { ...config, toolkits };
}
