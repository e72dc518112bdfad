import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Store, ToolMux } from '@toolmux/core';
import { openStore as openToolMuxStore } from '@toolmux/core/internal';
import { createSampleToolkits, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ExecuteWire,
  LinkWire,
  PageQuery,
  ProxyWire,
  SearchWire,
  ToolkitsQuery,
} from '../composio/composio-api.js';
import { CreateSessionWire, UpdateSessionWire } from '../composio/config.js';
import { createServer, type ToolMuxServer } from '../server.js';
import {
  ABSENT,
  arbitraryFor,
  edgeJson,
  edgeKey,
  edgeNumber,
  edgeString,
  fieldPaths,
  type Overrides,
  ownObject,
} from '../test-edge-values.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import {
  AuthorizeBody,
  CompleteConnectionRequestBody,
  CreateAuthConfigBody,
  CreateConnectedAccountBody,
  LinkConnectedAccountBody,
  ListAuthConfigsQuery,
  ListConnectedAccountsQuery,
  UpdateConnectedAccountBody,
} from './auth-schemas.js';
import { WaitForConnectionsBody } from './connection-wait-routes.js';
import {
  AddLogsBody,
  CreateSessionBody,
  ExecuteInSessionBody,
  ExecuteToolBody,
  ListLogsQuery,
  ListProjectLogsQuery,
  ListSessionsQuery,
  ListToolkitsQuery,
  ListToolsBody,
  OffloadBody,
  ProxyBody,
  SearchBody,
  SessionToolkitsQuery,
  ToolDeclarationSchema,
  UpdateSessionBody,
} from './schemas.js';

/**
 * Requests the REST API's own schemas ACCEPT, with edge values in every field (see
 * test-edge-values.ts), sent to a server on SQLite and on PostgreSQL (issue "Hardening"): no answer
 * is a 5xx; a 4xx names the field or value it refuses; a 2xx write reads back equal (strings
 * byte-identical, numbers equal, times equal to the ms). Also the MCP endpoint's tools/call and the
 * Composio-compatible session routes. Seeded and bounded for CI; TOOLMUX_EDGE_RUNS (runs per route
 * and store) and TOOLMUX_EDGE_SEED run it longer or elsewhere.
 */
const RUNS = Number(process.env.TOOLMUX_EDGE_RUNS ?? 100);
const SEED = Number(process.env.TOOLMUX_EDGE_SEED ?? 20261204);
/** Per test: two minutes, more for a long run on a busy machine. */
const TIMEOUT = Math.max(120_000, RUNS * 250);
const skipPostgres = await postgresSkipReason();

/** Removes ABSENT markers left in a generated value (the object builder drops them; unions may not). */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== ABSENT)
        .map(([key, item]) => [key, clean(item)]),
    );
  }
  return value;
}

/** Keys and string values of a request, for "the 4xx names the field or the value". */
function namesOf(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    if (value.length > 0) {
      into.add(value.slice(0, 24));
      into.add(JSON.stringify(value).slice(1, 25));
      // as core shows a value it names (shownValue: JSON, with DEL and C1 controls escaped too)
      into.add(
        JSON.stringify(value)
          .replace(/[\x7f-\x9f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
          .slice(1, 25),
      );
    }
  } else if (Array.isArray(value)) {
    for (const item of value.slice(0, 20)) namesOf(item, into);
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value).slice(0, 40)) {
      if (key.length > 1) {
        into.add(key.slice(0, 24));
        // core names a field in the SDK's words (call_id: callId)
        into.add(key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()));
      }
      namesOf(item, into);
    }
  }
  return into;
}

function queryString(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) params.append(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** JSON text with every object's keys sorted: equal for the same values, whatever the key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, item) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/**
 * The same JSON values: strings byte for byte, numbers as JSON writes them. (toStrictEqual compares
 * `constructor` properties as types, so two objects with a `constructor: []` key each differ.)
 */
function expectSameJson(actual: unknown, expected: unknown, what?: string): void {
  expect(canonicalJson(actual), what).toBe(canonicalJson(expected));
}

/** The arguments a tool received (its schema's fields, defaults added) are the ones sent, exactly. */
function expectArguments(received: unknown, sent: Record<string, unknown>) {
  for (const [key, value] of Object.entries((received ?? {}) as Record<string, unknown>)) {
    // as JSON: the MCP SDK's objects are not plain ones; the values are what counts
    if (Object.hasOwn(sent, key)) expectSameJson(value, sent[key], key);
  }
}

/** Credentials as the scheme keeps them: an empty optional field is no field. */
function given(credentials: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(credentials).filter(([, value]) => value !== ''));
}

interface Answer {
  status: number;
  json: any;
}

interface Context {
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  mcp(sessionId: string, token: string, body: unknown): Promise<Answer>;
  /** A session with the custom tool EDGE_TOOL declared (client logs name it). */
  remote: { session_id: string };
  /** A session of the sample toolkits. */
  local: { session_id: string; mcp: { headers: { Authorization: string } } };
  apiKeyConfig: string;
  /** A second store on the server's database, to read what the API does not answer (workbench files). */
  store: Store;
  offloaded: number;
  /** A session made through Composio's API. */
  composio: { session_id: string };
  calls: ReturnType<typeof createSampleToolkits>['calls'];
  sample: ReturnType<typeof createSampleToolkits>;
}

interface RouteCase {
  name: string;
  /** The schema the request part is derived from (its fields are the coverage). */
  schema: z.ZodType;
  part: 'body' | 'query';
  overrides?: Overrides;
  send(ctx: Context, value: any): Promise<{ request: unknown; answer: Answer }>;
  /** Read back what a 2xx wrote; throws (expect) on a difference. */
  readBack?(ctx: Context, value: any, answer: Answer): Promise<void>;
}

const tasksTool = fc.constantFrom(
  'TASKS_CREATE_TASK',
  'NOTES_CREATE_NOTE',
  'NOTES_SEARCH_NOTES',
  'TASKS_LIST_TASKS',
);
/** Arguments of the sample tools with edge values where their schemas take any. */
const toolArguments = fc.oneof(
  fc.record({ title: edgeString(1, 4096), labels: fc.array(edgeString(0, 64), { maxLength: 3 }) }),
  fc.record({
    text: edgeString(0, 4096),
    tags: fc.array(fc.record({ name: edgeString(0, 64) }), { maxLength: 3 }),
  }),
  fc.record({ query: edgeString(0, 256), limit: edgeNumber(1, 100, true) }),
  fc.dictionary(fc.string(), edgeJson(3), { maxKeys: 3 }),
);
/** A JSON Schema of an object whose properties, titles, defaults and bounds hold edge values. */
function edgeSchema(): fc.Arbitrary<Record<string, unknown>> {
  const property = fc.record(
    {
      type: fc.constantFrom('string', 'number', 'integer', 'boolean', 'array', 'object'),
      description: edgeString(0, 2000),
      title: edgeString(0, 200),
      default: edgeJson(2),
      examples: fc.array(edgeJson(2), { maxLength: 3 }),
      minimum: edgeNumber(),
      maximum: edgeNumber(),
      multipleOf: fc.constantFrom(5e-324, 1e-7, 0.1, 1e308),
      enum: fc.array(fc.oneof(edgeString(0, 64), edgeNumber()), { minLength: 1, maxLength: 4 }),
    },
    { requiredKeys: ['type'] },
  );
  return fc
    .record({
      properties: fc.array(fc.tuple(edgeKey(), property), { maxLength: 4 }).map(ownObject),
      description: edgeString(0, 1000),
    })
    .map((schema) => ({ type: 'object', ...schema }));
}

const known = (slugs: string[]) =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...slugs) }, { weight: 1, arbitrary: edgeString(1, 128) });
const sampleConfig: Overrides = {
  'config.toolkits': fc.constantFrom(['tasks'], ['tasks', 'notes'], { enable: ['mail'] }),
  'config.tools': fc.constant({ tasks: ['TASKS_CREATE_TASK', 'TASKS_LIST_TASKS'] }),
  'config.preload': fc.constant({ tools: ['TASKS_LIST_TASKS'] }),
  'config.authConfigs': fc.constant({}),
  'config.connectedAccounts': fc.constant({}),
  'config.experimental': fc.constant(undefined),
  'config.tags': fc.constantFrom(['readOnlyHint'], { disable: ['destructiveHint'] }),
  'config.manageConnections': fc.oneof(
    fc.boolean(),
    fc.record({
      callbackUrl: fc.constantFrom('https://example.com/cb', 'https://example.com/\u{10ffff}?q=\uffff'),
    }),
  ),
  'config.workbench.timeoutMs': edgeNumber(1, 600_000, true),
  'config.workbench.memoryMb': edgeNumber(16, 4096, true),
  'config.workbench.autoOffloadThreshold': edgeNumber(0, 2 ** 31, true),
  'config.multiAccount.maxAccountsPerToolkit': edgeNumber(2, 10, true),
};

/** Fields of a Composio session (create and update) that must name what exists, or are left out. */
const composioSessionOverrides: Overrides = {
  toolkits: fc.constantFrom(['tasks'], ['tasks', 'notes'], { enable: ['mail'] }),
  tools: fc.constant({ tasks: ['TASKS_CREATE_TASK', 'TASKS_LIST_TASKS'] }),
  auth_configs: fc.constant({}),
  connected_accounts: fc.constant({}),
  preload: fc.constant(ABSENT),
  toolkit_versions: fc.constant(ABSENT),
  'manage_connections.callback_url': fc.constantFrom(ABSENT, null, 'https://example.com/\u{10ffff}?q=\uffff'),
  'workbench.sandbox_size': fc.constant(ABSENT),
  'workbench.auto_offload_threshold': edgeNumber(0, 2 ** 31),
  'multi_account.max_accounts_per_toolkit': edgeNumber(2, 10, true),
};

/** What a session's GET answers for metadata: exactly the labels sent. */
async function expectSession(ctx: Context, id: string, written: Answer, metadata: unknown) {
  const read = await ctx.call('GET', `/api/v1/sessions/${id}`);
  expect(read.status).toBe(200);
  expect(read.json.config).toEqual(written.json.config);
  expect(read.json.config_version).toBe(written.json.config_version);
  if (metadata !== undefined) expectSameJson(read.json.metadata, metadata);
}

const ROUTES: RouteCase[] = [
  {
    name: 'POST /api/v1/sessions',
    schema: CreateSessionBody,
    part: 'body',
    overrides: sampleConfig,
    send: async (ctx, body) => ({ request: body, answer: await ctx.call('POST', '/api/v1/sessions', body) }),
    readBack: async (ctx, body, answer) => {
      expect(answer.json.user_id).toBe(body.user_id);
      await expectSession(ctx, answer.json.session_id, answer, body.config?.metadata ?? {});
      const listed = await ctx.call(
        'GET',
        `/api/v1/sessions${queryString({ user_id: body.user_id, limit: 1 })}`,
      );
      expect(listed.json.items[0]?.session_id).toBe(answer.json.session_id);
      expectSameJson(listed.json.items[0]?.metadata, body.config?.metadata ?? {});
    },
  },
  {
    // the custom tools a remote SDK declares: their schemas are stored with the session config
    name: 'POST /api/v1/sessions (custom tools)',
    schema: CreateSessionBody,
    part: 'body',
    overrides: {
      ...sampleConfig,
      'config.toolkits': fc.constant(ABSENT),
      'config.tools': fc.constant(ABSENT),
      'config.preload': fc.constant(ABSENT),
      'config.tags': fc.constant(ABSENT),
      'config.experimental': fc
        .record({
          customTools: fc.array(
            arbitraryFor(ToolDeclarationSchema, {
              slug: fc.constant('EDGE'),
              toolkit: fc.constantFrom('', 'edge_kit'),
              inputSchema: edgeSchema(),
              outputSchema: fc.oneof(fc.constant(ABSENT), edgeSchema()),
            }),
            { minLength: 1, maxLength: 3 },
          ),
        })
        .map(({ customTools }) => ({
          customTools: customTools.map((tool: any, index) => ({ ...tool, slug: `EDGE_TOOL_${index}` })),
        })),
    },
    send: async (ctx, body) => ({ request: body, answer: await ctx.call('POST', '/api/v1/sessions', body) }),
    readBack: async (ctx, body, answer) => {
      await expectSession(ctx, answer.json.session_id, answer, body.config?.metadata ?? {});
      const tools = await ctx.call('GET', `/api/v1/sessions/${answer.json.session_id}/tools`);
      for (const tool of body.config?.experimental?.customTools ?? []) {
        const listed = tools.json.items.find(
          (item: any) => item.slug === tool.slug || item.slug.endsWith(tool.slug),
        );
        // (a tool's description is trimmed, as defineTool() trims it)
        if (listed) expect(listed.description).toBe(tool.description.trim());
      }
    },
  },
  {
    name: 'PATCH /api/v1/sessions/{id}',
    schema: UpdateSessionBody,
    part: 'body',
    overrides: { ...sampleConfig, expected_version: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('PATCH', `/api/v1/sessions/${ctx.local.session_id}`, body),
    }),
    readBack: async (ctx, body, answer) => {
      await expectSession(ctx, ctx.local.session_id, answer, body.config.metadata);
      // what was stored takes the next update: an empty one changes nothing
      const again = await ctx.call('PATCH', `/api/v1/sessions/${ctx.local.session_id}`, { config: {} });
      expect(again.status, JSON.stringify(again.json)).toBe(200);
      expect(again.json.config).toEqual(answer.json.config);
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/logs',
    schema: AddLogsBody,
    part: 'body',
    overrides: {
      'items.*.tool_slug': fc.oneof(
        { weight: 5, arbitrary: fc.constant('EDGE_TOOL') },
        { weight: 1, arbitrary: edgeString(1, 200) },
      ),
      'items.*.parent_id': fc.constant(ABSENT),
      'items.*.id': fc.oneof(
        { weight: 4, arbitrary: fc.constant(ABSENT) },
        { weight: 1, arbitrary: edgeString(0, 128) },
      ),
      'items.*.status': fc.constantFrom('success', 'error'),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.remote.session_id}/logs`, body),
    }),
    readBack: async (ctx, body, answer) => {
      // an entry the server refuses is refused alone (`refused`, naming it); the others are stored
      const refused: Array<{ index: number; code: string; message: string }> = answer.json.refused;
      for (const entry of refused) {
        expect(entry.code, entry.message).toMatch(/^[A-Z_]+$/);
        expect(entry.message).toMatch(new RegExp(`^Log entry ${entry.index}\\b`));
      }
      const refusedAt = new Set(refused.map((entry) => entry.index));
      const stored = body.items.filter((_: unknown, index: number) => !refusedAt.has(index));
      const ids: string[] = answer.json.ids;
      expect(ids).toHaveLength(stored.length);
      // newest first: the entries just written are the first page of their count (every run adds
      // to the log, so reading a fixed 1,000 made the test quadratic); later pages only if an entry
      // kept an older id of its own
      const byId = new Map<unknown, any>();
      let cursor: string | null = null;
      do {
        const query = queryString({ limit: Math.max(1, ids.length), ...(cursor ? { cursor } : {}) });
        const page = await ctx.call('GET', `/api/v1/sessions/${ctx.remote.session_id}/logs${query}`);
        expect(page.status).toBe(200);
        for (const item of page.json.items) byId.set(item.id, item);
        cursor = page.json.next_cursor;
      } while (cursor !== null && ids.some((id) => !byId.has(id)));
      stored.forEach((sent: any, index: number) => {
        const read: any = byId.get(ids[index]);
        expect(read, `entry ${ids[index]}`).toBeDefined();
        // (toolkit: the declared tool's, whatever the client sent)
        for (const field of [
          'tool_slug',
          'call_id',
          'status',
          'error_code',
          'error_message',
          'input',
          'output',
        ]) {
          expect(read[field], field).toBe(sent[field]);
        }
        expect(read.duration_ms, 'duration_ms').toBe(sent.duration_ms);
        expect(Date.parse(read.created_at), 'created_at').toBe(Date.parse(sent.created_at));
      });
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/execute',
    schema: ExecuteInSessionBody,
    part: 'body',
    overrides: {
      tool_slug: tasksTool,
      arguments: toolArguments,
      account: fc.constant(ABSENT),
      parent_id: fc.constant(ABSENT),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.local.session_id}/execute`, body),
    }),
    readBack: async (ctx, body, answer) => {
      if (answer.json.successful) expectArguments(ctx.calls.at(-1)?.input, body.arguments ?? {});
      const page = await ctx.call(
        'GET',
        `/api/v1/logs${queryString({ session_id: ctx.local.session_id, limit: 5 })}`,
      );
      const entry = page.json.items.find((item: any) => item.id === answer.json.log_id);
      expect(entry, answer.json.log_id).toBeDefined();
      expect(entry.call_id).toBe(body.call_id ?? null);
    },
  },
  {
    name: 'POST /api/v1/tools/execute',
    schema: ExecuteToolBody,
    part: 'body',
    overrides: { tool_slug: tasksTool, arguments: toolArguments, connected_account_id: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', '/api/v1/tools/execute', body),
    }),
    readBack: async (ctx, body, answer) => {
      const page = await ctx.call('GET', `/api/v1/logs${queryString({ user_id: body.user_id, limit: 5 })}`);
      const entry = page.json.items.find((item: any) => item.id === answer.json.log_id);
      expect(entry, answer.json.log_id).toBeDefined();
      expect(entry.user_id).toBe(body.user_id);
      expect(entry.call_id).toBe(body.call_id ?? null);
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/search',
    schema: SearchBody,
    part: 'body',
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.local.session_id}/search`, body),
    }),
  },
  {
    name: 'POST /api/v1/tools/list',
    schema: ListToolsBody,
    part: 'body',
    overrides: { 'filter.toolkits': fc.constantFrom(['tasks'], { disable: ['mail'] }) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', '/api/v1/tools/list', body),
    }),
  },
  {
    name: 'POST /api/v1/sessions/{id}/workbench/offload',
    schema: OffloadBody,
    part: 'body',
    overrides: {
      always: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.boolean() }),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.local.session_id}/workbench/offload`, body),
    }),
    readBack: async (ctx, body, answer) => {
      if (!answer.json.offloaded) return;
      ctx.offloaded++;
      // the file the workbench reads holds the result as sent
      const file = await ctx.store.getWorkbenchFile?.(ctx.local.session_id, answer.json.offloaded.path);
      expect(file, answer.json.offloaded.path).toBeDefined();
      expectSameJson(JSON.parse(file!.content), body.result);
      expect(file!.size).toBe(Buffer.byteLength(file!.content));
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/wait-for-connections',
    schema: WaitForConnectionsBody,
    part: 'body',
    overrides: {
      'toolkits.*': known(['tasks', 'mail']),
      timeout_seconds: fc.constantFrom(0, -0, 5e-324, 1e-7, 0.001, ABSENT).map((v) => (v === ABSENT ? 0 : v)),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.local.session_id}/wait-for-connections`, body),
    }),
  },
  {
    name: 'POST /api/v1/auth-configs',
    schema: CreateAuthConfigBody,
    part: 'body',
    overrides: { toolkit: known(['mail', 'tasks']) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', '/api/v1/auth-configs', body),
    }),
    readBack: async (ctx, body, answer) => {
      const read = await ctx.call('GET', `/api/v1/auth-configs/${answer.json.id}`);
      expectSameJson(read.json, answer.json);
      expect(read.json.name).toBe(body.name ?? null);
      if (body.type === 'oauth2') {
        expect(read.json.client_id).toBe(body.client_id ?? null);
        expectSameJson(read.json.scopes, body.scopes ?? null);
      }
      await ctx.call('DELETE', `/api/v1/auth-configs/${answer.json.id}`);
    },
  },
  {
    name: 'POST /api/v1/connected-accounts',
    schema: CreateConnectedAccountBody,
    part: 'body',
    overrides: {
      auth_config_id: fc.constant('$apiKeyConfig'),
      'credentials.{key}': fc.constantFrom('apiKey', '__proto__', 'constructor', 'extra\uffff'),
    },
    send: async (ctx, body) => {
      const request = { ...body, auth_config_id: ctx.apiKeyConfig };
      return { request, answer: await ctx.call('POST', '/api/v1/connected-accounts', request) };
    },
    readBack: async (ctx, body, answer) => {
      const read = await ctx.call('GET', `/api/v1/connected-accounts/${answer.json.id}`);
      expectSameJson(read.json, answer.json);
      expect(read.json.user_id).toBe(body.user_id);
      expect(read.json.alias).toBe(body.alias ?? null);
      // the credentials reach the tool as they were sent
      const run = await ctx.call('POST', '/api/v1/tools/execute', {
        tool_slug: 'MAIL_SEND_EMAIL',
        user_id: body.user_id,
        connected_account_id: answer.json.id,
        arguments: { to: 'a', subject: 'b', body: 'c' },
      });
      expect(run.json.successful, JSON.stringify(run.json)).toBe(true);
      expectSameJson(ctx.calls.at(-1)?.context.credentials, given(body.credentials));
      await ctx.call('DELETE', `/api/v1/connected-accounts/${answer.json.id}`);
    },
  },
  {
    name: 'PATCH /api/v1/connected-accounts/{id}',
    schema: UpdateConnectedAccountBody,
    part: 'body',
    send: async (ctx, body) => {
      const account = await ctx.call('POST', '/api/v1/connected-accounts', {
        user_id: `u_${randomBytes(4).toString('hex')}`,
        auth_config_id: ctx.apiKeyConfig,
        credentials: { apiKey: 'k' },
      });
      return {
        request: body,
        answer: await ctx.call('PATCH', `/api/v1/connected-accounts/${account.json.id}`, body),
      };
    },
    readBack: async (ctx, body, answer) => {
      const read = await ctx.call('GET', `/api/v1/connected-accounts/${answer.json.id}`);
      expectSameJson(read.json, answer.json);
      expect(read.json.alias).toBe(body.alias);
    },
  },
  {
    name: 'POST /api/v1/connected-accounts/link',
    schema: LinkConnectedAccountBody,
    part: 'body',
    overrides: { auth_config_id: fc.constant('$apiKeyConfig'), callback_url: fc.constant(ABSENT) },
    send: async (ctx, body) => {
      const request = { ...body, auth_config_id: ctx.apiKeyConfig };
      return { request, answer: await ctx.call('POST', '/api/v1/connected-accounts/link', request) };
    },
    readBack: async (ctx, body, answer) => {
      const read = await ctx.call('GET', `/api/v1/connection-requests/${answer.json.id}`);
      expectSameJson(read.json, answer.json);
      expect(read.json.user_id).toBe(body.user_id);
    },
  },
  {
    name: 'POST /api/v1/connection-requests/{id}/complete',
    schema: CompleteConnectionRequestBody,
    part: 'body',
    overrides: { 'credentials.{key}': fc.constantFrom('apiKey', '__proto__', 'constructor', 'extra\uffff') },
    send: async (ctx, body) => {
      const user = `u_${randomBytes(4).toString('hex')}`;
      const link = await ctx.call('POST', '/api/v1/connected-accounts/link', {
        user_id: user,
        auth_config_id: ctx.apiKeyConfig,
      });
      return {
        request: body,
        answer: await ctx.call('POST', `/api/v1/connection-requests/${link.json.id}/complete`, body),
      };
    },
    readBack: async (ctx, body, answer) => {
      expect(answer.json.status).toBe('ACTIVE');
      const run = await ctx.call('POST', '/api/v1/tools/execute', {
        tool_slug: 'MAIL_SEND_EMAIL',
        user_id: answer.json.user_id,
        connected_account_id: answer.json.id,
        arguments: { to: 'a', subject: 'b', body: 'c' },
      });
      expect(run.json.successful, JSON.stringify(run.json)).toBe(true);
      expectSameJson(ctx.calls.at(-1)?.context.credentials, given(body.credentials));
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/authorize',
    schema: AuthorizeBody,
    part: 'body',
    overrides: { toolkit: known(['mail']), callback_url: fc.constant(ABSENT) },
    send: async (ctx, body) => {
      const session = await ctx.call('POST', '/api/v1/sessions', {
        user_id: `u_${randomBytes(4).toString('hex')}`,
      });
      return {
        request: body,
        answer: await ctx.call('POST', `/api/v1/sessions/${session.json.session_id}/authorize`, body),
      };
    },
    readBack: async (ctx, _body, answer) => {
      const read = await ctx.call('GET', `/api/v1/connection-requests/${answer.json.id}`);
      expectSameJson(read.json, answer.json);
    },
  },
  {
    name: 'POST /api/v1/sessions/{id}/proxy',
    schema: ProxyBody,
    part: 'body',
    overrides: { toolkit: known(['mail', 'tasks']), connected_account_id: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v1/sessions/${ctx.local.session_id}/proxy`, body),
    }),
  },
  // Composio's Tool Router API (/api/v3.1)
  {
    name: 'POST /api/v3.1/tool_router/session',
    schema: CreateSessionWire,
    part: 'body',
    overrides: { ...composioSessionOverrides, experimental: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', '/api/v3.1/tool_router/session', body),
    }),
    readBack: async (ctx, _body, answer) => {
      const read = await ctx.call('GET', `/api/v3.1/tool_router/session/${answer.json.session_id}`);
      expectSameJson(read.json.config, answer.json.config);
    },
  },
  {
    name: 'PATCH /api/v3.1/tool_router/session/{id}',
    schema: UpdateSessionWire,
    part: 'body',
    // the session's user: read only, accepted only as GET answers it (sent back below)
    overrides: { ...composioSessionOverrides, user_id: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('PATCH', `/api/v3.1/tool_router/session/${ctx.composio.session_id}`, body),
    }),
    readBack: async (ctx, _body, answer) => {
      const read = await ctx.call('GET', `/api/v3.1/tool_router/session/${ctx.composio.session_id}`);
      expectSameJson(read.json.config, answer.json.config);
      const again = await ctx.call('PATCH', `/api/v3.1/tool_router/session/${ctx.composio.session_id}`, {});
      expect(again.status, JSON.stringify(again.json)).toBe(200);
      expectSameJson(again.json.config, answer.json.config);
      // the config read, sent back: no change
      const back = await ctx.call(
        'PATCH',
        `/api/v3.1/tool_router/session/${ctx.composio.session_id}`,
        read.json.config,
      );
      expect(back.status, JSON.stringify(back.json)).toBe(200);
      expectSameJson(back.json.config, answer.json.config);
    },
  },
  {
    name: 'POST /api/v3.1/tool_router/session/{id}/execute',
    schema: ExecuteWire,
    part: 'body',
    overrides: {
      tool_slug: tasksTool,
      arguments: toolArguments,
      account: fc.constant(ABSENT),
      connected_account_id: fc.constant(ABSENT),
      experimental: fc.constant(ABSENT),
      version: fc.constantFrom(ABSENT, 'latest'),
      user_id: fc.constant(ABSENT),
      text: fc.constant(ABSENT),
      custom_auth_params: fc.constant(ABSENT),
      custom_connection_data: fc.constant(ABSENT),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call(
        'POST',
        `/api/v3.1/tool_router/session/${ctx.composio.session_id}/execute`,
        body,
      ),
    }),
    readBack: async (ctx, body, answer) => {
      if (answer.json.successful) expectArguments(ctx.calls.at(-1)?.input, body.arguments ?? {});
    },
  },
  {
    name: 'POST /api/v3.1/tool_router/session/{id}/search',
    schema: SearchWire,
    part: 'body',
    overrides: { experimental: fc.constant(ABSENT) },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v3.1/tool_router/session/${ctx.composio.session_id}/search`, body),
    }),
  },
  {
    name: 'POST /api/v3.1/tool_router/session/{id}/link',
    schema: LinkWire,
    part: 'body',
    overrides: {
      toolkit: known(['mail']),
      callback_url: fc.constantFrom(ABSENT, null),
      experimental: fc.constant(ABSENT),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call('POST', `/api/v3.1/tool_router/session/${ctx.composio.session_id}/link`, body),
    }),
  },
  {
    name: 'POST /api/v3.1/tool_router/session/{id}/proxy_execute',
    schema: ProxyWire,
    part: 'body',
    overrides: {
      toolkit_slug: known(['mail', 'tasks']),
      binary_body: fc.constant(ABSENT),
      custom_connection_data: fc.constant(ABSENT),
    },
    send: async (ctx, body) => ({
      request: body,
      answer: await ctx.call(
        'POST',
        `/api/v3.1/tool_router/session/${ctx.composio.session_id}/proxy_execute`,
        body,
      ),
    }),
  },
  ...(
    [
      [
        'GET /api/v3.1/tool_router/session/{id}/tools',
        PageQuery,
        (ctx: Context) => `/api/v3.1/tool_router/session/${ctx.composio.session_id}/tools`,
      ],
      [
        'GET /api/v3.1/tool_router/session/{id}/toolkits',
        ToolkitsQuery,
        (ctx: Context) => `/api/v3.1/tool_router/session/${ctx.composio.session_id}/toolkits`,
      ],
      ['GET /api/v1/sessions', ListSessionsQuery, () => '/api/v1/sessions'],
      ['GET /api/v1/logs', ListProjectLogsQuery, () => '/api/v1/logs'],
      [
        'GET /api/v1/sessions/{id}/logs',
        ListLogsQuery,
        (ctx: Context) => `/api/v1/sessions/${ctx.remote.session_id}/logs`,
      ],
      [
        'GET /api/v1/sessions/{id}/toolkits',
        SessionToolkitsQuery,
        (ctx: Context) => `/api/v1/sessions/${ctx.local.session_id}/toolkits`,
      ],
      ['GET /api/v1/toolkits', ListToolkitsQuery, () => '/api/v1/toolkits'],
      ['GET /api/v1/auth-configs', ListAuthConfigsQuery, () => '/api/v1/auth-configs'],
      ['GET /api/v1/connected-accounts', ListConnectedAccountsQuery, () => '/api/v1/connected-accounts'],
    ] as const
  ).map(
    ([name, schema, path]): RouteCase => ({
      name,
      schema,
      part: 'query',
      send: async (ctx, query) => ({
        request: query,
        answer: await ctx.call('GET', `${path(ctx)}${queryString(query)}`),
      }),
    }),
  ),
];

function edgeSuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`schema-valid edge values (${name})`, () => {
    let server: ToolMuxServer;
    let mux: ToolMux;
    let cleanup: () => Promise<void>;
    const logger = recordingLogger();
    const ctx = {} as Context;

    beforeAll(async () => {
      const store = await openStore();
      const sample = createSampleToolkits();
      mux = new ToolMux({
        toolkits: sample.toolkits,
        store: store.url,
        secretKey: randomBytes(32).toString('base64'),
        logger,
      });
      server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger });
      ctx.sample = sample;
      ctx.calls = sample.calls;
      ctx.call = async (method, path, body) => {
        const response = await server.fetch(
          new Request(`http://localhost${path}`, {
            method,
            headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }),
        );
        const text = await response.text();
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {}
        return { status: response.status, json };
      };
      ctx.mcp = async (sessionId, token, body) => {
        const response = await server.fetch(
          new Request(`http://localhost/mcp/${sessionId}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              authorization: token,
            },
            body: JSON.stringify(body),
          }),
        );
        const text = await response.text();
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {}
        return { status: response.status, json };
      };
      ctx.local = (await ctx.call('POST', '/api/v1/sessions', { user_id: 'edge_user' })).json;
      ctx.remote = (
        await ctx.call('POST', '/api/v1/sessions', {
          user_id: 'edge_user',
          config: {
            experimental: {
              customTools: [
                {
                  slug: 'EDGE_TOOL',
                  name: 'Edge',
                  description: 'A tool the client runs.',
                  toolkit: '',
                  inputSchema: { type: 'object' },
                  annotations: {},
                  tags: [],
                },
              ],
            },
          },
        })
      ).json;
      ctx.composio = (await ctx.call('POST', '/api/v3.1/tool_router/session', { user_id: 'edge_user' })).json;
      ctx.apiKeyConfig = (
        await ctx.call('POST', '/api/v1/auth-configs', { toolkit: 'mail', type: 'api_key' })
      ).json.id;
      expect(ctx.local.session_id).toMatch(/^ses_/);
      expect(ctx.remote.session_id).toMatch(/^ses_/);
      ctx.store = await openToolMuxStore(store.url);
      ctx.offloaded = 0;
      cleanup = async () => {
        await ctx.store.close();
        await mux.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup?.());

    const coverage: Record<string, { runs: number; statuses: Record<number, number>; valid: number }> = {};

    for (const [index, route] of ROUTES.entries()) {
      it(
        `${route.name}: no 5xx, a 4xx names the field, a 2xx reads back equal`,
        async () => {
          const stats = { runs: 0, statuses: {} as Record<number, number>, valid: 0 };
          coverage[route.name] = stats;
          await fc.assert(
            fc.asyncProperty(arbitraryFor(route.schema, route.overrides).map(clean), async (value) => {
              stats.runs++;
              if (route.schema.safeParse(value).success) stats.valid++;
              const errorsBefore = logger.errors.length;
              const { request, answer } = await route.send(ctx, value);
              stats.statuses[answer.status] = (stats.statuses[answer.status] ?? 0) + 1;
              const shown = `${route.name} ${JSON.stringify(request).slice(0, 400)} -> ${answer.status} ${JSON.stringify(answer.json).slice(0, 400)}`;
              expect(answer.status, shown).toBeLessThan(500);
              expect(logger.errors.slice(errorsBefore), shown).toEqual([]);
              if (answer.status >= 400 && answer.status !== 413) {
                const message: string = answer.json?.error?.message ?? '';
                const names = [...namesOf(request)];
                expect(
                  names.some((part) => message.includes(part)) ||
                    /\b(query|body)\.\w/.test(message) ||
                    // a field the request lacks, by name
                    /(field|parameter|key) "[^"]+"/i.test(message),
                  `the error names no field or value: ${shown}`,
                ).toBe(true);
              }
              // what the server parsed: the request as JSON text (-0 is written 0)
              if (answer.status < 300 && route.readBack) {
                await route.readBack(ctx, JSON.parse(JSON.stringify(request)), answer);
              }
            }),
            { numRuns: RUNS, seed: SEED + index, endOnFailure: true },
          );
          expect(stats.valid).toBeGreaterThan(0);
        },
        TIMEOUT,
      );
    }

    it(
      'MCP tools/call of the meta-tools with edge arguments: no 5xx and no internal error',
      async () => {
        const metaTools = fc.constantFrom(
          'TOOLMUX_SEARCH_TOOLS',
          'TOOLMUX_MULTI_EXECUTE_TOOL',
          'TOOLMUX_MANAGE_CONNECTIONS',
          'TOOLMUX_GET_TOOL_SCHEMAS',
        );
        const args = fc.oneof(
          fc.record({
            queries: fc.array(fc.record({ use_case: edgeString(0, 300), known_fields: edgeString(0, 100) }), {
              maxLength: 3,
            }),
          }),
          fc.record({
            tools: fc.array(fc.record({ tool_slug: tasksTool, arguments: toolArguments }), { maxLength: 3 }),
            thought: edgeString(0, 200),
          }),
          fc.record({ toolkits: fc.array(edgeString(0, 64), { maxLength: 3 }) }),
          fc.record({ tool_slugs: fc.array(fc.oneof(tasksTool, edgeString(0, 64)), { maxLength: 3 }) }),
          fc.dictionary(edgeString(0, 24), edgeJson(3), { maxKeys: 3 }),
        );
        await fc.assert(
          fc.asyncProperty(metaTools, args, async (name, input) => {
            const answer = await ctx.mcp(ctx.local.session_id, ctx.local.mcp.headers.Authorization, {
              jsonrpc: '2.0',
              id: 1,
              method: 'tools/call',
              params: { name, arguments: input },
            });
            const shown = `${name} ${JSON.stringify(input).slice(0, 300)} -> ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`;
            expect(answer.status, shown).toBeLessThan(500);
            expect(answer.json?.error?.code, shown).not.toBe(-32603);
          }),
          { numRuns: RUNS, seed: SEED + 101 },
        );
      },
      TIMEOUT,
    );

    it(
      'MCP tools/call: no 5xx and no internal error, the tool gets the arguments sent',
      async () => {
        await fc.assert(
          fc.asyncProperty(tasksTool, toolArguments, async (name, args) => {
            const answer = await ctx.mcp(ctx.local.session_id, ctx.local.mcp.headers.Authorization, {
              jsonrpc: '2.0',
              id: 1,
              method: 'tools/call',
              params: { name, arguments: args },
            });
            const shown = `${name} ${JSON.stringify(args).slice(0, 300)} -> ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`;
            expect(answer.status, shown).toBeLessThan(500);
            expect(answer.json?.error?.code, shown).not.toBe(-32603);
            if (answer.json?.result && !answer.json.result.isError) {
              expectArguments(ctx.calls.at(-1)?.input, JSON.parse(JSON.stringify(args)));
            }
          }),
          { numRuns: RUNS, seed: SEED + 100 },
        );
      },
      TIMEOUT,
    );

    it('reports the coverage', () => {
      console.log(`${name}: ${ctx.offloaded} offloaded results read back from the workbench files`);
      for (const route of ROUTES) {
        const stats = coverage[route.name];
        console.log(
          `${name} ${route.name}: ${stats?.runs ?? 0} runs (${stats?.valid ?? 0} schema-valid) ${JSON.stringify(stats?.statuses ?? {})}; fields ${fieldPaths(route.schema).join(', ')}`,
        );
      }
    });
  });
}

edgeSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-edges-'));
  return { url: join(dir, 'toolmux.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => {
  edgeSuite('postgres', () => createTestPostgresUrl());
});
