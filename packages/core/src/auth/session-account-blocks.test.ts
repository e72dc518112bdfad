import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ToolMuxError } from '../errors.js';
import { ToolMux } from '../toolmux.js';

/**
 * When a session's own settings leave a toolkit no usable account, so that a new connection would
 * not help: the accounts it may only use (`connectedAccounts`, no `authConfigs` entry) expired or
 * were disabled, or the auth config it names was deleted. Calls, TOOLMUX_MANAGE_CONNECTIONS,
 * TOOLMUX_WAIT_FOR_CONNECTIONS and `ensureConnected()` say so, and no link is made: the model was
 * sent round a loop (a link, a new account, "that account cannot be used by this session", a link…)
 * and the user asked for their key again and again. Also: one toolkit that cannot be connected
 * fails its own entry of TOOLMUX_MANAGE_CONNECTIONS, not the call; a disabled account is named as
 * disabled.
 */

const quiet = { debug() {}, warn() {}, error() {} };
const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

/** A toolkit whose one tool says which key it ran with; a key starting with "bad" is refused. */
function keyed(slug: string) {
  return defineToolkit({
    slug,
    name: slug[0]!.toUpperCase() + slug.slice(1),
    description: `The ${slug} service.`,
    auth: [{ type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] }],
    tools: [
      defineTool({
        slug: `${slug.toUpperCase()}_WHOAMI`,
        description: `Which ${slug} account the call runs with.`,
        inputSchema: z.object({}),
        execute: async (_input, ctx) => {
          const key = String(ctx.credentials?.apiKey);
          if (key.startsWith('bad'))
            throw new ToolMuxError({ code: 'CREDENTIALS_REJECTED', message: 'refused' });
          return { key: key.slice(0, 8) };
        },
      }),
    ],
  });
}

function setup() {
  const mux = new ToolMux({
    toolkits: [keyed('acme'), keyed('beta')],
    store: ':memory:',
    secretKey: Buffer.alloc(32, 7).toString('base64'),
    hostedConnectPage: true,
    logger: quiet,
  });
  opened.push(mux);
  return mux;
}

type Entry = { toolkit: string; connected: boolean; code?: string; message: string; redirect_url?: string };
async function manage(
  session: { execute: (slug: string, args: unknown) => Promise<{ data: unknown }> },
  args: object,
) {
  return ((await session.execute('TOOLMUX_MANAGE_CONNECTIONS', args)).data as { results: Entry[] }).results;
}
const requestCount = async (mux: ToolMux, userId: string) =>
  (await mux.connectedAccounts.list({ userIds: [userId] })).items.length;

describe('a session that may only use the accounts it names', () => {
  it('whose account expired: every link reconnects that same account, never a new one, and the session works again without update()', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const pinned = await mux.connectedAccounts.create(
      'u1',
      config.id,
      { apiKey: 'bad_old_key' },
      { alias: 'work' },
    );
    const session = await mux.create('u1', {
      connectedAccounts: { acme: pinned.id },
      manageConnections: { waitForConnections: true },
    });
    // the provider refuses the key: the account is EXPIRED now
    const first = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'ACME_WHOAMI' }],
    });
    const call = (first.data as { results: Array<{ error: string }> }).results[0]!;
    expect(call.error).toContain(`may only use the Acme (acme) accounts the application set for it`);
    expect(call.error).toContain(`(${pinned.id}): EXPIRED (Acme (acme) refused the credentials)`);
    expect(call.error).toContain('must reconnect that account or give this session another Acme account');
    expect(call.error).not.toContain('reinitiate');
    // the agent is sent to the link that reconnects that account, not told that no link can help
    expect(call.error).toContain(
      `Call TOOLMUX_MANAGE_CONNECTIONS with toolkits ["acme"] for a link that reconnects that same account (${pinned.id}) in place`,
    );
    expect(call.error).not.toContain('do not ask for one');

    const accounts = await requestCount(mux, 'u1');
    for (const reinitiate of [false, true]) {
      const [entry] = await manage(session, { toolkits: ['acme'], reinitiate });
      expect(entry).toMatchObject({ toolkit: 'acme', connected: false, connected_account_id: pinned.id });
      expect(entry!.redirect_url).toMatch(/\/connect\/cr_/);
      expect(entry!.message).toContain('enter new credentials for Acme');
      // the agent hears which account the link reconnects, and that no new one is made
      expect(entry!.message).toContain(
        `The Acme account "work" (${pinned.id}) this session uses has expired`,
      );
      expect(entry!.message).toContain('reconnects that same account in place');
      expect(entry!.message).toContain('no new account is made');
    }
    const waiting = (
      await session.execute('TOOLMUX_WAIT_FOR_CONNECTIONS', { toolkits: ['acme'], timeout_seconds: 0 })
    ).data as { toolkits: Record<string, { status: string; message: string }> };
    expect(waiting.toolkits.acme).toMatchObject({ status: 'PENDING' });
    expect(waiting.toolkits.acme!.message).toContain(
      `has not finished reconnecting the Acme account ${pinned.id} (the same account: no new one is made)`,
    );
    // the application's own way out names the reconnect, and ensureConnected starts it
    const direct = await mux.tools.execute('ACME_WHOAMI', {
      userId: 'u1',
      arguments: {},
      connectedAccountId: pinned.id,
    });
    expect(direct.error).toContain(`connectedAccounts.reconnect("${pinned.id}", { callbackUrl })`);
    const ensured = await session.ensureConnected('acme');
    expect(ensured.status).toBe('NEEDS_USER');
    const request = (ensured as { request: { id: string; kind: string; connectedAccountId: string } })
      .request;
    expect(request).toMatchObject({ kind: 'fields', connectedAccountId: pinned.id });
    // nothing was connected anew: no attempt, no account the session could never use
    expect(await requestCount(mux, 'u1')).toBe(accounts);

    // wrong fields leave the request open; the user's new key goes to the same account
    await expect(mux.connectionRequests.complete(request.id, { nope: 'x' })).rejects.toMatchObject({
      code: 'CONNECTED_ACCOUNT_INVALID',
    });
    const account = await mux.connectionRequests.complete(request.id, { apiKey: 'good_new_key' });
    expect(account).toMatchObject({ id: pinned.id, status: 'ACTIVE', alias: 'work', statusReason: null });
    await expect(mux.connectionRequests.complete(request.id, { apiKey: 'good_again' })).rejects.toMatchObject(
      {
        code: 'CONNECTION_REQUEST_INVALID',
      },
    );
    expect(await session.execute('ACME_WHOAMI', {})).toMatchObject({
      successful: true,
      data: { key: 'good_new' },
    });
    expect(await requestCount(mux, 'u1')).toBe(accounts);
    const [entry] = await manage(session, { toolkits: ['acme'] });
    expect(entry).toMatchObject({ connected: true, connected_account_id: pinned.id });
  });

  it('whose account expired, with no connect page for its form: no link for the agent, the application reconnects it', async () => {
    const mux = new ToolMux({
      toolkits: [keyed('acme')],
      store: ':memory:',
      secretKey: Buffer.alloc(32, 7).toString('base64'),
      logger: quiet,
    });
    opened.push(mux);
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const pinned = await mux.connectedAccounts.create('u1', config.id, { apiKey: 'bad_old_key' });
    const session = await mux.create('u1', { connectedAccounts: { acme: pinned.id } });
    expect(await session.execute('ACME_WHOAMI', {})).toMatchObject({ code: 'CONNECTION_EXPIRED' });
    const [entry] = await manage(session, { toolkits: ['acme'] });
    expect(entry).toMatchObject({ toolkit: 'acme', connected: false, code: 'CONNECTION_EXPIRED' });
    expect(entry!.redirect_url).toBeUndefined();
    expect(entry!.message).toContain('do not ask for one');
    const request = await mux.connectedAccounts.reconnect(pinned.id);
    await mux.connectionRequests.complete(request.id, { apiKey: 'good_new_key' });
    expect(await request.waitForConnection(5_000)).toMatchObject({ id: pinned.id, status: 'ACTIVE' });
    expect(await session.execute('ACME_WHOAMI', {})).toMatchObject({
      successful: true,
      data: { key: 'good_new' },
    });
  });

  it('of several, one expired: the next call uses the next one, and no answer says none is usable', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const bad = await mux.connectedAccounts.create('u1', config.id, { apiKey: 'bad_key_one' });
    const good = await mux.connectedAccounts.create('u1', config.id, { apiKey: 'good_key_two' });
    const session = await mux.create('u1', { connectedAccounts: { acme: [bad.id, good.id] } });
    const first = await session.execute('ACME_WHOAMI', {});
    expect(first).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
    expect(first.error).not.toContain('none of them is usable');
    expect(await session.execute('ACME_WHOAMI', {})).toMatchObject({
      successful: true,
      data: { key: 'good_key' },
    });
    const [entry] = await manage(session, { toolkits: ['acme'] });
    expect(entry).toMatchObject({ connected: true, connected_account_id: good.id });
    // reinitiate makes no link either: a new account would not be one the session may use
    const [again] = await manage(session, { toolkits: ['acme'], reinitiate: true });
    expect(again).toMatchObject({ connected: true });
    expect(again!.redirect_url).toBeUndefined();
    expect(again!.message).toContain('A new connection would not be used by this session');
  });

  it('that was disabled: named as disabled, with the way to enable it for the application', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const pinned = await mux.connectedAccounts.create('u1', config.id, { apiKey: 'good_key' });
    await mux.connectedAccounts.disable(pinned.id);
    const session = await mux.create('u1', { connectedAccounts: { acme: pinned.id } });
    const result = await session.execute('ACME_WHOAMI', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain(`${pinned.id}: INACTIVE (disabled)`);
    await expect(session.ensureConnected('acme')).rejects.toThrow(
      'enable a disabled one (connectedAccounts.enable(id))',
    );
  });

  it('and an auth config: a new connection on that config is used, so the link is given', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const pinned = await mux.connectedAccounts.create('u1', config.id, { apiKey: 'bad_old_key' });
    const session = await mux.create('u1', {
      connectedAccounts: { acme: pinned.id },
      authConfigs: { acme: config.id },
    });
    await session.execute('ACME_WHOAMI', {});
    const [entry] = await manage(session, { toolkits: ['acme'], reinitiate: true });
    expect(entry!.redirect_url).toMatch(/\/connect\/cr_/);
    const request = await mux.connectionRequests.get(
      (entry as Entry & { connection_request_id: string }).connection_request_id,
    );
    await mux.connectionRequests.complete(request.id, { apiKey: 'good_new_key' });
    expect(await session.execute('ACME_WHOAMI', {})).toMatchObject({
      successful: true,
      data: { key: 'good_new' },
    });
  });
});

describe('a session whose auth config was deleted', () => {
  it('says so on every path, lists its other toolkits, and still links the others', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const session = await mux.create('u1', { authConfigs: { acme: config.id } });
    await mux.authConfigs.delete(config.id);
    const call = await session.execute('ACME_WHOAMI', {});
    expect(call).toMatchObject({ successful: false, code: 'AUTH_CONFIG_NOT_FOUND' });
    expect(call.error).toContain(`through auth config "${config.id}", which was deleted`);
    expect(call.error).toContain('the application must give this session another Acme auth config');
    // the whole list failed AUTH_CONFIG_NOT_FOUND
    const listed = await session.toolkits();
    expect(listed.items.map((item) => [item.slug, item.connection.isActive])).toEqual([
      ['acme', false],
      ['beta', false],
    ]);
    const entries = await manage(session, { toolkits: ['beta', 'acme'] });
    expect(entries[0]).toMatchObject({ toolkit: 'beta', connected: false });
    expect(entries[0]!.redirect_url).toMatch(/\/connect\/cr_/);
    expect(entries[1]).toMatchObject({ toolkit: 'acme', connected: false, code: 'AUTH_CONFIG_NOT_FOUND' });
    expect(entries[1]!.message).toContain('the application must give this session another Acme auth config');
    await expect(session.ensureConnected('acme')).rejects.toThrow(
      'Give the session another one with session.update({ authConfigs: { acme: authConfigId } })',
    );
    const wait = await session.waitForConnections(['acme'], { timeoutMs: 5_000 });
    expect(wait.toolkits.acme).toMatchObject({ status: 'FAILED' });
  });

  it('a link for another account (an alias): the model is told to ask the application, which reads its API', async () => {
    const mux = setup();
    const config = await mux.authConfigs.create('acme', { type: 'api_key' });
    const session = await mux.create('u1', { authConfigs: { acme: config.id } });
    await mux.authConfigs.delete(config.id);
    for (const args of [{ alias: 'work' }, { alias: 'work', reinitiate: true }]) {
      const [entry] = await manage(session, { toolkits: ['acme'], ...args });
      expect(entry).toMatchObject({ toolkit: 'acme', connected: false, code: 'AUTH_CONFIG_NOT_FOUND' });
      expect(entry!.message).toContain('the application must give this session another Acme auth config');
      // what only the application can do is not the model's to do
      expect(entry!.message).not.toContain('session.update');
      expect(entry!.message).not.toContain('authConfigs.create');
    }
    await expect(session.authorize('acme', { alias: 'work' })).rejects.toThrow(
      'give it to the session with session.update({ authConfigs: { acme: authConfigId } })',
    );
  });
});

describe('TOOLMUX_MANAGE_CONNECTIONS over several toolkits', () => {
  it('answers a toolkit at its account limit in its own entry; the others keep their links', async () => {
    const mux = setup();
    const session = await mux.create('u1', { multiAccount: { enable: true, maxAccountsPerToolkit: 2 } });
    for (const alias of ['a', 'b']) {
      const request = await session.authorize('acme', { alias });
      await mux.connectionRequests.complete(request.id, { apiKey: `key_${alias}_123456` });
    }
    for (const args of [{ reinitiate: true }, { alias: 'c' }]) {
      const entries = await manage(session, { toolkits: ['beta', 'acme'], ...args });
      expect(entries[0]).toMatchObject({ toolkit: 'beta', connected: false });
      expect(entries[0]!.redirect_url).toMatch(/\/connect\/cr_/);
      expect(entries[1]).toMatchObject({ toolkit: 'acme', connected: false, code: 'ACCOUNT_LIMIT_REACHED' });
      expect(entries[1]!.message).toContain(
        'Tell the user that one must be removed or disabled in the application',
      );
      expect(entries[1]!.message).not.toContain('connectedAccounts.');
    }
  });
});

describe('a disabled account', () => {
  it('named by a call, beside an active one: named as disabled, with the ones to use', async () => {
    const mux = setup();
    const session = await mux.create('u1', { multiAccount: { enable: true } });
    const accounts: Record<string, string> = {};
    for (const alias of ['work', 'home']) {
      const request = await session.authorize('acme', { alias });
      accounts[alias] = (
        await mux.connectionRequests.complete(request.id, { apiKey: `key_${alias}_123456` })
      ).id;
    }
    await mux.connectedAccounts.disable(accounts.work!);
    const result = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'ACME_WHOAMI', account: 'work' }],
    });
    const entry = (result.data as { results: Array<{ error: string }> }).results[0]!;
    expect(entry.error).toContain(`"work" (${accounts.work}) was disabled (INACTIVE)`);
    expect(entry.error).toContain(`one of "home" (${accounts.home})`);
    expect(entry.error).not.toContain('none is active');
  });

  it('the only one: said to be disabled, not "none is connected"', async () => {
    const mux = setup();
    const session = await mux.create('u1');
    const request = await session.authorize('acme');
    const account = await mux.connectionRequests.complete(request.id, { apiKey: 'key_only_123456' });
    await mux.connectedAccounts.disable(account.id);
    const result = await session.execute('ACME_WHOAMI', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain(`its account ${account.id} was disabled (INACTIVE)`);
    expect(result.error).toContain('Ask the user whether the application should enable it again');
    // an application without meta-tools reads its own way out
    const direct = await mux.create('u1', { sessionPreset: 'DIRECT_TOOLS' });
    const own = await direct.execute('ACME_WHOAMI', {});
    expect(own.error).toContain(
      `its account ${account.id} was disabled (INACTIVE). Enable it again with connectedAccounts.enable(id)`,
    );
  });
});

describe('a toolkit that needs no account', () => {
  it('refuses a call that names an account (session) or a connectedAccountId (direct), naming it; it was ignored', async () => {
    const ran: unknown[] = [];
    const open = defineToolkit({
      slug: 'open',
      name: 'Open',
      description: 'Needs no account.',
      tools: [
        defineTool({
          slug: 'OPEN_PING',
          description: 'Ping.',
          inputSchema: z.object({}),
          execute: async (input) => {
            ran.push(input);
            return 'pong';
          },
        }),
      ],
    });
    const withOpen = new ToolMux({ toolkits: [open], store: ':memory:', logger: quiet });
    opened.push(withOpen);
    const session = await withOpen.create('u1');
    const named = await session.execute('OPEN_PING', {}, { account: 'ca_bogus' });
    expect(named).toMatchObject({ successful: false, code: 'ACCOUNT_NOT_IN_SESSION' });
    expect(named.error).toBe(
      'Open (open) needs no account, so OPEN_PING runs with none: "ca_bogus" is not one of its accounts. Run the call again without account.',
    );
    const direct = await withOpen.tools.execute('OPEN_PING', {
      userId: 'u1',
      connectedAccountId: 'ca_bogus',
    });
    expect(direct).toMatchObject({ successful: false, code: 'CONNECTED_ACCOUNT_MISMATCH' });
    expect(direct.error).toContain('Run the call again without connectedAccountId.');
    expect(ran).toEqual([]);
    // without one it runs
    expect(await session.execute('OPEN_PING', {})).toMatchObject({ successful: true, data: 'pong' });
  });
});
