import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionRequest } from '../auth/connection-request.js';
import { ToolMuxError } from '../errors.js';
import type { Session } from '../session.js';
import {
  connectionRequestAnswer,
  failedCall,
  jsonAnswer,
  LOG_ANSWER,
  misbehavingServer,
  rejection,
  SESSION_ANSWER,
} from '../test/misbehaving-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * Every call of a remote ToolMux and of its sessions, answered by a loopback server with the right
 * answer, then with wrong ones: not an object, an empty object, and the right answer with one field at
 * a time absent, of another type, or (a date) one that does not parse. A wrong answer must end in
 * SERVER_UNREACHABLE naming the server and the field (a tool call: a failed result saying the same),
 * never in a TypeError or an object of undefineds and Invalid Dates.
 */

const API_KEY = 'tmx_remote_answer_shapes_0123456789';
const AT = '2024-05-01T10:00:00.000Z';

const CONNECTION_REQUEST = connectionRequestAnswer('http://set-in-before-all', {
  status: 'COMPLETED',
  callback_url: 'http://app.test/done',
  expires_at: AT,
});
const ACCOUNT = {
  id: 'ca_1',
  user_id: 'user_1',
  toolkit: 'github',
  auth_config_id: 'ac_1',
  alias: 'work',
  status: 'ACTIVE',
  status_reason: null,
  connected_at: AT,
  expires_at: null,
  created_at: AT,
  updated_at: AT,
};
const AUTH_CONFIG = {
  id: 'ac_1',
  toolkit: 'github',
  type: 'oauth2',
  created_by: 'user',
  name: 'GitHub app',
  client_id: 'client-1',
  scopes: ['repo'],
  has_client_secret: true,
  created_at: AT,
  updated_at: AT,
};
const TOOLKIT = {
  slug: 'github',
  name: 'GitHub',
  description: 'Repositories and issues',
  no_auth: false,
  auth_schemes: ['oauth2'],
  categories: ['developer'],
  keywords: ['git'],
  tool_count: 1,
  tools: [{ slug: 'GITHUB_STAR', name: 'Star', description: 'Stars a repository' }],
};
const SESSION_TOOLKIT = {
  slug: 'github',
  name: 'GitHub',
  description: 'Repositories and issues',
  no_auth: false,
  connection: {
    is_active: true,
    connected_account: { id: 'ca_1', status: 'ACTIVE' },
    auth_config: { id: 'ac_1', type: 'oauth2', managed: false },
    accounts: [{ id: 'ca_1', alias: 'work', is_default: true }],
    account_selection_required: false,
  },
};
const LOG = LOG_ANSWER;
const SESSION_SUMMARY = {
  session_id: 'ses_remote_client_test',
  user_id: 'user_1',
  metadata: { team: 'a' },
  config_version: 1,
  created_at: AT,
  updated_at: AT,
};
const TOOL_SPEC = {
  slug: 'GITHUB_STAR',
  name: 'GITHUB_STAR',
  description: 'Stars a repository',
  toolkit: 'github',
  input_schema: { type: 'object', properties: {} },
  annotations: {},
};
const TOOL_RESULT = { successful: true, data: { starred: true }, error: null, log_id: 'log_1' };

/** A string of `length` characters: one past a limit of the SDK's. */
const long = (length: number) => 'x'.repeat(length);
/** Nested arrays, past the deepest a tool's schema or result may nest. */
const deep = () => JSON.parse(`${'['.repeat(2_000)}${']'.repeat(2_000)}`) as unknown;
/**
 * Values of a connected account no toolmux server sends: a status that is no string, texts past their
 * limits. (A status string the SDK does not know is a newer server's: read as UNKNOWN, see
 * remote-untrusted-fields.test.ts.)
 */
const ACCOUNT_ODD: Array<[Array<string | number>, unknown]> = [
  [['status'], 5],
  [['status'], null],
  [['status_reason'], long(32_769)],
  [['alias'], long(65)],
];
/** Values of an auth config no toolmux server sends. */
const AUTH_CONFIG_ODD: Array<[Array<string | number>, unknown]> = [
  [['type'], 'saml'],
  [['created_by'], 'admin'],
];
/** Values of an execution log entry no store holds. */
const LOG_ODD: Array<[Array<string | number>, unknown]> = [
  [['input'], long(8_193)],
  [['output'], long(8_193)],
  [['error_message'], long(8_193)],
  [['error_code'], long(65)],
];

const page = (item: unknown) => ({ items: [item], next_cursor: null });
const countedPage = (item: unknown) => ({ items: [item], next_cursor: null, total: 1 });

interface Case {
  name: string;
  /** The right answer: the call resolves with it. */
  answer: Record<string, unknown>;
  /** Where in the answer the object whose fields are broken one by one is (the answer itself by default). */
  at?: Array<string | number>;
  /** Fields that may be absent (servers older than them do not send them). */
  optional?: string[];
  /** Fields of any value (a tool's data), or whose inside is not the SDK's to read (a JSON schema). */
  free?: string[];
  /** Fields inside fields, broken as well: a path and a wrong value for it. */
  inner?: Array<[Array<string | number>, unknown]>;
  /** Made while the server answers `prepare` (the object the call is made on). */
  prepare?: { answer: unknown; make: () => Promise<ConnectionRequest> };
  call: (prepared: ConnectionRequest | undefined) => Promise<unknown>;
}

let server: Awaited<ReturnType<typeof misbehavingServer>>;
let mux: ToolMux;
let session: Session;

/** A failed tool result as the rejection it stands for (a tool call never throws). */
async function thrown(result: Promise<{ successful: boolean; code?: string; error: string | null }>) {
  const outcome = await result;
  if (outcome.successful || outcome.code === undefined) return outcome;
  throw new ToolMuxError({ code: outcome.code as 'SERVER_UNREACHABLE', message: outcome.error ?? '' });
}

const CASES: Case[] = [
  { name: 'create()', answer: SESSION_ANSWER, call: () => mux.create('user_1', {}) },
  {
    name: 'use()',
    answer: SESSION_ANSWER,
    inner: [
      [['mcp', 'headers', 'Authorization'], 1],
      [['config', 'customTools'], 'x'],
      [['metadata', 'team'], 1],
      [['metadata', 'team'], long(1_025)],
    ],
    call: () => mux.use(SESSION_ANSWER.session_id),
  },
  {
    name: 'sessions.list()',
    answer: page(SESSION_SUMMARY),
    at: ['items', 0],
    call: () => mux.sessions.list(),
  },
  {
    name: 'logs.list()',
    answer: page(LOG),
    at: ['items', 0],
    optional: ['parent_id'],
    inner: LOG_ODD,
    call: () => mux.logs.list(),
  },
  {
    name: 'toolkits.list()',
    answer: countedPage(TOOLKIT),
    at: ['items', 0],
    optional: ['keywords'],
    inner: [
      [['tools', 0, 'slug'], 1],
      [['auth_schemes', 0], null],
      [['keywords', 0], 5],
    ],
    call: () => mux.toolkits.list(),
  },
  {
    name: 'toolkits.list() (its total)',
    answer: countedPage(TOOLKIT),
    optional: ['next_cursor'],
    call: () => mux.toolkits.list(),
  },
  {
    name: 'toolkits.get()',
    answer: TOOLKIT,
    optional: ['keywords'],
    inner: [[['tools', 0, 'description'], null]],
    call: () => mux.toolkits.get('github'),
  },
  {
    name: 'tools.get()',
    answer: page(TOOL_SPEC),
    at: ['items', 0],
    free: ['input_schema', 'annotations'],
    inner: [[['annotations'], { a: deep() }]],
    call: () => mux.tools.get('user_1', { toolkits: ['github'] }),
  },
  {
    name: 'tools.execute()',
    answer: TOOL_RESULT,
    free: ['data'],
    call: () => failedCall(mux.tools.execute('GITHUB_STAR', { userId: 'user_1' })),
  },
  {
    name: 'authConfigs.create()',
    answer: AUTH_CONFIG,
    inner: AUTH_CONFIG_ODD,
    call: () => mux.authConfigs.create('github', { type: 'oauth2', clientId: 'client-1' }),
  },
  {
    name: 'authConfigs.list()',
    answer: page(AUTH_CONFIG),
    at: ['items', 0],
    inner: [[['scopes', 0], 1], ...AUTH_CONFIG_ODD],
    call: () => mux.authConfigs.list(),
  },
  {
    name: 'authConfigs.get()',
    answer: AUTH_CONFIG,
    inner: AUTH_CONFIG_ODD,
    call: () => mux.authConfigs.get('ac_1'),
  },
  {
    name: 'connectedAccounts.link()',
    answer: CONNECTION_REQUEST,
    inner: [[['kind'], 'device']],
    call: () => mux.connectedAccounts.link('user_1', 'ac_1'),
  },
  ...(
    [
      ['connectedAccounts.create()', () => mux.connectedAccounts.create('user_1', 'ac_1', { api_key: 'k' })],
      ['connectedAccounts.update()', () => mux.connectedAccounts.update('ca_1', { alias: 'work' })],
      ['connectedAccounts.get()', () => mux.connectedAccounts.get('ca_1')],
      ['connectedAccounts.refresh()', () => mux.connectedAccounts.refresh('ca_1')],
      ['connectedAccounts.disable()', () => mux.connectedAccounts.disable('ca_1')],
      ['connectedAccounts.enable()', () => mux.connectedAccounts.enable('ca_1')],
      ['connectionRequests.complete()', () => mux.connectionRequests.complete('cr_1', { api_key: 'k' })],
    ] as const
  ).map(([name, call]) => ({ name, answer: ACCOUNT, optional: ['alias'], inner: ACCOUNT_ODD, call })),
  {
    name: 'connectedAccounts.list()',
    answer: page(ACCOUNT),
    at: ['items', 0],
    optional: ['alias'],
    inner: ACCOUNT_ODD,
    call: () => mux.connectedAccounts.list(),
  },
  {
    name: 'connectionRequests.get()',
    answer: CONNECTION_REQUEST,
    inner: [[['kind'], 'device']],
    call: () => mux.connectionRequests.get('cr_1'),
  },
  {
    name: "a connection request's waitForConnection()",
    answer: CONNECTION_REQUEST,
    prepare: { answer: CONNECTION_REQUEST, make: () => mux.connectedAccounts.link('user_1', 'ac_1') },
    call: (request) => request!.waitForConnection(5_000),
  },
  {
    name: 'session.rotateMcpToken()',
    answer: SESSION_ANSWER.mcp,
    call: () => session.rotateMcpToken(),
  },
  {
    name: 'session.tools()',
    answer: page(TOOL_SPEC),
    at: ['items', 0],
    free: ['input_schema', 'annotations'],
    inner: [[['annotations'], { a: deep() }]],
    // with a modifier: a plain tools() answers again what it once fetched
    call: () => session.tools({ afterExecute: ({ result }) => result }),
  },
  {
    name: 'session.execute()',
    answer: TOOL_RESULT,
    free: ['data'],
    call: () => thrown(session.execute('GITHUB_STAR', {})),
  },
  { name: 'session.authorize()', answer: CONNECTION_REQUEST, call: () => session.authorize('github') },
  {
    name: 'session.ensureConnected() (connected)',
    answer: { status: 'CONNECTED', account: { id: 'ca_1', status: 'ACTIVE', toolkit: 'github' } },
    inner: [
      [['account', 'id'], 1],
      [['account', 'status'], 'INITIATED'],
    ],
    call: () => session.ensureConnected('github'),
  },
  {
    name: 'session.ensureConnected() (needs the user)',
    answer: { status: 'NEEDS_USER', request: CONNECTION_REQUEST },
    at: ['request'],
    call: () => session.ensureConnected('github'),
  },
  {
    name: 'session.waitForConnections()',
    answer: {
      toolkits: {
        github: {
          status: 'PENDING',
          connection_request_id: 'cr_1',
          expires_at: AT,
          message: 'Waiting for the user',
        },
      },
      timed_out: true,
    },
    at: ['toolkits', 'github'],
    optional: ['connection_request_id', 'expires_at'],
    inner: [[['message'], long(32_769)]],
    call: () => session.waitForConnections(['github'], { timeoutMs: 0 }),
  },
  {
    name: 'session.proxyExecute()',
    answer: { status: 200, headers: { 'content-type': 'application/json' }, data: { id: 1 } },
    free: ['data'],
    inner: [
      [['headers', 'content-type'], 1],
      [['data'], { a: deep() }],
    ],
    call: () => session.proxyExecute({ toolkit: 'github', endpoint: '/user' }),
  },
  {
    name: 'session.toolkits()',
    answer: countedPage(SESSION_TOOLKIT),
    at: ['items', 0],
    inner: [
      [['connection', 'is_active'], 'yes'],
      [['connection', 'accounts', 0, 'is_default'], null],
      [['connection', 'auth_config'], 'x'],
      [['connection', 'connected_account', 'status'], 5],
      [['connection', 'auth_config', 'type'], 'saml'],
      [['connection', 'accounts', 0, 'alias'], long(65)],
    ],
    call: () => session.toolkits(),
  },
  {
    name: 'session.search()',
    answer: {
      results: [
        {
          use_case: 'star a repository',
          tools: [
            {
              tool_slug: 'GITHUB_STAR',
              toolkit: 'github',
              description: 'Stars a repository',
              input_schema: { type: 'object' },
            },
          ],
        },
      ],
      toolkit_connections: [{ toolkit: 'github', connected: true }],
      next_steps: 'Call GITHUB_STAR',
    },
    inner: [
      [['results', 0, 'tools'], null],
      [['toolkit_connections', 0, 'connected'], 'yes'],
      [['results', 0, 'tools', 0, 'input_schema'], { type: 'object', items: deep() }],
      [['results', 0, 'tools', 0, 'tool_slug'], null],
      [['toolkit_connections', 0, 'accounts'], 'x'],
      [['next_steps'], long(262_145)],
    ],
    call: () => session.search({ query: 'star a repository' }),
  },
  { name: 'session.update()', answer: SESSION_ANSWER, call: () => session.update({ toolkits: ['github'] }) },
  {
    name: 'session.logs()',
    answer: page(LOG),
    at: ['items', 0],
    optional: ['parent_id'],
    inner: LOG_ODD,
    call: () => session.logs(),
  },
];

/** A copy of `value` with `path` set to `to` (or deleted, for undefined). */
function changed(value: unknown, path: Array<string | number>, to: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (to === undefined) delete at[last];
  else at[last] = to;
  return copy;
}

/** A value of another JSON type than `value` has, that no field of that type accepts. */
const otherThan = (value: unknown): unknown => (typeof value === 'string' || value === null ? 42 : 'x');

const isDate = (value: unknown) => typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value);

/** A field as an error names it: `created_at` (in a page's item), `connection.accounts[0].is_default`. */
function fieldName(path: Array<string | number>): string {
  const inItem = path[0] === 'items' && typeof path[1] === 'number' ? path.slice(2) : path;
  return inItem
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`))
    .join('');
}

/** The wrong answers of a case, each with the field its error must name (none for a whole answer). */
function wrongAnswers(test: Case): Array<{ label: string; body: unknown; field?: string }> {
  const at = test.at ?? [];
  const target = at.reduce<unknown>(
    (value, key) => (value as Record<string | number, unknown>)[key],
    test.answer,
  ) as Record<string, unknown>;
  const wrong: Array<{ label: string; body: unknown; field?: string }> = [
    { label: 'null', body: 'null' },
    { label: '[]', body: '[]' },
    { label: 'a string', body: '"ok"' },
    { label: '{}', body: {} },
  ];
  if (at.length > 0) wrong.push({ label: `${at.join('.')} null`, body: changed(test.answer, at, null) });
  for (const [key, value] of Object.entries(target)) {
    if (test.free?.includes(key)) continue;
    if (!test.optional?.includes(key)) {
      wrong.push({
        label: `without ${key}`,
        body: changed(test.answer, [...at, key], undefined),
        field: fieldName([...at, key]),
      });
    }
    const other = otherThan(value);
    wrong.push({
      label: `${key}: ${JSON.stringify(other)}`,
      body: changed(test.answer, [...at, key], other),
      field: fieldName([...at, key]),
    });
    if (isDate(value)) {
      wrong.push({
        label: `${key}: not a date`,
        body: changed(test.answer, [...at, key], 'not a date'),
        field: fieldName([...at, key]),
      });
    }
  }
  for (const [path, to] of test.inner ?? []) {
    const inside = [...at, ...path];
    wrong.push({
      label: `${inside.join('.')}: ${JSON.stringify(to).slice(0, 64)}`,
      body: changed(test.answer, inside, to),
      field: fieldName(inside),
    });
  }
  return wrong;
}

/** The Dates in a value the SDK answered, wherever they are. */
function datesIn(value: unknown, seen = new Set<unknown>()): Date[] {
  if (value instanceof Date) return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  return Object.values(value).flatMap((inner) => datesIn(inner, seen));
}

beforeAll(async () => {
  server = await misbehavingServer();
  // the server's own connect page: on the origin of baseUrl
  CONNECTION_REQUEST.redirect_url = `${server.url}/connect/cr_1`;
  // the server answers every request with the case's answer: a session's tools() must not read the
  // session again (it does once its read is older than accountCacheTtlMs, seconds on a loaded machine)
  mux = new ToolMux({
    baseUrl: server.url,
    apiKey: API_KEY,
    requestTimeoutMs: 5_000,
    accountCacheTtlMs: 3_600_000,
  });
  server.answer(jsonAnswer(200, SESSION_ANSWER));
  session = (await mux.use(SESSION_ANSWER.session_id)) as Session;
});
afterAll(() => server.close());

describe('remote client: every answer is checked before the SDK reads it', () => {
  for (const test of CASES) {
    it(`${test.name}: the right answer is read, a wrong one is SERVER_UNREACHABLE naming the field`, async () => {
      const prepare = async () => {
        if (!test.prepare) return undefined;
        server.answer(jsonAnswer(200, test.prepare.answer));
        return test.prepare.make();
      };
      server.answer(jsonAnswer(200, test.answer));
      const right = await test.call(await prepare());
      for (const date of datesIn(right)) expect(Number.isNaN(date.getTime())).toBe(false);

      for (const { label, body, field } of wrongAnswers(test)) {
        const prepared = await prepare();
        server.answer(jsonAnswer(200, body));
        const error = await rejection(test.call(prepared), API_KEY).catch((caught: unknown) => {
          throw new Error(`${test.name} answered ${label}: ${String(caught)}`);
        });
        expect(error.code, `${test.name} answered ${label}`).toBe('SERVER_UNREACHABLE');
        expect(error.message, label).toContain(server.url);
        if (field !== undefined) expect(error.message, label).toContain(`"${field}"`);
      }
    });
  }

  it('a message names the item of a page and the field, and the value of a date that does not parse', async () => {
    server.answer(
      jsonAnswer(200, { items: [ACCOUNT, { ...ACCOUNT, created_at: 'yesterday' }], next_cursor: null }),
    );
    const error = await rejection(mux.connectedAccounts.list(), API_KEY);
    expect(error.message).toContain(
      `a page's items[1]: a connected account without a date "created_at" (got "yesterday")`,
    );
    server.answer(jsonAnswer(200, { ...TOOLKIT, tools: [{ slug: 'A', name: 'A' }] }));
    expect((await rejection(mux.toolkits.get('github'), API_KEY)).message).toContain(
      'a toolkit without a string "tools[0].description"',
    );
  });

  it("reads a toolkit's keywords, and none from a server older than them", async () => {
    server.answer(jsonAnswer(200, TOOLKIT));
    expect((await mux.toolkits.get('github')).keywords).toEqual(['git']);
    const { keywords: _, ...older } = TOOLKIT;
    server.answer(jsonAnswer(200, older));
    expect((await mux.toolkits.get('github')).keywords).toEqual([]);
  });
});
