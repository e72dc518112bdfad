import type { ConnectionRequest, ToolMux } from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';
import { createGmailLikeToolkit } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userWithGmailAccount } from '../test-helpers.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Every public SDK method, each positional argument given a wrong value (of another type, null,
 * nothing where one is needed, an empty object, an array, NaN, a negative or huge number, an empty
 * or huge string), with its other arguments right: embedded and in remote mode the call fails alike,
 * the same ToolMuxError code and the same message (never a TypeError, nor a message that differs by
 * mode), or both succeed.
 *
 * Each mode has a server of its own, and both see the same calls in the same order, so that a call
 * that succeeds (a session created for user "x") leaves both stores alike. Generated ids (`ses_…`,
 * `ca_…`) and the servers' addresses differ between them and are left out of the comparison.
 */

const gmail = createGmailLikeToolkit({ 'key-work': 'ada@work.example' });
let embeddedServer: TestServer;
let remoteServer: TestServer;

beforeAll(async () => {
  [embeddedServer, remoteServer] = await Promise.all([
    startTestServer({ toolkits: [gmail.toolkit] }),
    startTestServer({ toolkits: [gmail.toolkit] }),
  ]);
});
afterAll(() => Promise.all([embeddedServer?.close(), remoteServer?.close()]));

/** A user with one Gmail account, a session that may use it, and a pending credentials request, on `mux`. */
async function setup(mux: ToolMux, userId: string) {
  const user = await userWithGmailAccount(mux, userId);
  const request = await mux.connectedAccounts.link(userId, user.config.id, { alias: 'pending' });
  return { ...user, request };
}

type Context = Awaited<ReturnType<typeof setup>>;

/** One positional argument of a method: its right value (`optional`: one it may be left out of). */
interface Argument {
  name: string;
  right: (c: Context) => unknown;
  optional?: boolean;
}

interface Method {
  name: string;
  args: Argument[];
  call: (c: Context, args: any[]) => Promise<unknown>;
}

const arg = (name: string, right: (c: Context) => unknown, optional = false): Argument => ({
  name,
  right,
  optional,
});
const userId = arg('userId', (c) => c.userId);
const sessionId = arg('sessionId', (c) => c.session.sessionId);
const configId = arg('authConfigId', (c) => c.config.id);
const accountId = arg('connectedAccountId', (c) => c.account.id);
const requestId = arg('connectionRequestId', (c) => c.request.id);
const options = arg('options', () => ({}), true);
const credentials = arg('credentials', () => ({ apiKey: 'key-work' }));

/** Every public method of ToolMux, its sessions and connection requests that takes arguments. */
const methods: Method[] = [
  {
    name: 'mux.create()',
    args: [userId, arg('config', () => ({}), true)],
    call: (c, a) => c.mux.create(a[0], a[1]),
  },
  { name: 'mux.use()', args: [sessionId, options], call: (c, a) => c.mux.use(a[0], a[1]) },
  { name: 'mux.sessions.delete()', args: [sessionId], call: (c, a) => c.mux.sessions.delete(a[0]) },
  { name: 'mux.sessions.list()', args: [options], call: (c, a) => c.mux.sessions.list(a[0]) },
  { name: 'mux.logs.list()', args: [options], call: (c, a) => c.mux.logs.list(a[0]) },
  { name: 'mux.toolkits.list()', args: [options], call: (c, a) => c.mux.toolkits.list(a[0]) },
  {
    name: 'mux.toolkits.get()',
    args: [arg('slug', () => 'gmail')],
    call: (c, a) => c.mux.toolkits.get(a[0]),
  },
  {
    name: 'mux.tools.get()',
    args: [userId, arg('filter', () => ({ toolkits: ['gmail'] })), options],
    call: (c, a) => c.mux.tools.get(a[0], a[1], a[2]),
  },
  {
    name: 'mux.tools.execute()',
    args: [
      arg('slug', () => 'GMAIL_GET_PROFILE'),
      arg('request', (c) => ({ userId: c.userId, arguments: {} })),
    ],
    call: (c, a) => c.mux.tools.execute(a[0], a[1]),
  },
  {
    name: 'mux.authConfigs.create()',
    args: [arg('toolkit', () => 'gmail'), arg('options', () => ({ type: 'api_key' }))],
    call: (c, a) => c.mux.authConfigs.create(a[0], a[1]),
  },
  { name: 'mux.authConfigs.list()', args: [options], call: (c, a) => c.mux.authConfigs.list(a[0]) },
  { name: 'mux.authConfigs.get()', args: [configId], call: (c, a) => c.mux.authConfigs.get(a[0]) },
  {
    name: 'mux.authConfigs.update()',
    args: [configId, arg('changes', () => ({ name: 'renamed' }))],
    call: (c, a) => c.mux.authConfigs.update(a[0], a[1]),
  },
  { name: 'mux.authConfigs.delete()', args: [configId], call: (c, a) => c.mux.authConfigs.delete(a[0]) },
  {
    name: 'mux.connectedAccounts.link()',
    args: [userId, configId, options],
    call: (c, a) => c.mux.connectedAccounts.link(a[0], a[1], a[2]),
  },
  {
    name: 'mux.connectedAccounts.create()',
    args: [userId, configId, credentials, options],
    call: (c, a) => c.mux.connectedAccounts.create(a[0], a[1], a[2], a[3]),
  },
  {
    name: 'mux.connectedAccounts.update()',
    args: [accountId, arg('changes', () => ({ alias: 'renamed' }))],
    call: (c, a) => c.mux.connectedAccounts.update(a[0], a[1]),
  },
  {
    name: 'mux.connectedAccounts.list()',
    args: [options],
    call: (c, a) => c.mux.connectedAccounts.list(a[0]),
  },
  {
    name: 'mux.connectedAccounts.get()',
    args: [accountId],
    call: (c, a) => c.mux.connectedAccounts.get(a[0]),
  },
  {
    name: 'mux.connectedAccounts.delete()',
    args: [accountId],
    call: (c, a) => c.mux.connectedAccounts.delete(a[0]),
  },
  {
    name: 'mux.connectedAccounts.refresh()',
    args: [accountId, options],
    call: (c, a) => c.mux.connectedAccounts.refresh(a[0], a[1]),
  },
  {
    name: 'mux.connectedAccounts.disable()',
    args: [accountId],
    call: (c, a) => c.mux.connectedAccounts.disable(a[0]),
  },
  {
    name: 'mux.connectedAccounts.enable()',
    args: [accountId],
    call: (c, a) => c.mux.connectedAccounts.enable(a[0]),
  },
  {
    name: 'mux.connectionRequests.get()',
    args: [requestId],
    call: (c, a) => c.mux.connectionRequests.get(a[0]),
  },
  {
    name: 'mux.connectionRequests.complete()',
    args: [requestId, credentials],
    call: (c, a) => c.mux.connectionRequests.complete(a[0], a[1]),
  },
  {
    name: 'request.waitForConnection()',
    args: [arg('timeoutMs', () => 0, true)],
    call: (c, a) => (c.request as ConnectionRequest).waitForConnection(a[0]),
  },
  { name: 'session.tools()', args: [options], call: (c, a) => c.session.tools(a[0]) },
  {
    name: 'session.execute()',
    args: [arg('slug', () => 'GMAIL_GET_PROFILE'), arg('arguments', () => ({}), true), options],
    call: (c, a) => c.session.execute(a[0], a[1], a[2]),
  },
  {
    name: 'session.handleToolCalls()',
    args: [arg('response', () => ({})), options],
    call: (c, a) => c.session.handleToolCalls(a[0] as never, a[1]),
  },
  {
    name: 'session.authorize()',
    args: [arg('toolkit', () => 'gmail'), options],
    call: (c, a) => c.session.authorize(a[0], a[1]),
  },
  {
    name: 'session.ensureConnected()',
    args: [arg('toolkit', () => 'gmail'), options],
    call: (c, a) => c.session.ensureConnected(a[0], a[1]),
  },
  {
    name: 'session.waitForConnections()',
    args: [arg('toolkits', () => ['gmail']), arg('options', () => ({ timeoutMs: 0 }), true)],
    call: (c, a) => c.session.waitForConnections(a[0], a[1]),
  },
  {
    name: 'session.proxyExecute()',
    args: [arg('request', () => ({ toolkit: 'gmail', endpoint: '/profile' }))],
    call: (c, a) => c.session.proxyExecute(a[0]),
  },
  { name: 'session.toolkits()', args: [options], call: (c, a) => c.session.toolkits(a[0]) },
  {
    name: 'session.search()',
    args: [arg('options', () => ({ query: 'send an email' }))],
    call: (c, a) => c.session.search(a[0]),
  },
  { name: 'session.update()', args: [arg('changes', () => ({}))], call: (c, a) => c.session.update(a[0]) },
  { name: 'session.logs()', args: [options], call: (c, a) => c.session.logs(a[0]) },
];

/** The wrong values each argument is given in turn (nothing only where the argument is needed). */
const wrongValues: Array<[string, unknown]> = [
  ['nothing', undefined],
  ['null', null],
  ['true', true],
  ['an empty string', ''],
  ['a string', 'x'],
  ['a huge string', 'x'.repeat(100_000)],
  ['a number', 42],
  ['NaN', Number.NaN],
  ['a negative number', -1],
  ['a huge number', 2 ** 53],
  ['an empty object', {}],
  ['an array', ['x']],
];

const cases = methods.flatMap((method) =>
  method.args.flatMap((argument, index) =>
    wrongValues
      .filter(([kind]) => kind !== 'nothing' || !argument.optional)
      .map(([kind, value]) => ({
        method,
        index,
        kind,
        value,
        label: `${method.name} ${argument.name}: ${kind}`,
      })),
  ),
);

type Outcome =
  | { ok: true }
  | { code: string; message: string }
  | { failedResult: string; message: string }
  | { notToolMuxError: string };

/** What a call came to, with the ids and addresses that differ between the two servers left out. */
async function outcomeOf(run: () => Promise<unknown>, servers: TestServer): Promise<Outcome> {
  const shown = (message: string) =>
    message
      .replaceAll(servers.url, '<server>')
      .replace(/\b([a-z]+)_[0-9a-z]{30,}\b/g, '$1_<id>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>');
  try {
    const value = (await run()) as { successful?: unknown; code?: unknown; error?: unknown } | undefined;
    if (value?.successful === false) {
      return { failedResult: String(value.code), message: shown(String(value.error)) };
    }
    return { ok: true };
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return { code: error.code, message: shown(error.message) };
    return { notToolMuxError: String(error) };
  }
}

const NOT_A_CALLERS_MISTAKE = ['SERVER_UNREACHABLE', 'ROUTE_NOT_FOUND', 'INTERNAL_ERROR', 'STORE_ERROR'];

/**
 * The code decided for the mismatches found before (docs/errors.md): each case's outcome in both
 * modes (the table above checks that they agree).
 */
const decided: Array<[label: string, code: string]> = [
  // credentials that are not an object: the object-argument rule, not the scheme's fields
  ['mux.connectedAccounts.create() credentials: a string', 'INVALID_REQUEST'],
  ['mux.connectionRequests.complete() credentials: null', 'INVALID_REQUEST'],
  // a tool call's arguments are the tool's to judge: a failed result the model can read
  ['session.execute() arguments: a string', 'failed TOOL_ARGUMENTS_INVALID'],
  ['session.execute() arguments: an array', 'failed TOOL_ARGUMENTS_INVALID'],
  // JSON has no number for NaN (it wrote null: no arguments): refused, as anywhere in the arguments
  ['session.execute() arguments: NaN', 'failed TOOL_ARGUMENTS_INVALID'],
  // a timeout that is not a whole number of milliseconds from 0 to 2147483647
  ['request.waitForConnection() timeoutMs: null', 'INVALID_REQUEST'],
  ['request.waitForConnection() timeoutMs: NaN', 'INVALID_REQUEST'],
  ['request.waitForConnection() timeoutMs: a negative number', 'INVALID_REQUEST'],
  ['request.waitForConnection() timeoutMs: a huge number', 'INVALID_REQUEST'],
  ['request.waitForConnection() timeoutMs: a string', 'INVALID_REQUEST'],
  // an id a URL cannot carry is known to name nothing before anything is sent
  ['mux.connectedAccounts.get() connectedAccountId: an empty string', 'CONNECTED_ACCOUNT_NOT_FOUND'],
  ['mux.connectedAccounts.get() connectedAccountId: a huge string', 'INVALID_REQUEST'],
  ['mux.sessions.delete() sessionId: an empty string', 'SESSION_NOT_FOUND'],
  // a slug that is not a non-empty string
  ['mux.toolkits.get() slug: null', 'INVALID_REQUEST'],
  ['session.authorize() toolkit: a number', 'INVALID_REQUEST'],
  ['mux.tools.execute() slug: an empty string', 'failed INVALID_REQUEST'],
  ['mux.create() userId: a number', 'USER_ID_INVALID'],
];

describe.each(methods.map((method) => [method.name, method] as const))('%s', (name, method) => {
  let embedded: Context;
  let remote: Context;
  let remoteMux: ToolMux;

  beforeAll(async () => {
    const user = `user_${name.replace(/\W+/g, '_')}`;
    remoteMux = remoteServer.remote();
    embedded = await setup(embeddedServer.embedded, user);
    remote = await setup(remoteMux, user);
  });

  it.each(cases.filter((c) => c.method === method).map((c) => [c.label, c] as const))(
    '%s: the same outcome in both modes',
    async (_label, { index, value }) => {
      const argsOf = (c: Context) =>
        method.args.map((argument, i) => (i === index ? value : argument.right(c)));
      const inEmbedded = await outcomeOf(() => method.call(embedded, argsOf(embedded)), embeddedServer);
      const inRemote = await outcomeOf(() => method.call(remote, argsOf(remote)), remoteServer);
      const both = JSON.stringify({ embedded: inEmbedded, remote: inRemote });
      expect(inEmbedded, both).not.toHaveProperty('notToolMuxError');
      expect(inRemote, both).toEqual(inEmbedded);
      // the caller's mistake, never blamed on the server or the route
      if ('code' in inEmbedded) expect(NOT_A_CALLERS_MISTAKE, both).not.toContain(inEmbedded.code);
    },
  );
});

describe('the codes decided for the mismatches of before', () => {
  let context: Context;
  beforeAll(async () => {
    context = await setup(embeddedServer.embedded, 'user_decided');
  });

  it.each(decided)('%s: %s', async (label, code) => {
    const found = cases.find((c) => c.label === label);
    if (!found) throw new Error(`no case "${label}"`);
    const { method, index, value } = found;
    const args = method.args.map((argument, i) => (i === index ? value : argument.right(context)));
    const outcome = await outcomeOf(() => method.call(context, args), embeddedServer);
    const got =
      'code' in outcome
        ? outcome.code
        : 'failedResult' in outcome
          ? `failed ${outcome.failedResult}`
          : 'ok' in outcome
            ? 'OK'
            : outcome.notToolMuxError;
    expect(got, JSON.stringify(outcome)).toBe(code);
  });
});
