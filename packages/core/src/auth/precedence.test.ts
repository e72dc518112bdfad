import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { quiet, rejection } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const redirectUri = 'http://127.0.0.1:9/auth/callback'; // never opened: callbacks go to handleCallback directly
let oauthServer: TestOAuthServer;

beforeAll(async () => {
  oauthServer = await startTestOAuthServer({ redirectUris: [redirectUri] });
});
afterAll(() => oauthServer.close());

function setup(options: { managed?: boolean } = {}) {
  const sample = createSampleToolkits();
  const octo = octoToolkit(oauthServer);
  const mux = new ToolMux({
    toolkits: [...sample.toolkits, octo.toolkit],
    store: ':memory:',
    logger: quiet,
    oauthRedirectUri: redirectUri,
    ...(options.managed === false
      ? {}
      : {
          managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
        }),
  });
  /** The API key the last MAIL_SEND_EMAIL call ran with. */
  const mailKey = () =>
    sample.calls.filter((call) => call.slug === 'MAIL_SEND_EMAIL').at(-1)?.context.credentials?.apiKey;
  return { mux, mailKey, octoCalls: octo.calls };
}

const sendMail = { to: 'a@example.com', subject: 'hi', body: 'hello' };

/** Completes an OAuth connection request: sign-in at the provider, then the callback. */
async function finish(mux: ToolMux, redirectUrl: string, login = 'octo-user'): Promise<void> {
  const callback = await oauthServer.signIn(redirectUrl, { login });
  const response = await mux.auth.handleCallback(new Request(callback));
  expect(new URL(response.headers.get('location')!).searchParams.get('status')).toBe('success');
}

describe('connected-account precedence', () => {
  it('step 1: the first ACTIVE account the session lists wins, even over a newer one', async () => {
    const { mux, mailKey } = setup();
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const older = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-older' });
    const newer = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-newer' });
    const session = await mux.create('user_1', {
      connectedAccounts: { mail: [older.id, newer.id] },
      authConfigs: { mail: config.id },
    });
    const result = await session.execute('MAIL_SEND_EMAIL', sendMail);
    expect(result.successful).toBe(true);
    expect(mailKey()).toBe('key-older');
    expect((await session.logs()).items[0]!.connectedAccountId).toBe(older.id);
    // a single id is accepted too
    const single = await mux.create('user_1', { connectedAccounts: { mail: newer.id } });
    await single.execute('MAIL_SEND_EMAIL', sendMail);
    expect(mailKey()).toBe('key-newer');
  });

  it("step 2: the session's auth config: the user's most recently connected ACTIVE account on it", async () => {
    const { mux, mailKey } = setup();
    const chosen = await mux.authConfigs.create('mail', { type: 'api_key', name: 'chosen' });
    const other = await mux.authConfigs.create('mail', { type: 'api_key', name: 'other' });
    await mux.connectedAccounts.create('user_1', chosen.id, { apiKey: 'key-first' });
    await mux.connectedAccounts.create('user_1', chosen.id, { apiKey: 'key-second' });
    await mux.connectedAccounts.create('user_1', other.id, { apiKey: 'key-other-config' });
    await mux.connectedAccounts.create('user_2', chosen.id, { apiKey: 'key-other-user' });
    const session = await mux.create('user_1', { authConfigs: { mail: chosen.id } });
    expect((await session.execute('MAIL_SEND_EMAIL', sendMail)).successful).toBe(true);
    expect(mailKey()).toBe('key-second');
  });

  it('with several accounts at one step, the most recently connected wins, not the most recently started', async () => {
    const { mux, octoCalls } = setup();
    const session = await mux.create('user_1', { toolkits: ['octo'] });
    const first = await session.authorize('octo', { callbackUrl: 'http://localhost:3000/done' });
    const second = await session.authorize('octo', { callbackUrl: 'http://localhost:3000/done' });
    await finish(mux, second.redirectUrl, 'second-login');
    await finish(mux, first.redirectUrl, 'first-login'); // started first, connected last
    expect((await session.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'first-login' });
    expect(octoCalls).toHaveLength(1);
    expect((await session.logs()).items[0]!.connectedAccountId).toBe(first.connectedAccountId);
  });

  it('step 3: the auth config toolmux created earlier; accounts on configs the session does not name are not used', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['octo'] });
    await finish(mux, (await session.authorize('octo')).redirectUrl, 'managed-login');
    const [managed] = (await mux.authConfigs.list({ toolkit: 'octo' })).items;
    expect(managed).toMatchObject({ createdBy: 'toolmux', clientId: oauthServer.clientId });
    // an account on an auth config of the application, not named by the session
    const own = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauthServer.clientId,
      clientSecret: oauthServer.clientSecret,
    });
    const ownRequest = await mux.connectedAccounts.link('user_1', own.id, {
      callbackUrl: 'http://localhost:3000/done',
    });
    await finish(mux, ownRequest.redirectUrl, 'own-login');
    const later = await mux.create('user_1', { toolkits: ['octo'] });
    expect((await later.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'managed-login' });
    const pinned = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: own.id } });
    expect((await pinned.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'own-login' });
  });

  it('step 4: managed credentials become the toolmux auth config the first time a connection needs one', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['octo'] });
    const before = await session.execute('OCTO_WHOAMI', {});
    expect(before).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect((await mux.authConfigs.list()).items).toEqual([]); // a tool call does not create it
    const other = await mux.create('user_2', { toolkits: ['octo'] });
    const [manage] = await Promise.all([
      session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['octo'] }),
      other.authorize('octo'),
      other.authorize('octo'),
    ]);
    const configs = (await mux.authConfigs.list()).items;
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      toolkit: 'octo',
      createdBy: 'toolmux',
      hasClientSecret: true,
      scopes: undefined,
    });
    const [entry] = (manage.data as { results: Array<{ redirect_url: string; connected: boolean }> }).results;
    expect(entry!.connected).toBe(false);
    await finish(mux, entry!.redirect_url, 'step-four');
    expect((await session.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'step-four' });
  });

  it('step 5: no account and nothing to connect with: an error result naming the toolkit and the fix', async () => {
    const { mux } = setup({ managed: false });
    const session = await mux.create('user_1');
    const mail = await session.execute('MAIL_SEND_EMAIL', sendMail);
    expect(mail).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(mail.error).toContain('Mail (mail)');
    expect(mail.error).toContain('TOOLMUX_MANAGE_CONNECTIONS');
    const octo = await session.execute('OCTO_WHOAMI', {});
    expect(octo.error).toContain('Octo (octo)');
    await rejection(session.authorize('octo'), 'AUTH_CONFIG_NOT_FOUND');
  });

  it('a session that names accounts or a config never falls back to others', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['octo'] });
    await finish(mux, (await session.authorize('octo')).redirectUrl);
    const emptyConfig = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauthServer.clientId,
    });
    const pinned = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: emptyConfig.id } });
    expect((await pinned.execute('OCTO_WHOAMI', {})).code).toBe('CONNECTION_REQUIRED');
    expect((await pinned.toolkits()).items[0]!.connection.isActive).toBe(false);
  });

  it("rejects at create() and update() another user's account, another toolkit's config, and unknown ids", async () => {
    const { mux } = setup();
    const mailConfig = await mux.authConfigs.create('mail', { type: 'api_key' });
    const theirs = await mux.connectedAccounts.create('user_2', mailConfig.id, { apiKey: 'their-key' });
    const mine = await mux.connectedAccounts.create('user_1', mailConfig.id, { apiKey: 'my-key' });

    const otherUser = await rejection(
      mux.create('user_1', { connectedAccounts: { mail: theirs.id } }),
      'CONNECTED_ACCOUNT_MISMATCH',
    );
    expect(otherUser.message).toContain(theirs.id);
    expect(otherUser.message).toContain('another user');
    expect(otherUser.message).not.toContain('user_2');
    const otherToolkit = await rejection(
      mux.create('user_1', { authConfigs: { octo: mailConfig.id } }),
      'AUTH_CONFIG_MISMATCH',
    );
    expect(otherToolkit.message).toContain('authConfigs.octo');
    expect(otherToolkit.message).toContain('"mail"');
    await rejection(
      mux.create('user_1', { connectedAccounts: { octo: mine.id } }),
      'CONNECTED_ACCOUNT_MISMATCH',
    );
    await rejection(mux.create('user_1', { authConfigs: { mail: 'ac_unknown' } }), 'AUTH_CONFIG_NOT_FOUND');
    await rejection(
      mux.create('user_1', { connectedAccounts: { mail: ['ca_unknown'] } }),
      'CONNECTED_ACCOUNT_NOT_FOUND',
    );
    expect((await mux.sessions.list()).items).toEqual([]);

    const session = await mux.create('user_1', { connectedAccounts: { mail: mine.id } });
    await rejection(session.update({ connectedAccounts: { mail: theirs.id } }), 'CONNECTED_ACCOUNT_MISMATCH');
    await rejection(session.update({ authConfigs: { octo: mailConfig.id } }), 'AUTH_CONFIG_MISMATCH');
    expect(session.configVersion).toBe(1);
  });

  it('tools.execute runs with a given connectedAccountId, checked to be the user’s and the toolkit’s', async () => {
    const { mux, mailKey } = setup();
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const first = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-one' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-two' });
    const theirs = await mux.connectedAccounts.create('user_2', config.id, { apiKey: 'key-theirs' });
    const ok = await mux.tools.execute('MAIL_SEND_EMAIL', {
      userId: 'user_1',
      arguments: sendMail,
      connectedAccountId: first.id,
    });
    expect(ok.successful).toBe(true);
    expect(mailKey()).toBe('key-one');
    const stolen = await mux.tools.execute('MAIL_SEND_EMAIL', {
      userId: 'user_1',
      arguments: sendMail,
      connectedAccountId: theirs.id,
    });
    expect(stolen).toMatchObject({ successful: false, code: 'CONNECTED_ACCOUNT_MISMATCH' });
    const unknown = await mux.tools.execute('MAIL_SEND_EMAIL', {
      userId: 'user_1',
      arguments: sendMail,
      connectedAccountId: 'ca_nope',
    });
    expect(unknown.code).toBe('CONNECTED_ACCOUNT_NOT_FOUND');
    // without an id and without a session there is only the toolmux-managed config (none for mail)
    expect((await mux.tools.execute('MAIL_SEND_EMAIL', { userId: 'user_1', arguments: sendMail })).code).toBe(
      'CONNECTION_REQUIRED',
    );
  });
});

describe('connected accounts and auth configs', () => {
  it('create() checks the fields against the scheme, naming fields and never values', async () => {
    const { mux } = setup();
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const missing = await rejection(
      mux.connectedAccounts.create('user_1', config.id, {}),
      'CONNECTED_ACCOUNT_INVALID',
    );
    expect(missing.message).toContain('"apiKey"');
    const extra = await rejection(
      mux.connectedAccounts.create('user_1', config.id, { apiKey: 'sk_secret_value', password: 'hunter22' }),
      'CONNECTED_ACCOUNT_INVALID',
    );
    expect(extra.message).toContain('"password"');
    expect(extra.message).not.toContain('hunter22');
    expect(extra.message).not.toContain('sk_secret_value');
    await rejection(
      mux.connectedAccounts.create('user_1', config.id, { apiKey: 42 as unknown as string }),
      'CONNECTED_ACCOUNT_INVALID',
    );
    const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'sk_ok' });
    expect(account).toMatchObject({
      status: 'ACTIVE',
      toolkit: 'mail',
      userId: 'user_1',
      authConfigId: config.id,
    });
    expect(account.connectedAt).toBeInstanceOf(Date);
  });

  it('auth configs: created per scheme, listed, read without secrets, deleted with their accounts', async () => {
    const { mux } = setup();
    await rejection(mux.authConfigs.create('mail', { type: 'oauth2', clientId: 'x' }), 'AUTH_CONFIG_INVALID');
    await rejection(mux.authConfigs.create('octo', { type: 'oauth2', clientId: '' }), 'AUTH_CONFIG_INVALID');
    await rejection(mux.authConfigs.create('nope', { type: 'api_key' }), 'TOOLKIT_NOT_FOUND');
    await rejection(mux.authConfigs.create('octo', { type: 'magic' } as never), 'AUTH_CONFIG_INVALID');
    const octo = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: 'client',
      clientSecret: 'very-secret-client-secret',
      scopes: ['repo'],
    });
    expect(octo).toMatchObject({
      type: 'oauth2',
      createdBy: 'user',
      clientId: 'client',
      scopes: ['repo'],
      hasClientSecret: true,
    });
    expect(JSON.stringify(octo)).not.toContain('very-secret');
    const mail = await mux.authConfigs.create('mail', { type: 'api_key' });
    expect((await mux.authConfigs.list({ toolkit: 'octo' })).items.map((item) => item.id)).toEqual([octo.id]);
    expect((await mux.authConfigs.list()).items.map((item) => item.id)).toEqual([mail.id, octo.id]);
    expect(await mux.authConfigs.get(mail.id)).toEqual(mail);
    // a credentials config links too: to a form for the key, no account until it is filled in
    expect(await mux.connectedAccounts.link('user_1', mail.id)).toMatchObject({
      kind: 'fields',
      connectedAccountId: null,
      toolkit: 'mail',
    });
    await rejection(mux.connectedAccounts.create('user_1', octo.id, { apiKey: 'x' }), 'AUTH_CONFIG_INVALID');
    const account = await mux.connectedAccounts.create('user_1', mail.id, { apiKey: 'k-1234' });
    expect(
      (await mux.connectedAccounts.list({ userIds: ['user_1'], statuses: ['ACTIVE'] })).items,
    ).toHaveLength(1);
    await rejection(mux.connectedAccounts.list({ statuses: ['GONE' as never] }), 'INVALID_REQUEST');
    await rejection(mux.connectedAccounts.refresh(account.id), 'INVALID_REQUEST');
    await mux.authConfigs.delete(mail.id);
    await rejection(mux.authConfigs.get(mail.id), 'AUTH_CONFIG_NOT_FOUND');
    await rejection(mux.connectedAccounts.get(account.id), 'CONNECTED_ACCOUNT_NOT_FOUND');
    await rejection(mux.authConfigs.delete(mail.id), 'AUTH_CONFIG_NOT_FOUND');
  });

  it('connected accounts are listed by user, toolkit and status, and deleted', async () => {
    const { mux } = setup();
    const mail = await mux.authConfigs.create('mail', { type: 'api_key' });
    const a = await mux.connectedAccounts.create('user_1', mail.id, { apiKey: 'k-aaaa' });
    const b = await mux.connectedAccounts.create('user_2', mail.id, { apiKey: 'k-bbbb' });
    const session = await mux.create('user_1', { toolkits: ['octo'] });
    const pending = await session.authorize('octo');
    const list = async (query: Parameters<ToolMux['connectedAccounts']['list']>[0]) =>
      (await mux.connectedAccounts.list(query)).items.map((item) => item.id);
    expect(await list({ userIds: ['user_1'] })).toEqual([pending.connectedAccountId, a.id]);
    expect(await list({ userIds: ['user_1', 'user_2'], toolkits: ['mail'] })).toEqual([b.id, a.id]);
    expect(await list({ statuses: ['INITIATED'] })).toEqual([pending.connectedAccountId]);
    await mux.connectedAccounts.delete(a.id);
    expect(await list({ toolkits: ['mail'] })).toEqual([b.id]);
    await mux.connectedAccounts.delete(pending.connectedAccountId!);
    await rejection(pending.waitForConnection(1_000), 'CONNECTION_REQUEST_NOT_FOUND');
  });
});

describe('TOOLMUX_MANAGE_CONNECTIONS', () => {
  it('gives a link for an OAuth toolkit, says connected once it is, and a new link with reinitiate', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['octo', 'mail', 'tasks'] });
    const manage = async (reinitiate?: boolean) =>
      (
        (
          await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
            toolkits: ['octo', 'mail', 'tasks'],
            reinitiate,
          })
        ).data as {
          results: Array<Record<string, unknown>>;
        }
      ).results;
    const [octo, mail, tasks] = await manage();
    expect(octo).toMatchObject({ toolkit: 'octo', connected: false });
    expect(String(octo!.redirect_url)).toContain(`${oauthServer.authorizationUrl}?`);
    expect(octo!.connection_request_id).toMatch(/^cr_/);
    expect(octo!.message).toContain('open redirect_url');
    expect(mail).toMatchObject({ toolkit: 'mail', connected: false });
    expect(mail!.message).toContain('API key');
    expect(mail!.message).toContain('in the application');
    expect(mail!.redirect_url).toBeUndefined();
    expect(tasks).toMatchObject({ toolkit: 'tasks', connected: true });

    await finish(mux, String(octo!.redirect_url));
    const [connected] = await manage();
    expect(connected).toMatchObject({ toolkit: 'octo', connected: true });
    expect(connected!.connected_account_id).toMatch(/^ca_/);
    expect(connected!.redirect_url).toBeUndefined();
    const [again] = await manage(true);
    expect(again).toMatchObject({ toolkit: 'octo', connected: true });
    expect(String(again!.redirect_url)).toContain(oauthServer.authorizationUrl);
    // the default callbackUrl of these links
    const back = await mux.auth.handleCallback(
      new Request(await oauthServer.signIn(String(again!.redirect_url))),
    );
    expect(back.headers.get('location')).toMatch(
      /^http:\/\/localhost:8787\/connect\/done\?status=success&connected_account_id=ca_/,
    );
  });
});

describe('an account the precedence rules do not reach', () => {
  it("is named, with how to let the session use it, instead of 'none is connected'", async () => {
    const { mux, mailKey } = setup();
    const own = await mux.authConfigs.create('mail', { type: 'api_key', name: 'own' });
    const account = await mux.connectedAccounts.create('user_1', own.id, { apiKey: 'key-own' });
    // another user's account on the same config is not this user's to name
    const foreign = await mux.connectedAccounts.create('user_2', own.id, { apiKey: 'key-other-user' });
    // the model reads that it should ask for a connection; it cannot change the session
    const session = await mux.create('user_1');
    const result = await session.execute('MAIL_SEND_EMAIL', sendMail);
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain(
      "the user's Mail account is connected for another use, which this session does not draw from",
    );
    expect(result.error).toContain('Ask the user to connect Mail');
    expect(result.error).not.toContain(own.id);
    // the application reads which account, and how to let the session use it
    const direct = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const own1 = await direct.execute('MAIL_SEND_EMAIL', sendMail);
    expect(own1).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(own1.error).toContain('none is connected through the auth config toolmux manages for it');
    expect(own1.error).toContain(`${account.id} (on auth config ${own.id}) is on another auth config`);
    expect(own1.error).toContain('session.update({ connectedAccounts: { mail: [accountId] } })');
    expect(own1.error).toContain('session.update({ authConfigs: { mail: authConfigId } })');
    expect(own1.error).not.toContain(foreign.id);
    expect(own1.error).not.toContain('none is connected.');
    // what it says works
    await direct.update({ authConfigs: { mail: own.id } });
    expect((await direct.execute('MAIL_SEND_EMAIL', sendMail)).successful).toBe(true);
    expect(mailKey()).toBe('key-own');
  });

  it("names the session's own auth config when that is what it draws from", async () => {
    const { mux } = setup();
    const chosen = await mux.authConfigs.create('mail', { type: 'api_key', name: 'chosen' });
    const other = await mux.authConfigs.create('mail', { type: 'api_key', name: 'other' });
    await mux.connectedAccounts.create('user_1', other.id, { apiKey: 'key-other' });
    const session = await mux.create('user_1', {
      authConfigs: { mail: chosen.id },
      sessionPreset: 'DIRECT_TOOLS',
    });
    const result = await session.execute('MAIL_SEND_EMAIL', sendMail);
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain(
      `none is connected through the session's authConfigs.mail ("${chosen.id}")`,
    );
    expect(result.error).toContain(`(on auth config ${other.id})`);
  });

  it('says the session draws from no auth config when it names none and toolmux manages none', async () => {
    const { mux } = setup({ managed: false });
    const own = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauthServer.clientId,
      clientSecret: oauthServer.clientSecret,
    });
    const through = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: own.id } });
    await finish(mux, (await through.authorize('octo')).redirectUrl);
    const direct = await mux.create('user_1', { toolkits: ['octo'], sessionPreset: 'DIRECT_TOOLS' });
    const result = await direct.execute('OCTO_WHOAMI', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    // there is no auth config toolmux manages for Octo (no managedAuth), nor can there be one
    expect(result.error).not.toContain('toolmux manages for it');
    expect(result.error).toContain('this session names no auth config for Octo and toolmux manages none');
    expect(result.error).toContain(`(on auth config ${own.id}) is on another auth config`);
    // nor a connection through the session, which it refuses with no auth config to connect through
    expect(result.error).not.toContain('session.authorize');
    await rejection(direct.authorize('octo'), 'AUTH_CONFIG_NOT_FOUND');
    // a model is not sent to connect either: no connection can help this session
    const agent = await mux.create('user_1', { toolkits: ['octo'] });
    const told = await agent.execute('OCTO_WHOAMI', {});
    expect(told).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(told.error).toContain('the application must let this session use it');
    expect(told.error).not.toContain('Ask the user to connect');
  });

  it('a user with no account anywhere is still told none is connected', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const result = await session.execute('MAIL_SEND_EMAIL', sendMail);
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain('none is connected');
  });
});
