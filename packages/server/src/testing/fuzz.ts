import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineTool, defineToolkit, type Logger, ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { z } from 'zod';
import {
  AttachWire,
  ExecuteMetaWire,
  ExecuteWire,
  LinkWire,
  PageQuery,
  ProxyWire,
  SearchWire,
  ToolkitsQuery,
} from '../composio/composio-api.js';
import { CreateSessionWire, UpdateSessionWire } from '../composio/config.js';
import { createServer, type RunningServer } from '../server.js';

/**
 * A seeded fuzzer for the toolmux server: every REST operation of the served OpenAPI document, the
 * routes of the Composio-compatible API (`/api/v3.1`, `/api/v3`; see {@link composioPaths}), the
 * MCP endpoint and tool arguments get wrong types, huge and deeply nested values, NUL, lone
 * surrogates, control characters, prototype keys, wrong content types, broken JSON and JSON-RPC
 * batches. It checks that no response is a 5xx, that the server keeps answering and logs no
 * unexpected error, that the victims' data (two users whose ids a careless store would fold into
 * near-duplicates) is unchanged, and that every tool call ran with its own user's key. The victims'
 * ids go only to routes that change nothing; the routes that change or delete things get the ids of
 * a third user's sessions, accounts, auth configs and connection requests (the fodder), so that they
 * too are reached past their lookup. The report counts answers per operation: one that never gets a
 * 2xx is one the generator does not reach.
 *
 * Used by `server.fuzz.test.ts` (a fixed number of cases, seeded, on SQLite and PostgreSQL) and by
 * `bench/fuzz.bench.ts` (a longer run). Not exported from `@toolmux/server/test`.
 */

const API_KEY = `fuzz-api-key-${randomBytes(12).toString('hex')}`;
/** Two users whose ids differ from the near-duplicates the fuzzer sends only where a store could fold them. */
export const VICTIMS = ['alice', '\ufffdv1'] as const;

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/**
 * A value nested `depth` levels deep. Deep values stay markers until they are written out (see
 * {@link toJson}): building and stringifying them as objects would overflow this process's stack.
 */
function deep(kind: 'array' | 'object', depth: number, key = 'a'): string {
  return `\u0001DEEP:${kind}:${depth}:${key}`;
}

/** JSON text of a fuzz value, with deep markers expanded. */
function toJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    /"\\u0001DEEP:(array|object):(\d+):([\w$]*)"/g,
    (_, kind: string, depth: string, key: string) => {
      const levels = Number(depth);
      return kind === 'array'
        ? `${'['.repeat(levels)}"x"${']'.repeat(levels)}`
        : `${`{"${key}":`.repeat(levels)}"x"${'}'.repeat(levels)}`;
    },
  );
}

/** Strings that break stores, parsers and naive comparisons. Never a victim's exact id or a real id. */
const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'ses_\u0000',
  'ca_\u0000',
  'ac_\u0000',
  'cr_\u0000',
  'log_\u0000',
  '\ud800',
  '\udc00',
  '\ud800v1',
  '\udc00v1',
  'v1\ud800',
  'alice\u0000',
  'alice\ud800',
  'Alice',
  'alice ',
  'u\u001b[31m',
  'u\u0085',
  'line\r\nX-Injected: 1',
  '\u202eevil',
  '\uffff',
  '😀',
  'x'.repeat(257),
  'x'.repeat(5_000),
  'x'.repeat(200_000),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '../../../etc/passwd',
  '%00',
  '%ED%A0%80',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  'log_ZZZ',
  'ses_00000000000000000000000000000000000000',
  'TASKS_LIST_TASKS\u0000',
  'MAIL_SEND_EMAIL',
  'TOOLMUX_MULTI_EXECUTE_TOOL',
  'GET',
  'TRACE',
  'null',
  'true',
  '1e309',
  '-1',
];

function protoObject(): unknown {
  return JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}');
}

/** Any JSON value, nasty ones likely. */
function nastyValue(random: Random): unknown {
  switch (random.int(16)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return random.pick(NASTY_STRINGS);
    case 4:
      return random.pick([0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 1e-320]);
    case 5:
      return random.pick([true, false, null]);
    case 6:
      return random.pick([[], {}, [null], [[]], [{}]]);
    case 7:
      return deep('array', random.pick([50, 129, 200, 3_000, 5_000, 20_000]));
    case 8:
      return deep(
        'object',
        random.pick([50, 129, 200, 3_000, 5_000, 20_000]),
        random.pick(['a', '__proto__', 'properties']),
      );
    case 9:
      return protoObject();
    case 10:
      return Object.fromEntries(Array.from({ length: random.pick([100, 10_000]) }, (_, i) => [`k${i}`, i]));
    case 11:
      return Array.from({ length: random.pick([10, 1_000, 50_000]) }, () =>
        random.pick(NASTY_STRINGS.slice(0, 20)),
      );
    case 12:
      return { [random.pick(NASTY_STRINGS)]: random.pick(NASTY_STRINGS) };
    case 13:
      return [random.pick(NASTY_STRINGS), random.pick(NASTY_STRINGS)];
    case 14:
      return { type: 'object', properties: { a: deep('object', random.pick([10, 3_000, 5_000]), 'items') } };
    default:
      return random.pick(NASTY_STRINGS).repeat(random.pick([1, 2, 100]));
  }
}

type Json = Record<string, unknown>;

/** What the fuzzer knows of the world: ids it may use in bodies and in harmless routes. */
interface Fixture {
  /** The victims' sessions (harmless routes and the MCP endpoint only). */
  sessions: Array<{ id: string; user: string; token: string }>;
  /** The victims' auth configs and accounts. */
  authConfigIds: string[];
  accountIds: string[];
  echoToolkit: string;
  /**
   * What {@link FODDER} owns: real ids that the routes which change or delete things may be given
   * (the victims' ids never are), so that those routes are reached past their lookup too.
   */
  fodder: {
    sessionIds: string[];
    authConfigIds: string[];
    accountIds: string[];
    connectionRequestIds: string[];
    /** The fodder's sessions with their MCP tokens, for the MCP endpoint. */
    mcp: Array<{ id: string; token: string }>;
    /** Log entries of calls in the fodder's sessions (TOOLMUX_MULTI_EXECUTE_TOOL ones included). */
    logIds: string[];
  };
}

/** A user who is not a victim, whose sessions, auth configs and accounts the fuzzer may change. */
const FODDER = 'fuzz-fodder';
/** A custom tool the client runs (a session of the fodder declares it): client log entries name it. */
const CLIENT_TOOL = {
  slug: 'FUZZ_CLIENT_NOTE',
  name: 'Note',
  description: 'Keeps a note on the client.',
  toolkit: '',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  annotations: {},
  tags: [],
};

/** Keys of a record (an object schema with `additionalProperties` only), by the record's name. */
const RECORD_KEYS: Record<string, readonly string[]> = {
  authConfigs: ['mail', 'echoapi', 'tasks'],
  connectedAccounts: ['mail', 'echoapi', 'tasks'],
  tools: ['mail', 'tasks', 'echoapi'],
  credentials: ['apiKey'],
  metadata: ['k', 'victim'],
};
/** The name a record's values are filled by (see the names {@link exampleOf} knows). */
const RECORD_VALUE_NAMES: Record<string, string> = {
  authConfigs: 'auth_config_id',
  connectedAccounts: 'connected_account_id',
};

/** A number the schema accepts: a bound when it is a small one, else a small ordinary value. */
function numberOf(schema: Json, random: Random): number {
  const minimum = typeof schema.minimum === 'number' ? schema.minimum : -Infinity;
  const maximum = typeof schema.maximum === 'number' ? schema.maximum : Infinity;
  const candidates = [minimum, maximum, 1, 2, 5, 100, 10_000].filter(
    (value) => Number.isFinite(value) && Math.abs(value) <= 1e6 && value >= minimum && value <= maximum,
  );
  return candidates.length > 0 ? random.pick(candidates) : Number.isFinite(minimum) ? minimum : 1;
}

/** A plausible value for a schema, with names the fixture knows filled from it. */
function exampleOf(
  schema: unknown,
  doc: Json,
  name: string,
  fixture: Fixture,
  random: Random,
  depth = 0,
): unknown {
  let current = schema as Json | undefined;
  if (!current || depth > 8) return undefined;
  if (typeof current.$ref === 'string') {
    const ref = current.$ref.replace('#/components/schemas/', '');
    current = ((doc.components as Json).schemas as Json)[ref] as Json;
  }
  const variants = (current.anyOf ?? current.oneOf) as unknown[] | undefined;
  if (variants) return exampleOf(random.pick(variants), doc, name, fixture, random, depth + 1);
  if (Array.isArray(current.enum)) return random.pick(current.enum);
  if ('const' in current) return current.const;
  if (Array.isArray(current.type)) current = { ...current, type: random.pick(current.type) };
  switch (name) {
    case 'user_id':
      return random.pick(['fuzz-user', 'fuzz-user-2', FODDER]);
    case 'auth_config_id':
      return random.pick([...fixture.authConfigIds, ...fixture.fodder.authConfigIds]);
    case 'connected_account_id':
    case 'account': // an execute's account: one of the session's user, or another's
      return random.pick([...fixture.accountIds, ...fixture.fodder.accountIds]);
    case 'session_id':
      return random.pick([...fixture.sessions.map((session) => session.id), ...fixture.fodder.sessionIds]);
    case 'log_id':
    case 'parent_id':
      return random.chance(0.9) && fixture.fodder.logIds.length > 0
        ? random.pick(fixture.fodder.logIds)
        : 'log_0';
    case 'timeout_seconds': // a wait of its own length would hold a worker for up to a minute
      return random.pick([0, 0.05]);
    case 'expected_version':
      return random.pick([1, 2, 3]);
    case 'inputSchema':
    case 'outputSchema':
      return random.pick([
        { type: 'object', properties: {} },
        { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      ]);
    case 'toolkit':
    case 'toolkit_slug':
      return random.pick(['mail', 'tasks', fixture.echoToolkit, 'custom']);
    case 'slug': // the meta-tool of a Composio execute_meta
      return random.pick(['COMPOSIO_SEARCH_TOOLS', 'COMPOSIO_MULTI_EXECUTE_TOOL', 'TOOLMUX_SEARCH_TOOLS']);
    case 'use_case':
      return random.pick(['list my tasks', 'send an email']);
    case 'tool_slug':
      return random.pick([
        'TASKS_LIST_TASKS',
        'TASKS_CREATE_TASK',
        'MAIL_SEND_EMAIL',
        'ECHOAPI_PING',
        CLIENT_TOOL.slug,
      ]);
    case 'endpoint':
      return '/echo';
    case 'error_code':
      return 'TOOL_ABORTED'; // the one kind of client log entry a session without client tools takes
    case 'callback_url':
      return 'http://localhost:8787/connect/done';
    case 'type':
      if (!current.enum) break;
  }
  switch (current.type) {
    case 'object': {
      const out: Json = {};
      const values = current.additionalProperties;
      if (!current.properties && values && typeof values === 'object' && random.chance(0.7)) {
        // a record (per toolkit, credentials, metadata): a key or two it plausibly has
        const keys = RECORD_KEYS[name] ?? ['k'];
        for (let count = 1 + random.int(2); count > 0; count--) {
          const value = exampleOf(values, doc, RECORD_VALUE_NAMES[name] ?? name, fixture, random, depth + 1);
          if (value !== undefined) out[random.pick(keys)] = value;
        }
        return out;
      }
      const properties = (current.properties ?? {}) as Json;
      const required = new Set((current.required ?? []) as string[]);
      // sparse now and then: the Composio-compatible schemas have many optional fields toolmux
      // refuses, and one of them in every example would keep the routes from running
      const rate = random.pick([0.1, 0.4]);
      for (const [key, property] of Object.entries(properties)) {
        if (required.has(key) || key === 'timeout_seconds' || random.chance(rate)) {
          const value = exampleOf(property, doc, key, fixture, random, depth + 1);
          if (value !== undefined) out[key] = value;
        }
      }
      return out;
    }
    case 'array':
      return random.chance(0.5) && !(Number(current.minItems) > 0)
        ? []
        : [exampleOf(current.items, doc, name === 'toolkits' ? 'toolkit' : name, fixture, random, depth + 1)];
    case 'integer':
    case 'number':
      return numberOf(current, random);
    case 'boolean':
      return random.chance(0.5);
    case 'string':
      if (current.format === 'uri') return 'http://localhost:8787/connect/done';
      if (current.format === 'date-time') return new Date().toISOString();
      return typeof current.pattern === 'string' ? 'log_0' : `fuzz-${name}`;
    case 'null':
      return null;
  }
  return {};
}

/** A value a query parameter plausibly has (lists are comma-separated), or undefined for none. */
function queryValueOf(name: string, schema: unknown, doc: Json, fixture: Fixture, random: Random): unknown {
  const list = (items: readonly string[]) =>
    [...new Set(Array.from({ length: 1 + random.int(2) }, () => random.pick(items)))].join(',');
  switch (name) {
    case 'user_ids': // the victims' too: reading is harmless, and must show them only their own
      return list(['fuzz-user', FODDER, ...VICTIMS]);
    case 'user_id':
      return random.pick(['fuzz-user', FODDER, ...VICTIMS]);
    case 'toolkits':
    case 'toolkit':
      return list(['mail', 'tasks', fixture.echoToolkit, 'custom']);
    case 'statuses':
      return list(['ACTIVE', 'INACTIVE', 'INITIATED', 'EXPIRED', 'FAILED']);
    case 'auth_config_ids':
      return list([...fixture.authConfigIds, ...fixture.fodder.authConfigIds]);
    case 'session_id':
      return random.pick([...fixture.sessions.map((session) => session.id), ...fixture.fodder.sessionIds]);
    case 'parent_id':
      return fixture.fodder.logIds.length > 0 ? random.pick(fixture.fodder.logIds) : undefined;
    case 'search':
      return random.pick(['mail', 'TASK', 'echo']);
    case 'cursor':
      return undefined; // only a page's next_cursor is one
  }
  return schema === undefined ? undefined : exampleOf(schema, doc, name, fixture, random);
}

/** Replaces a random node of `value` (or adds a key) with a nasty value. */
function mutate(value: unknown, random: Random): unknown {
  if (value === null || typeof value !== 'object' || random.chance(0.15)) return nastyValue(random);
  const copy: Json | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Json) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || random.chance(0.2)) {
    const key = random.pick(['__proto__', 'constructor', 'extra', random.pick(NASTY_STRINGS)]);
    if (Array.isArray(copy)) copy.push(nastyValue(random));
    else
      Object.defineProperty(copy, key, {
        value: nastyValue(random),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return copy;
  }
  const key = random.pick(keys);
  (copy as Json)[key] = mutate((copy as Json)[key], random);
  return copy;
}

/** A request the fuzzer sends. */
interface FuzzCase {
  label: string;
  /** The operation: method and path template. */
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Percent-encodes a path segment; lone surrogates (which `encodeURIComponent` refuses) as broken UTF-8. */
function segment(value: string): string {
  if (value.startsWith('%')) return value; // already raw
  return [...value]
    .map((char) => {
      const unit = char.charCodeAt(0);
      if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff)
        return `%ED%${(0xa0 + ((unit >> 6) & 0x1f)).toString(16).toUpperCase()}%80`;
      return encodeURIComponent(char);
    })
    .join('');
}

const RAW_BODIES: ReadonlyArray<[string, string]> = [
  ['broken json', '{"a":'],
  [
    'json with NUL escape',
    '{"user_id":"u\\u0000","tool_slug":"TASKS_LIST_TASKS\\u0000","config":{"metadata":{"k":"\\u0000"}}}',
  ],
  [
    'json with lone surrogates',
    '{"user_id":"\\ud800v1","tool_slug":"\\udc00","toolkit":"\\ud800","config":{"metadata":{"\\ud800":"\\udc00"}}}',
  ],
  ['deep raw array', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
  ['deep raw object', `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`],
  ['unclosed deep', '['.repeat(200_000)],
  ['proto keys', '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}},"user_id":"fuzz-user"}'],
  ['duplicate keys', '{"user_id":"fuzz-user","user_id":"alice\\u0000"}'],
  ['top-level array', '[1,2,3]'],
  ['top-level string', '"text"'],
  ['top-level null', 'null'],
  ['number overflow', '{"limit":1e999,"expected_version":1e999}'],
  ['whitespace', '   \n\t  '],
  ['bom', '\ufeff{}'],
  ['invalid utf-8', '\u00ff\u00fe{"a":1}'],
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/vnd.api+json',
  'application/json; charset=latin1',
  '',
];

/**
 * The routes of the Composio-compatible API (which the OpenAPI document does not list), as OpenAPI
 * path items built from the schemas the routes parse their requests with, under both prefixes.
 */
function composioPaths(): Json {
  const operation = (options: { body?: z.ZodType; query?: z.ZodObject }): Json => ({
    parameters: options.query ? Object.keys(options.query.shape).map((name) => ({ name, in: 'query' })) : [],
    ...(options.body
      ? {
          requestBody: {
            content: {
              'application/json': {
                schema: z.toJSONSchema(options.body, { io: 'input', unrepresentable: 'any' }),
              },
            },
          },
        }
      : {}),
  });
  const paths: Json = {};
  for (const prefix of ['/api/v3.1', '/api/v3']) {
    const base = `${prefix}/tool_router/session`;
    paths[base] = { post: operation({ body: CreateSessionWire }) };
    paths[`${base}/{sessionId}`] = {
      get: operation({}),
      patch: operation({ body: UpdateSessionWire }),
      delete: operation({}),
    };
    paths[`${base}/{sessionId}/attach`] = { post: operation({ body: AttachWire }) };
    paths[`${base}/{sessionId}/tools`] = { get: operation({ query: PageQuery }) };
    paths[`${base}/{sessionId}/execute`] = { post: operation({ body: ExecuteWire }) };
    paths[`${base}/{sessionId}/execute_meta`] = { post: operation({ body: ExecuteMetaWire }) };
    paths[`${base}/{sessionId}/search`] = { post: operation({ body: SearchWire }) };
    paths[`${base}/{sessionId}/link`] = { post: operation({ body: LinkWire }) };
    paths[`${base}/{sessionId}/toolkits`] = { get: operation({ query: ToolkitsQuery }) };
    paths[`${base}/{sessionId}/proxy_execute`] = { post: operation({ body: ProxyWire }) };
  }
  paths['/api/v3.1/connected_accounts/{accountId}'] = { get: operation({}) };
  return paths;
}

/** Builds the cases of one run from the served OpenAPI document. */
function buildCases(doc: Json, fixture: Fixture, random: Random, count: number): FuzzCase[] {
  const operations: Array<{ method: string; path: string; operation: Json }> = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const [method, operation] of Object.entries(item as Json)) {
      if (['get', 'post', 'patch', 'delete', 'put'].includes(method))
        operations.push({ method, path, operation: operation as Json });
    }
  }
  const mcpOperations = operations.filter(
    ({ method, path }) => method === 'post' && path.startsWith('/mcp/'),
  );
  const session = () => random.pick(fixture.sessions);
  const json = toJson;
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    // the MCP endpoint is one operation of ~70 but takes every tool and meta-tool: a tenth of the cases
    const { method, path, operation } =
      random.chance(0.1) && mcpOperations.length > 0 ? random.pick(mcpOperations) : random.pick(operations);
    const mcp = path.startsWith('/mcp/');
    // the MCP endpoint: the victims' sessions, or the fodder's (Composio's names, direct tools)
    const target = mcp ? (random.chance(0.7) ? session() : random.pick(fixture.fodder.mcp)) : undefined;
    // path parameters: a nasty value, or (only where nothing is changed) a real id
    const harmless =
      method === 'get' ||
      /\/(execute|execute_meta|search|proxy|proxy_execute|tools\/list|authorize|link|attach)$/.test(path) ||
      mcp;
    const { fodder } = fixture;
    const resolved = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (mcp && random.chance(0.8)) return target!.id;
      if (harmless && random.chance(0.5)) {
        if (name === 'sessionId') return random.chance(0.8) ? session().id : random.pick(fodder.sessionIds);
        if (name === 'authConfigId') return random.pick(fixture.authConfigIds);
        if (name === 'connectedAccountId' || name === 'accountId') return random.pick(fixture.accountIds);
        if (name === 'slug') return random.pick(['mail', 'tasks']);
        if (name === 'connectionRequestId') return random.pick(fixture.fodder.connectionRequestIds);
      }
      // the routes that change things get the fodder's ids (deletions and token rotations seldom, so
      // that the fodder and its MCP tokens last)
      if (!harmless && random.chance(method === 'delete' || path.endsWith('/rotate') ? 0.02 : 0.4)) {
        const ids =
          name === 'sessionId'
            ? fodder.sessionIds
            : name === 'authConfigId'
              ? fodder.authConfigIds
              : name === 'connectedAccountId' || name === 'accountId'
                ? fodder.accountIds
                : name === 'connectionRequestId'
                  ? fodder.connectionRequestIds
                  : [];
        if (ids.length > 0) return random.pick(ids);
      }
      return segment(random.pick(NASTY_STRINGS.filter((value) => value.length < 10_000)));
    });
    const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
    if (mcp) {
      headers.authorization = random.chance(0.9)
        ? `Bearer ${target!.token}`
        : random.pick(['Bearer wrong', 'Basic x', `Bearer ${API_KEY}`]);
      headers.accept = random.pick([
        'application/json, text/event-stream',
        'application/json',
        '*/*',
        'text/html',
      ]);
      headers['mcp-protocol-version'] = random.pick([
        '2025-06-18',
        '2025-03-26',
        '2024-11-05',
        '1999-01-01',
        '2025-06-18',
      ]);
    } else if (random.chance(0.05)) {
      headers.authorization = random.pick([
        '',
        'Bearer',
        'Bearer wrong',
        `Bearer ${API_KEY}x`,
        `bearer ${API_KEY}`,
        `Bearer ${'x'.repeat(10_000)}`,
      ]);
    }
    // query parameters: declared ones with plausible or nasty values, unknown ones, repeated ones
    const query = new URLSearchParams();
    for (const parameter of (operation.parameters ?? []) as Json[]) {
      if (parameter.in === 'query' && random.chance(0.5)) {
        const name = parameter.name as string;
        const roll = random.next();
        const plausible = roll < 0.4 ? queryValueOf(name, parameter.schema, doc, fixture, random) : undefined;
        query.append(
          name,
          String(
            plausible ??
              (roll < 0.7
                ? random.pick(NASTY_STRINGS.filter((value) => value.length < 10_000))
                : random.pick([0, -1, 1, 1001, 'NaN', '1e3'])),
          ),
        );
      }
    }
    if (random.chance(0.1))
      query.append(
        random.pick(['__proto__', 'constructor', 'unknown', 'limit']),
        random.pick(['1', '\u0000', '\ud800']),
      );
    let search = query.toString();
    if (random.chance(0.05))
      search = random.pick([
        'limit=%00',
        'cursor=%ED%A0%80',
        'user_id=%00',
        'user_ids=a,%00',
        'limit=1&limit=2',
        '%%%',
      ]);
    let body: string | undefined;
    let label = `${method.toUpperCase()} ${path}`;
    const requestSchema = (
      ((operation.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as
        | Json
        | undefined
    )?.schema;
    if (mcp) {
      const call = () => {
        const name = random.pick([
          'TASKS_LIST_TASKS',
          'TASKS_CREATE_TASK',
          'MAIL_SEND_EMAIL',
          'TOOLMUX_SEARCH_TOOLS',
          'TOOLMUX_MULTI_EXECUTE_TOOL',
          'TOOLMUX_WORKBENCH',
          'COMPOSIO_MULTI_EXECUTE_TOOL',
          'COMPOSIO_REMOTE_WORKBENCH',
          'ECHOAPI_PING',
          random.pick(NASTY_STRINGS),
        ]);
        // workbench code that calls tools, now and then with another user's account
        const account = random.pick([...fixture.accountIds, ...fixture.fodder.accountIds]);
        const code = random.pick([
          'return 1',
          "return await toolmux.execute('ECHOAPI_PING', {})",
          `return await toolmux.execute('ECHOAPI_PING', {}, { account: ${JSON.stringify(account)} })`,
          `return await toolmux.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' }, { account: ${JSON.stringify(account)} })`,
          "return await toolmux.proxy({ toolkit: 'echoapi', endpoint: '/echo', method: 'GET' })",
        ]);
        const valid =
          name === 'TOOLMUX_WORKBENCH'
            ? { code }
            : name === 'COMPOSIO_REMOTE_WORKBENCH'
              ? { code_to_execute: code }
              : {
                  title: 'x',
                  query: 'x',
                  tools: [{ tool_slug: random.pick(['TASKS_LIST_TASKS', 'ECHOAPI_PING']), arguments: {} }],
                };
        const roll = random.next();
        const args = roll < 0.3 ? valid : roll < 0.7 ? mutate(valid, random) : nastyValue(random);
        return {
          jsonrpc: '2.0',
          id: random.pick([1, 'a', 0]),
          method: 'tools/call',
          params: { name, arguments: args },
        };
      };
      const message = () =>
        random.pick([
          () => ({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: {
              protocolVersion: '2025-06-18',
              capabilities: {},
              clientInfo: { name: 'fuzz', version: '1' },
            },
          }),
          () => ({
            jsonrpc: '2.0',
            id: 2,
            method: 'tools/list',
            params: random.chance(0.3) ? { cursor: random.pick(NASTY_STRINGS) } : {},
          }),
          call,
          call,
          () => mutate(call(), random),
          () => ({ jsonrpc: '2.0', method: 'notifications/initialized' }),
          () => ({
            jsonrpc: random.pick(['1.0', 2, null]),
            id: nastyValue(random),
            method: nastyValue(random),
          }),
          () => nastyValue(random),
        ])();
      const payload = random.chance(0.15) ? Array.from({ length: random.int(10) }, message) : message();
      body = json(payload);
      label = `MCP ${payload && typeof payload === 'object' && 'method' in (payload as Json) ? (typeof (payload as Json).method === 'string' ? (payload as Json).method : 'odd method') : Array.isArray(payload) ? 'batch' : 'message'}`;
      headers['content-type'] = random.chance(0.9) ? 'application/json' : random.pick(CONTENT_TYPES);
    } else if (requestSchema) {
      const example = exampleOf(requestSchema, doc, '', fixture, random);
      const roll = random.next();
      if (roll < 0.7) body = json(mutate(example, random));
      else if (roll < 0.8) body = json(example);
      else {
        const [raw, text] = random.pick(RAW_BODIES);
        body = text;
        label += ` (${raw})`;
      }
      headers['content-type'] = random.chance(0.85) ? 'application/json' : random.pick(CONTENT_TYPES);
    } else if (random.chance(0.1)) {
      body = json(nastyValue(random));
      headers['content-type'] = 'application/json';
    }
    if (!headers['content-type']) delete headers['content-type'];
    if (body !== undefined && random.chance(0.01)) body = 'x'.repeat(1_100_000); // over the body limit
    cases.push({
      label,
      route: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path: `${resolved}${search ? `?${search}` : ''}`,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    // the hosted connect pages and the OAuth callback, which the OpenAPI document does not list
    if (random.chance(0.05)) {
      const id = segment(random.pick(NASTY_STRINGS.filter((value) => value.length < 10_000)));
      // a page of a pending request of the fodder now and then, so that the form is read and sent
      const real = random.chance(0.3) ? random.pick(fixture.fodder.connectionRequestIds) : undefined;
      cases.push(
        random.pick<FuzzCase>([
          {
            label: 'GET /connect/{requestId}',
            route: 'GET /connect/{requestId}',
            method: 'GET',
            path: `/connect/${real ?? `cr_${id}`}`,
            headers: {},
          },
          {
            label: 'POST /connect/{requestId}',
            route: 'POST /connect/{requestId}',
            method: 'POST',
            path: `/connect/${real ?? id}`,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: `apiKey=${encodeURIComponent('k')}&${id}=${id}`,
          },
          {
            label: 'GET /auth/callback',
            route: 'GET /auth/callback',
            method: 'GET',
            path: `/auth/callback?state=${id}&code=${id}`,
            headers: {},
          },
          {
            label: 'GET /connect/done',
            route: 'GET /connect/done',
            method: 'GET',
            path: `/connect/done?status=${id}`,
            headers: {},
          },
        ]),
      );
    }
    // now and then, the same route with a method it does not have
    if (random.chance(0.02)) {
      const other = random.pick(['PUT', 'OPTIONS', 'HEAD']);
      cases.push({
        label: `${label} as ${other}`,
        route: `${other} ${path}`,
        method: other,
        path: resolved,
        headers,
      });
    }
  }
  return cases;
}

export interface FuzzOptions {
  /** A store spec: `:memory:`, a SQLite path or a PostgreSQL URL. */
  store: string;
  /** How many cases (a few more with wrong methods). */
  cases: number;
  seed: number;
  /** Requests in flight at once. @default 4 */
  concurrency?: number;
}

export interface FuzzReport {
  cases: number;
  /** Responses by status. */
  statuses: Record<number, number>;
  /** Responses by operation (method and path template), then by status. */
  routes: Record<string, Record<number, number>>;
  /** Responses to the Composio-compatible API's routes (`/api/v3.1`, `/api/v3`) by status. */
  composioStatuses: Record<number, number>;
  /** Every 5xx (and every request that failed without a response), with what was sent. */
  failures: Array<{
    label: string;
    method: string;
    path: string;
    status: number | 'no response';
    body: string;
  }>;
  /** Unexpected errors the server logged. */
  serverErrors: string[];
  /** What changed in the victims' data (empty when nothing did). */
  changed: string[];
  /** Tool calls that ran with another user's key. */
  crossed: string[];
  /** Whether the server still answered after the run. */
  alive: boolean;
}

/** Runs one seeded fuzz run against a server started in-process on loopback. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new Random(options.seed);
  const sample = createSampleToolkits();
  const echo = await startEcho();
  const echoCalls: Array<{ userId: string; apiKey: string | undefined }> = [];
  const ping = defineTool({
    slug: 'ECHOAPI_PING',
    description: 'Ping the echo API.',
    inputSchema: z.object({ text: z.string().optional() }),
    execute: (_input, context) => {
      echoCalls.push({ userId: context.userId, apiKey: context.credentials?.apiKey });
      return { ok: true };
    },
  });
  const echoToolkit = defineToolkit({
    slug: 'echoapi',
    description: 'An API that echoes requests.',
    baseUrl: echo.url,
    auth: { type: 'api_key', fields: [{ name: 'apiKey' }], placement: { in: 'header', name: 'X-API-Key' } },
    tools: [ping],
  });
  const serverErrors: string[] = [];
  const logger: Logger = { debug() {}, warn() {}, error: (message) => serverErrors.push(message) };
  const mux = new ToolMux({
    toolkits: [...sample.toolkits, echoToolkit],
    store: options.store,
    secretKey: randomBytes(32).toString('base64'),
    logger,
  });
  let running: RunningServer | undefined;
  try {
    const server = createServer({ toolmux: mux, apiKey: API_KEY, logger, sessionCacheTtlMs: 0 });
    running = await server.serve({ port: 0, hostname: '127.0.0.1' });
    // the victims: each has an account (unique key) on its own auth configs and a session using them
    const keyOwner = new Map<string, string>();
    const fixture: Fixture = {
      sessions: [],
      authConfigIds: [],
      accountIds: [],
      echoToolkit: 'echoapi',
      fodder: {
        sessionIds: [],
        mcp: [],
        authConfigIds: [],
        accountIds: [],
        connectionRequestIds: [],
        logIds: [],
      },
    };
    for (const [index, user] of VICTIMS.entries()) {
      const authConfigs: Record<string, string> = {};
      for (const toolkit of ['mail', 'echoapi']) {
        const config = await mux.authConfigs.create(toolkit, { type: 'api_key', name: `victim ${index}` });
        const key = `victim-key-${index}-${toolkit}-${randomBytes(6).toString('hex')}`;
        const account = await mux.connectedAccounts.create(user, config.id, { apiKey: key });
        keyOwner.set(key, user);
        authConfigs[toolkit] = config.id;
        fixture.authConfigIds.push(config.id);
        fixture.accountIds.push(account.id);
      }
      const session = await mux.create(user, { authConfigs, metadata: { victim: String(index) } });
      const token = session.mcp.headers.Authorization.replace(/^Bearer /, '');
      fixture.sessions.push({ id: session.sessionId, user, token });
    }
    // the fodder: the same, plus sessions in every preset, log entries and pending connection requests
    {
      const authConfigs: Record<string, string> = {};
      for (const toolkit of ['mail', 'echoapi', 'echoapi']) {
        const config = await mux.authConfigs.create(toolkit, { type: 'api_key', name: `fodder ${toolkit}` });
        const key = `fodder-key-${toolkit}-${randomBytes(6).toString('hex')}`;
        const account = await mux.connectedAccounts.create(FODDER, config.id, { apiKey: key });
        keyOwner.set(key, FODDER);
        authConfigs[toolkit] = config.id;
        fixture.fodder.authConfigIds.push(config.id);
        fixture.fodder.accountIds.push(account.id);
      }
      const configs = [
        { authConfigs },
        { authConfigs, metaToolNames: 'composio' as const, multiAccount: { enable: true } },
        { authConfigs, sessionPreset: 'DIRECT_TOOLS' as const, workbench: { autoOffloadThreshold: 1000 } },
        {},
        {},
      ];
      for (const config of configs) {
        const session = await mux.create(FODDER, config);
        fixture.fodder.sessionIds.push(session.sessionId);
        fixture.fodder.mcp.push({
          id: session.sessionId,
          token: session.mcp.headers.Authorization.replace(/^Bearer /, ''),
        });
        for (const result of [
          await session.execute('TASKS_LIST_TASKS', {}),
          await session.execute(
            config.metaToolNames === 'composio'
              ? 'COMPOSIO_MULTI_EXECUTE_TOOL'
              : 'TOOLMUX_MULTI_EXECUTE_TOOL',
            { tools: [{ tool_slug: 'ECHOAPI_PING', arguments: {} }] },
          ),
        ]) {
          if (result.logId) fixture.fodder.logIds.push(result.logId);
        }
        if (!config.authConfigs) {
          const request = await session.authorize('echoapi');
          fixture.fodder.connectionRequestIds.push(request.id);
        }
      }
    }
    const snapshot = async () => {
      const sessions = (await mux.sessions.list({ limit: 1000 })).items
        .filter((item) => (VICTIMS as readonly string[]).includes(item.userId))
        .map((item) =>
          JSON.stringify([item.sessionId, item.userId, item.configVersion, item.metadata, item.updatedAt]),
        );
      const accounts = (await mux.connectedAccounts.list({ userIds: [...VICTIMS], limit: 1000 })).items.map(
        (item) => JSON.stringify([item.id, item.userId, item.status, item.authConfigId, item.updatedAt]),
      );
      const configs = await Promise.all(
        fixture.authConfigIds.map(async (id) => JSON.stringify(await mux.authConfigs.get(id))),
      );
      return [...sessions, ...accounts, ...configs];
    };
    const before = await snapshot();

    // The requests of the setup go through server.fetch, not a socket: building the cases holds this
    // process (server and client) for seconds, and a keep-alive socket left idle meanwhile times out
    // on both sides at once, so the first case could be sent down a socket being closed (ECONNRESET).
    // a session of the fodder that declares a tool its client runs (as remote mode's custom tools)
    const declared = (await (
      await server.fetch(
        new Request(`${running.url}/api/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: FODDER, config: { experimental: { customTools: [CLIENT_TOOL] } } }),
        }),
      )
    ).json()) as { session_id: string; mcp: { headers: { Authorization: string } } };
    fixture.fodder.sessionIds.push(declared.session_id);
    fixture.fodder.mcp.push({
      id: declared.session_id,
      token: declared.mcp.headers.Authorization.replace(/^Bearer /, ''),
    });
    const doc = (await (
      await server.fetch(new Request(`${running.url}/api/v1/openapi.json`))
    ).json()) as Json;
    doc.paths = { ...(doc.paths as Json), ...composioPaths() };
    const cases = buildCases(doc, fixture, random, options.cases);
    const statuses: Record<number, number> = {};
    const composioStatuses: Record<number, number> = {};
    const routes: Record<string, Record<number, number>> = {};
    const failures: FuzzReport['failures'] = [];
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const fuzzCase = cases[next++]!;
        try {
          const response = await fetch(`${running!.url}${fuzzCase.path}`, {
            method: fuzzCase.method,
            headers: fuzzCase.headers,
            // a redirect (a connect form sent, to the app's callback) is the answer, not followed
            redirect: 'manual',
            ...(fuzzCase.body !== undefined && !['GET', 'HEAD'].includes(fuzzCase.method)
              ? { body: fuzzCase.body }
              : {}),
          });
          const text = await response.text();
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          routes[fuzzCase.route] ??= {};
          routes[fuzzCase.route]![response.status] = (routes[fuzzCase.route]![response.status] ?? 0) + 1;
          if (/^\/api\/v3(?:\.1)?\//.test(fuzzCase.path))
            composioStatuses[response.status] = (composioStatuses[response.status] ?? 0) + 1;
          if (response.status >= 500) {
            failures.push({ ...describe(fuzzCase), status: response.status, body: text.slice(0, 300) });
          }
        } catch (error) {
          failures.push({ ...describe(fuzzCase), status: 'no response', body: String(error) });
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));

    const after = await snapshot();
    const changed = [
      ...before.filter((item) => !after.includes(item)).map((item) => `gone or changed: ${item}`),
      ...after.filter((item) => !before.includes(item)).map((item) => `new or changed: ${item}`),
    ];
    const crossed: string[] = [];
    const mailCalls = sample.calls
      .filter((call) => call.slug === 'MAIL_SEND_EMAIL')
      .map((call) => ({ userId: call.context.userId, apiKey: call.context.credentials?.apiKey }));
    for (const call of [...mailCalls, ...echoCalls]) {
      const owner = call.apiKey === undefined ? undefined : keyOwner.get(call.apiKey);
      if (owner !== undefined && owner !== call.userId) {
        crossed.push(`user ${JSON.stringify(call.userId)} ran with the key of ${JSON.stringify(owner)}`);
      }
    }
    // each victim's session still runs with its own key
    for (const victim of fixture.sessions) {
      const from = echoCalls.length;
      const response = await fetch(`${running.url}/api/v1/sessions/${victim.id}/execute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tool_slug: 'ECHOAPI_PING', arguments: {} }),
      });
      const result = (await response.json()) as { successful?: boolean };
      const call = echoCalls[from];
      if (!result.successful || !call || keyOwner.get(call.apiKey ?? '') !== victim.user) {
        crossed.push(`victim ${JSON.stringify(victim.user)} no longer runs with its own key`);
      }
    }
    const alive = (
      await fetch(`${running.url}/api/v1/toolkits`, { headers: { authorization: `Bearer ${API_KEY}` } })
    ).ok;
    return {
      cases: cases.length,
      statuses,
      routes,
      composioStatuses,
      failures,
      serverErrors,
      changed,
      crossed,
      alive,
    };
  } finally {
    await running?.close();
    await mux.close();
    await new Promise<void>((done) => echo.server.close(() => done()));
  }
}

function describe(fuzzCase: FuzzCase): { label: string; method: string; path: string } {
  return {
    label: fuzzCase.label,
    method: fuzzCase.method,
    path: fuzzCase.path.length > 200 ? `${fuzzCase.path.slice(0, 200)}…` : fuzzCase.path,
  };
}

async function startEcho(): Promise<{ server: Server; url: string }> {
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ method: request.method, url: request.url }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
