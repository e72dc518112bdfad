import { type ToolMux, ToolMuxError } from '@toolmux/core';
import { createGmailLikeToolkit } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The same mistake answers the same error code embedded and in remote mode (a ToolMux client talking
 * to a real server): a value the caller gave is sent and checked by the server, never dropped on the
 * way so that the server falls back to a default the caller did not ask for.
 */

const gmail = createGmailLikeToolkit({ 'key-work': 'ada@work.example' });
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: [gmail.toolkit] });
});
afterAll(() => server.close());

/** What a call came to: its error code, or the failed result's code, or 'OK'. */
async function outcomeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    const value = (await run()) as { successful?: unknown; code?: unknown } | undefined;
    return value?.successful === false && typeof value.code === 'string' ? value.code : 'OK';
  } catch (error) {
    if (!ToolMuxError.isInstance(error)) throw error;
    return error.code;
  }
}

/** A user with one Gmail account (alias "work") and a session that may use it, on `mux`. */
async function setup(mux: ToolMux, userId: string) {
  const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
  await mux.connectedAccounts.create(userId, config.id, { apiKey: 'key-work' }, { alias: 'work' });
  const session = await mux.create(userId, {
    authConfigs: { gmail: config.id },
    multiAccount: { enable: true },
  });
  return { config, session };
}

type Mistake = [string, string, (mux: ToolMux, userId: string) => Promise<unknown>];

const mistakes: Mistake[] = [
  [
    'session.search() with limit 0',
    'INVALID_REQUEST',
    async (mux, user) => (await setup(mux, user)).session.search({ query: 'send an email', limit: 0 }),
  ],
  [
    'session.authorize() with an empty callbackUrl',
    'CALLBACK_URL_NOT_ALLOWED',
    async (mux, user) => (await setup(mux, user)).session.authorize('gmail', { callbackUrl: '' }),
  ],
  [
    'session.authorize() with a callbackUrl that is not a URL',
    'CALLBACK_URL_NOT_ALLOWED',
    async (mux, user) => (await setup(mux, user)).session.authorize('gmail', { callbackUrl: 'not a url' }),
  ],
  [
    'session.ensureConnected() of a new alias with an empty callbackUrl',
    'CALLBACK_URL_NOT_ALLOWED',
    async (mux, user) =>
      (await setup(mux, user)).session.ensureConnected('gmail', { alias: 'new', callbackUrl: '' }),
  ],
  [
    'connectedAccounts.link() with an empty callbackUrl',
    'CALLBACK_URL_NOT_ALLOWED',
    async (mux, user) => {
      const { config } = await setup(mux, user);
      return mux.connectedAccounts.link(user, config.id, { callbackUrl: '' });
    },
  ],
  [
    'tools.execute() with an empty connectedAccountId',
    'CONNECTED_ACCOUNT_NOT_FOUND',
    async (mux, user) => {
      await setup(mux, user);
      return mux.tools.execute('GMAIL_GET_PROFILE', { userId: user, arguments: {}, connectedAccountId: '' });
    },
  ],
  [
    'create() with a manageConnections.callbackUrl the allowlist refuses',
    'CALLBACK_URL_NOT_ALLOWED',
    (mux, user) => mux.create(user, { manageConnections: { callbackUrl: 'https://elsewhere.example/back' } }),
  ],
  [
    'session.toolkits() with toolkits as a string',
    'INVALID_REQUEST',
    async (mux, user) => (await setup(mux, user)).session.toolkits({ toolkits: 'gmail' as never }),
  ],
  [
    "session.toolkits() with connected: 'true'",
    'INVALID_REQUEST',
    async (mux, user) => (await setup(mux, user)).session.toolkits({ connected: 'true' as never }),
  ],
  [
    'session.execute() through a session object after its session was deleted',
    'SESSION_NOT_FOUND',
    async (mux, user) => {
      const { session } = await setup(mux, user);
      await session.delete();
      return session.execute('GMAIL_GET_PROFILE', {});
    },
  ],
  [
    'session.authorize() through a session object after its session was deleted',
    'SESSION_NOT_FOUND',
    async (mux, user) => {
      const { session } = await setup(mux, user);
      await mux.sessions.delete(session.sessionId);
      return session.authorize('gmail', { alias: 'new' });
    },
  ],
  [
    'session.toolkits() through a session object after its session was deleted',
    'SESSION_NOT_FOUND',
    async (mux, user) => {
      const { session } = await setup(mux, user);
      await session.delete();
      return session.toolkits();
    },
  ],
];

describe('remote mode answers a mistake as embedded does', () => {
  it.each(mistakes)('%s: %s', async (label, code, run) => {
    const user = label.replace(/\W+/g, '_');
    const embedded = await outcomeOf(() => run(server.embedded, `${user}_embedded`));
    const remote = await outcomeOf(() => run(server.remote(), `${user}_remote`));
    expect({ embedded, remote }).toEqual({ embedded: code, remote: code });
  });
});

describe('a session object whose session was deleted says so alike in both modes', () => {
  /** The message of a call's error or failed result. */
  async function messageOf(run: () => Promise<unknown>): Promise<string> {
    try {
      const value = (await run()) as { successful?: unknown; error?: unknown } | undefined;
      return value?.successful === false ? String(value.error) : 'OK';
    } catch (error) {
      if (!ToolMuxError.isInstance(error)) throw error;
      return error.message;
    }
  }

  it('execute, tools, logs, update and a second delete: the same message, not "No session … Create one"', async () => {
    // remote mode said "No session "ses_…". Create one with create(userId, config); session ids start
    // with "ses_"." for each, as if the id were malformed, and its logs() lost the pointer to the log
    const seen: Record<string, string[]> = {};
    const modes: Array<[string, ToolMux]> = [
      ['embedded', server.embedded as ToolMux],
      ['remote', server.remote() as ToolMux],
    ];
    for (const [mode, mux] of modes) {
      const { session } = await setup(mux, `deleted_${mode}`);
      await session.delete();
      seen[mode] = [];
      for (const run of [
        () => session.execute('GMAIL_SEND_EMAIL', { to: 'a@b.example', subject: 's', body: 'b' }),
        () => session.tools(),
        () => session.logs(),
        () => session.update({ metadata: { a: 'b' } }),
        () => session.delete(),
      ]) {
        seen[mode]!.push((await messageOf(run)).replaceAll(session.sessionId, 'ses_X'));
      }
    }
    expect(seen.remote).toEqual(seen.embedded);
    expect(seen.remote![0]).toContain('does not exist any more (it was deleted)');
    expect(seen.remote![2]).toContain(
      'its execution log stays: read it with logs.list({ sessionId: "ses_X" })',
    );
    expect(seen.remote![4]).toBe('Session "ses_X" was deleted already: there is nothing more to delete.');
    for (const message of seen.remote!)
      expect(message).not.toContain('Create one with create(userId, config)');
  });
});
