import { ToolMux, ToolMuxError } from '@toolmux/core';
import { openToolMuxStore } from '@toolmux/core/internal';
import { createGmailLikeToolkit } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userWithGmailAccount } from '../test-helpers.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A public method that takes an options, query or request object, given null, a string, a number or
 * an array instead (a JavaScript caller, or `as any`): INVALID_REQUEST naming the method, what it
 * takes and what it got, the same message embedded and in remote mode, before anything is read,
 * stored or sent, never a TypeError from reading a field of it.
 */

const gmail = createGmailLikeToolkit({ 'key-work': 'ada@work.example' });
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: [gmail.toolkit] });
});
afterAll(() => server.close());

/** A remote ToolMux on the server that counts the requests it sends. */
function countingRemote(): { mux: ToolMux; sent: () => number } {
  let sent = 0;
  const mux = new ToolMux({
    baseUrl: server.url,
    apiKey: server.apiKey,
    fetch: (input, init) => {
      sent++;
      return globalThis.fetch(input, init);
    },
  });
  return { mux, sent: () => sent };
}

const setup = userWithGmailAccount;

type Context = Awaited<ReturnType<typeof setup>>;
type Call = (context: Context, value: any) => Promise<unknown>;

/** Every method of either mode that takes an object: its name in messages, and a call giving `value` there. */
const methods: Array<[string, Call]> = [
  ['session.tools()', (c, value) => c.session.tools(value)],
  ['session.execute()', (c, value) => c.session.execute('GMAIL_GET_PROFILE', {}, value)],
  ['session.handleToolCalls()', (c, value) => c.session.handleToolCalls(undefined as never, value)],
  ['session.authorize()', (c, value) => c.session.authorize('gmail', value)],
  ['session.ensureConnected()', (c, value) => c.session.ensureConnected('gmail', value)],
  ['session.waitForConnections()', (c, value) => c.session.waitForConnections(['gmail'], value)],
  ['session.proxyExecute()', (c, value) => c.session.proxyExecute(value)],
  ['session.toolkits()', (c, value) => c.session.toolkits(value)],
  ['session.search()', (c, value) => c.session.search(value)],
  ['session.logs()', (c, value) => c.session.logs(value)],
  ['mux.use()', (c, value) => c.mux.use(c.session.sessionId, value)],
  ['mux.sessions.list()', (c, value) => c.mux.sessions.list(value)],
  ['mux.logs.list()', (c, value) => c.mux.logs.list(value)],
  ['mux.toolkits.list()', (c, value) => c.mux.toolkits.list(value)],
  ['mux.tools.get()', (c, value) => c.mux.tools.get(c.userId, { toolkits: ['gmail'] }, value)],
  ['mux.tools.execute()', (c, value) => c.mux.tools.execute('GMAIL_GET_PROFILE', value)],
  ['mux.authConfigs.list()', (c, value) => c.mux.authConfigs.list(value)],
  ['mux.authConfigs.create()', (c, value) => c.mux.authConfigs.create('gmail', value)],
  ['mux.authConfigs.update()', (c, value) => c.mux.authConfigs.update(c.config.id, value)],
  ['mux.connectedAccounts.link()', (c, value) => c.mux.connectedAccounts.link(c.userId, c.config.id, value)],
  [
    'mux.connectedAccounts.create()',
    (c, value) => c.mux.connectedAccounts.create(c.userId, c.config.id, { apiKey: 'key-work' }, value),
  ],
  ['mux.connectedAccounts.update()', (c, value) => c.mux.connectedAccounts.update(c.account.id, value)],
  ['mux.connectedAccounts.list()', (c, value) => c.mux.connectedAccounts.list(value)],
  ['mux.connectedAccounts.refresh()', (c, value) => c.mux.connectedAccounts.refresh(c.account.id, value)],
];

const values: Array<[string, unknown]> = [
  ['null', null],
  ['a string', 'limit=5'],
  ['a number', 5],
  ['an array', [{ limit: 5 }]],
];

const cases = methods.flatMap(([method, call]) =>
  values.map(([kind, value]) => [method, kind, value, call] as const),
);

/** What the store holds of `userId` (and the newest auth configs), to tell that a refused call changed nothing. */
async function storeOf(userId: string): Promise<unknown> {
  const store = await openToolMuxStore(server.embedded);
  const sessions = await store.listSessions({ userId, limit: 100 });
  const accounts = await store.listConnectedAccounts({ userIds: [userId], limit: 100 });
  const logs = await store.listLogs({ userId, limit: 100 });
  const configs = await store.listAuthConfigs({ limit: 5 });
  return {
    sessions: sessions.items.map(({ id, configVersion, tokenVersion, updatedAt }) => ({
      id,
      configVersion,
      tokenVersion,
      updatedAt,
    })),
    accounts: accounts.items.map(({ id, alias, status, version }) => ({ id, alias, status, version })),
    logs: logs.items.map(({ id }) => id),
    configs: configs.items.map(({ id, settings, updatedAt }) => ({ id, settings, updatedAt })),
    connectionRequest: (await store.latestConnectionRequest?.(userId, 'gmail'))?.id,
  };
}

/** The error `run` rejects with (a ToolMuxError, or the test fails naming what it was). */
async function refusal(run: () => Promise<unknown>): Promise<ToolMuxError> {
  let outcome: unknown;
  try {
    outcome = await run();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  }
  throw new Error(`expected a ToolMuxError, got an answer: ${JSON.stringify(outcome)?.slice(0, 200)}`);
}

describe('a method that takes an object, given something else', () => {
  it.each(cases)(
    '%s given %s: INVALID_REQUEST, alike in both modes, nothing stored or sent',
    async (method, kind, value, call) => {
      const user = `${method}_${kind}`.replace(/\W+/g, '_');

      const embedded = await setup(server.embedded, `${user}_embedded`);
      const embeddedBefore = await storeOf(embedded.userId);
      const embeddedError = await refusal(() => call(embedded, value));
      expect(await storeOf(embedded.userId)).toEqual(embeddedBefore);

      const { mux, sent } = countingRemote();
      try {
        const remote = await setup(mux, `${user}_remote`);
        const remoteBefore = await storeOf(remote.userId);
        const sentBefore = sent();
        const remoteError = await refusal(() => call(remote, value));
        expect(sent()).toBe(sentBefore);
        expect(await storeOf(remote.userId)).toEqual(remoteBefore);

        expect(embeddedError.code).toBe('INVALID_REQUEST');
        expect(embeddedError.message).toMatch(
          new RegExp(`^${method.replace(/[.()]/g, '\\$&')} takes .*; got ${kind}\\.$`),
        );
        expect({ code: remoteError.code, message: remoteError.message }).toEqual({
          code: embeddedError.code,
          message: embeddedError.message,
        });
      } finally {
        await mux.close();
      }
    },
  );

  it.each(values)(
    'mux.close() given %s: INVALID_REQUEST, and the ToolMux stays open, in both modes',
    async (kind, value) => {
      const embedded = new ToolMux({
        toolkits: [gmail.toolkit],
        store: ':memory:',
        secretKey: Buffer.alloc(32, 7).toString('base64'),
      });
      const { mux: remote, sent } = countingRemote();
      try {
        const embeddedError = await refusal(() => embedded.close(value as never));
        const remoteError = await refusal(() => remote.close(value as never));
        expect(sent()).toBe(0);
        expect(embeddedError.code).toBe('INVALID_REQUEST');
        expect(embeddedError.message).toBe(
          `mux.close() takes an options object ({ timeoutMs? }) or nothing; got ${kind}.`,
        );
        expect({ code: remoteError.code, message: remoteError.message }).toEqual({
          code: embeddedError.code,
          message: embeddedError.message,
        });
        // not closed: a closed embedded ToolMux refuses every call with TOOLMUX_CLOSED
        await expect(embedded.sessions.list()).resolves.toMatchObject({ items: [] });
      } finally {
        await embedded.close();
        await remote.close();
      }
    },
  );

  it.each(values)('mux.vault.rotate() (embedded only) given %s: INVALID_REQUEST', async (kind, value) => {
    const error = await refusal(() => server.embedded.vault.rotate(value as never));
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'INVALID_REQUEST',
      message: `mux.vault.rotate() takes an options object ({ batchSize? }) or nothing; got ${kind}.`,
    });
  });

  it.each(methods)(
    '%s without the object, or with an empty one, still runs as before',
    async (method, call) => {
      // left out, the object is {} as it was: only a value that is not an object is refused
      if (
        [
          'session.proxyExecute()',
          'session.search()',
          'mux.tools.execute()',
          'mux.connectedAccounts.update()',
        ].includes(method)
      )
        return;
      const context = await setup(server.embedded, `${method.replace(/\W+/g, '_')}_undefined`);
      for (const value of [undefined, {}]) {
        try {
          await call(context, value);
        } catch (error) {
          // refused for another reason (no OAuth token to refresh, no provider for handleToolCalls), never for the object
          expect(ToolMuxError.isInstance(error) && !/takes .*or nothing/.test(error.message)).toBe(true);
        }
      }
    },
  );
});
