import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import { databaseBackends, databasePerTest, pastTime, quiet, rejection } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const secretKey = Buffer.alloc(32, 12).toString('base64');
const appCallback = 'http://localhost:3000/connected';

let oauthServer: TestOAuthServerWithCallback;
/** The secret the test authorization server accepts now (tests rotate it). */
let clientSecret: string;

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
  clientSecret = oauthServer.clientSecret;
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)('authConfigs.update on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'update', () => {
    const { database, opened } = databasePerTest(open, {
      afterClose: () => {
        oauthServer.current = undefined;
      },
    });

    /** A ToolMux on the test's database; `managedAuth` holds the client secret the provider takes now. */
    function instance() {
      const logger = recordingLogger();
      const mux = new ToolMux({
        toolkits: [octoToolkit(oauthServer).toolkit, ...createSampleToolkits().toolkits],
        store: database.spec,
        secretKey,
        logger,
        oauthRedirectUri: oauthServer.redirectUri,
        managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret } },
      });
      opened.push(mux);
      oauthServer.current ??= mux;
      return { mux, logger };
    }

    /** Connects user_1's octo account through the OAuth flow, with the auth config `authConfigId` (else the managed one). */
    async function connect(mux: ToolMux, authConfigId?: string) {
      const session = await mux.create('user_1', {
        toolkits: ['octo'],
        ...(authConfigId ? { authConfigs: { octo: authConfigId } } : {}),
      });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const callbackUrl = await oauthServer.signIn(request.redirectUrl, { login: 'user-1' });
      expect((await fetch(callbackUrl, { redirect: 'manual' })).status).toBe(302);
      const account = await request.waitForConnection(10_000);
      return { session, accountId: account.id };
    }

    it('a rotated client secret: refreshes fail with AUTH_CONFIG_INVALID until the config has it, then work on every instance without reconnecting', async () => {
      const a = instance();
      const b = instance();
      const oldSecret = clientSecret;
      const config = await a.mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: oldSecret,
        name: 'Octo app',
      });
      const { accountId } = await connect(a.mux, config.id);
      // B has used the config and the account before the rotation (its caches hold what it read)
      const sessionB = await b.mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: config.id } });
      expect(await sessionB.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect((await b.mux.connectedAccounts.refresh(accountId)).status).toBe('ACTIVE');

      clientSecret = await oauthServer.rotateClientSecret();
      for (const { mux } of [a, b]) {
        const refused = await rejection(mux.connectedAccounts.refresh(accountId), 'AUTH_CONFIG_INVALID');
        expect(refused.message).toContain(`refused the client id/secret of auth config ${config.id}`);
        expect(refused.message).toContain(`authConfigs.update("${config.id}", { clientId, clientSecret })`);
        expect(refused.details).toEqual({ authConfigId: config.id, connectedAccountId: accountId });
      }

      const updated = await a.mux.authConfigs.update(config.id, { clientSecret });
      expect(updated).toEqual({
        ...config,
        hasClientSecret: true,
        updatedAt: expect.any(Date),
      });
      expect(updated.updatedAt.getTime()).toBeGreaterThan(config.updatedAt.getTime());
      expect(await b.mux.authConfigs.get(config.id)).toEqual(updated);

      // B refreshes with the new secret: the same account, still ACTIVE, never reconnected
      const refreshes = oauthServer.tokenRequests.refresh_token;
      expect(await b.mux.connectedAccounts.refresh(accountId)).toMatchObject({
        id: accountId,
        status: 'ACTIVE',
        authConfigId: config.id,
      });
      expect(oauthServer.tokenRequests.refresh_token).toBe(refreshes + 1);
      // and a call whose token expired refreshes it before it runs
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${accountId}'`,
      );
      const result = await sessionB.execute('OCTO_WHOAMI', {});
      expect(result, result.error ?? '').toMatchObject({ successful: true, data: { sub: 'user-1' } });
      expect(oauthServer.tokenRequests.refresh_token).toBe(refreshes + 2);
      expect((await a.mux.connectedAccounts.refresh(accountId)).status).toBe('ACTIVE');
      expect((await a.mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toHaveLength(1);

      // neither secret reaches an answer, a log line or a stored row in the clear
      const seen = JSON.stringify([
        updated,
        await a.mux.authConfigs.list(),
        a.logger.warnings,
        a.logger.errors,
        b.logger.warnings,
        b.logger.errors,
        await database.rows('SELECT * FROM toolmux_auth_configs'),
        (await sessionB.logs()).items,
      ]);
      for (const secret of [oldSecret, clientSecret]) expect(seen).not.toContain(secret);
    });

    it('a code exchange refused for the client secret fails the connection naming the auth config to fix, never the secret', async () => {
      const { mux, logger } = instance();
      const wrongSecret = 'not-the-secret-of-the-octo-app';
      const config = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: wrongSecret,
      });
      const session = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: config.id } });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const callbackUrl = await oauthServer.signIn(request.redirectUrl, { login: 'user-1' });
      const back = await fetch(callbackUrl, { redirect: 'manual' });
      const location = new URL(back.headers.get('location')!);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        status: 'failed',
        connected_account_id: request.connectedAccountId,
        error: 'auth_config_invalid',
      });

      const fix = `authConfigs.update("${config.id}", { clientId, clientSecret }) (SDK) or PATCH /api/v1/auth-configs/${config.id} with { "client_id": …, "client_secret": … } (REST API)`;
      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(account.status).toBe('FAILED');
      expect(account.statusReason).toMatch(
        new RegExp(
          `^auth_config_invalid: The Octo \\(octo\\) token endpoint refused the client id/secret of auth config ${config.id} when connecting ${request.connectedAccountId} \\(connection request ${request.id}\\) \\(invalid_client: `,
        ),
      );
      expect(account.statusReason).toContain('The user is not at fault and trying again will not help');
      expect(account.statusReason).toContain(fix);

      const failed = await rejection(request.waitForConnection(10_000), 'CONNECTION_FAILED');
      expect(failed.message).toContain(`(${account.statusReason})`);
      expect(failed.message).toMatch(
        /Fix the auth config, then start a new connection with authorize\(\)\.$/,
      );

      const waited = await session.waitForConnections(['octo'], { timeoutMs: 0 });
      expect(waited.toolkits.octo).toMatchObject({ status: 'FAILED', connectionRequestId: request.id });
      expect(waited.toolkits.octo!.message).toContain(account.statusReason!);
      expect(waited.toolkits.octo!.message).toContain(
        'A new link will not help until the auth config is fixed',
      );

      expect(logger.warnings.join('\n')).toContain(`auth config ${config.id}`);
      const seen = JSON.stringify([
        location.toString(),
        account,
        failed.message,
        failed.messageFor('rest'),
        waited,
        logger.warnings,
        logger.errors,
      ]);
      for (const secret of [wrongSecret, clientSecret]) expect(seen).not.toContain(secret);

      // fixed, the next connection works
      await mux.authConfigs.update(config.id, { clientSecret });
      const again = await session.authorize('octo', { callbackUrl: appCallback });
      expect(
        (
          await fetch(await oauthServer.signIn(again.redirectUrl, { login: 'user-1' }), {
            redirect: 'manual',
          })
        ).status,
      ).toBe(302);
      expect((await again.waitForConnection(10_000)).status).toBe('ACTIVE');
    });

    it("a connection started before the config's clientId changed fails at its callback as auth_config_changed, without trading the code; a new one uses the new client", async () => {
      const { mux, logger } = instance();
      const other = oauthServer.otherClient;
      const config = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret,
      });
      const session = await mux.create('user_1', { toolkits: ['octo'], authConfigs: { octo: config.id } });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      // the user signs in at the provider (the code is issued to the first client)...
      const callbackUrl = await oauthServer.signIn(request.redirectUrl, { login: 'user-1' });
      // ...while the operator moves the config to another OAuth app
      await mux.authConfigs.update(config.id, { clientId: other.clientId, clientSecret: other.clientSecret });
      const exchanges = oauthServer.tokenRequests.authorization_code;

      const back = await fetch(callbackUrl, { redirect: 'manual' });
      const location = new URL(back.headers.get('location')!);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        status: 'failed',
        connected_account_id: request.connectedAccountId,
        error: 'auth_config_changed',
      });
      // the code was not sent with a client it was not issued to
      expect(oauthServer.tokenRequests.authorization_code).toBe(exchanges);

      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(account.status).toBe('FAILED');
      expect(account.statusReason).toBe(
        `auth_config_changed: Connection request ${request.id} was started with the OAuth client "${oauthServer.clientId}" of auth config ${config.id}, whose clientId is now "${other.clientId}": the Octo (octo) sign-in was for the earlier client, and toolmux trades it only with the config's current client. The user is not at fault: start a new connection, which signs in with the new client.`,
      );
      const failed = await rejection(request.waitForConnection(10_000), 'CONNECTION_FAILED');
      expect(failed.message).toBe(
        `The octo connection ${request.connectedAccountId} failed (${account.statusReason}). Start a new connection with authorize().`,
      );
      expect(logger.warnings.join('\n')).toContain(
        `OAuth callback of ${request.id} failed: Connection request`,
      );

      // a new connection signs in with the new client, and its code is traded with it
      const again = await session.authorize('octo', { callbackUrl: appCallback });
      expect(new URL(again.redirectUrl).searchParams.get('client_id')).toBe(other.clientId);
      const backAgain = await fetch(await oauthServer.signIn(again.redirectUrl, { login: 'user-1' }), {
        redirect: 'manual',
      });
      expect(new URL(backAgain.headers.get('location')!).searchParams.get('status')).toBe('success');
      expect((await again.waitForConnection(10_000)).status).toBe('ACTIVE');
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({
        successful: true,
        data: { sub: 'user-1' },
      });

      const seen = JSON.stringify([
        location.toString(),
        account,
        failed.message,
        logger.warnings,
        logger.errors,
      ]);
      for (const secret of [clientSecret, other.clientSecret]) expect(seen).not.toContain(secret);
    });

    it('the config toolmux made from managedAuth takes the new secret too, and stays managed', async () => {
      const { mux } = instance();
      const { accountId } = await connect(mux);
      const [managed] = (await mux.authConfigs.list({ toolkit: 'octo' })).items;
      expect(managed).toMatchObject({ createdBy: 'toolmux', hasClientSecret: true });
      clientSecret = await oauthServer.rotateClientSecret();
      await rejection(mux.connectedAccounts.refresh(accountId), 'AUTH_CONFIG_INVALID');
      expect(await mux.authConfigs.update(managed!.id, { clientSecret })).toMatchObject({
        id: managed!.id,
        createdBy: 'toolmux',
        name: managed!.name,
      });
      expect((await mux.connectedAccounts.refresh(accountId)).status).toBe('ACTIVE');
    });

    it('changes the fields given, per type, and refuses the others with the fields it takes', async () => {
      const { mux } = instance();
      const oauth = await mux.authConfigs.create('octo', { type: 'oauth2', clientId: 'first', name: 'one' });
      expect(oauth.hasClientSecret).toBe(false);
      expect(
        await mux.authConfigs.update(oauth.id, {
          clientId: 'second',
          scopes: ['openid'],
          clientSecret: 's3',
        }),
      ).toMatchObject({ clientId: 'second', scopes: ['openid'], name: 'one', hasClientSecret: true });
      // a field given as undefined keeps its value
      expect(
        await mux.authConfigs.update(oauth.id, { name: 'two', clientId: undefined, scopes: undefined }),
      ).toMatchObject({ clientId: 'second', scopes: ['openid'], name: 'two', hasClientSecret: true });

      const fields = await mux.authConfigs.create('mail', { type: 'api_key', name: 'Mail' });
      expect(await mux.authConfigs.update(fields.id, { name: 'Mail (work)' })).toMatchObject({
        type: 'api_key',
        name: 'Mail (work)',
      });
      const refused = await rejection(
        mux.authConfigs.update(fields.id, { clientSecret: 'nope-not-stored' }),
        'AUTH_CONFIG_INVALID',
      );
      expect(refused.message).toBe(
        `"clientSecret" cannot be updated on api_key auth config ${fields.id}: give one or more of name.`,
      );
      expect((await rejection(mux.authConfigs.update(oauth.id, {}), 'AUTH_CONFIG_INVALID')).message).toBe(
        `Nothing to update on oauth2 auth config ${oauth.id}: give one or more of clientId, clientSecret, scopes, name.`,
      );
      const typeChange = await rejection(
        mux.authConfigs.update(oauth.id, { type: 'api_key' } as never),
        'AUTH_CONFIG_INVALID',
      );
      expect(typeChange.message).toContain('"type" cannot be updated');
      expect(typeChange.message).toContain('create another auth config');
      // the checks of create()
      await rejection(mux.authConfigs.update(oauth.id, { clientId: ' ' }), 'AUTH_CONFIG_INVALID');
      await rejection(mux.authConfigs.update(oauth.id, { clientSecret: '' }), 'AUTH_CONFIG_INVALID');
      await rejection(mux.authConfigs.update(oauth.id, { scopes: 'repo' as never }), 'AUTH_CONFIG_INVALID');
      await rejection(mux.authConfigs.update(oauth.id, { name: 'x'.repeat(201) }), 'AUTH_CONFIG_INVALID');
      await rejection(mux.authConfigs.update('ac_unknown', { name: 'x' }), 'AUTH_CONFIG_NOT_FOUND');
      await rejection(mux.authConfigs.update('ca_123', { name: 'x' }), 'AUTH_CONFIG_NOT_FOUND');
      // nothing refused was written
      expect(await mux.authConfigs.get(oauth.id)).toMatchObject({ clientId: 'second', scopes: ['openid'] });
      await mux.authConfigs.delete(fields.id);
      await rejection(mux.authConfigs.update(fields.id, { name: 'gone' }), 'AUTH_CONFIG_NOT_FOUND');
    });

    it('refuses a client secret no token request can carry, never showing it, and more scopes than an app asks for', async () => {
      const { mux, logger } = instance();
      const config = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret,
      });
      const secrets = {
        // a lone surrogate cannot be form-encoded: every token request threw a URIError
        'a lone surrogate': `kept-${'s'.repeat(20)}\ud800`,
        'a NUL': `kept-${'s'.repeat(20)}\u0000`,
        'a line feed': `kept-${'s'.repeat(20)}\n`,
        'an overlong value': `kept-${'s'.repeat(8192)}`,
      };
      const messages: string[] = [];
      for (const [what, secret] of Object.entries(secrets)) {
        for (const attempt of [
          () => mux.authConfigs.update(config.id, { clientSecret: secret }),
          () => mux.authConfigs.create('octo', { type: 'oauth2', clientId: 'c', clientSecret: secret }),
        ]) {
          const refused = await rejection(attempt(), 'AUTH_CONFIG_INVALID');
          expect(refused.message, what).toMatch(/^clientSecret /);
          expect(refused.details).toMatchObject({ field: 'clientSecret' });
          messages.push(refused.message);
        }
      }
      const scopes = Array.from({ length: 1001 }, (_, index) => `scope${index}`);
      for (const attempt of [
        () => mux.authConfigs.update(config.id, { scopes }),
        () => mux.authConfigs.create('octo', { type: 'oauth2', clientId: 'c', scopes }),
      ]) {
        expect((await rejection(attempt(), 'AUTH_CONFIG_INVALID')).message).toContain(
          'scopes holds 1,001 entries, over the limit of 1,000',
        );
      }
      // scopes are joined with spaces in the authorization request: one with white space would ask for two
      for (const scope of ['repo user', 'repo\u3000user', ' repo']) {
        for (const attempt of [
          () => mux.authConfigs.update(config.id, { scopes: ['openid', scope] }),
          () => mux.authConfigs.create('octo', { type: 'oauth2', clientId: 'c', scopes: [scope] }),
        ]) {
          const refused = await rejection(attempt(), 'AUTH_CONFIG_INVALID');
          expect(refused.message, JSON.stringify(scope)).toContain(
            `scope ${JSON.stringify(scope)} holds white space, which separates scopes in an OAuth request: give each scope as its own entry`,
          );
          expect(refused.details).toMatchObject({ field: 'scopes' });
        }
      }
      // a field that cannot be updated is named escaped and cut, as every outside value
      const longField = await rejection(
        mux.authConfigs.update(config.id, { [`x\u0000${'y'.repeat(100_000)}`]: 1 } as never),
        'AUTH_CONFIG_INVALID',
      );
      expect(longField.message.length).toBeLessThan(400);
      expect(longField.message).toContain('"x\\u0000yyy');

      // nothing refused was stored: the config still refreshes with the secret it had
      expect(await mux.authConfigs.get(config.id)).toEqual(config);
      await mux.authConfigs.update(config.id, { clientSecret: `${clientSecret}` });
      const seen = JSON.stringify([messages, logger.warnings, logger.errors]);
      expect(seen).not.toContain('kept-sssss');
    });

    it('updates at once from two instances all apply, field by field', async () => {
      const a = instance();
      const b = instance();
      const config = await a.mux.authConfigs.create('octo', { type: 'oauth2', clientId: 'c0', name: 'n0' });
      await Promise.all([
        a.mux.authConfigs.update(config.id, { name: 'n1' }),
        b.mux.authConfigs.update(config.id, { scopes: ['repo'] }),
        a.mux.authConfigs.update(config.id, { clientSecret: 'sec-1' }),
        b.mux.authConfigs.update(config.id, { clientId: 'c1' }),
      ]);
      expect(await b.mux.authConfigs.get(config.id)).toMatchObject({
        name: 'n1',
        scopes: ['repo'],
        clientId: 'c1',
        hasClientSecret: true,
      });
    });
  });
});

describe('authConfigs.update on a store whose compare-and-set never matches (one of your own)', () => {
  it('gives up after a bounded number of attempts with STORE_ERROR naming the config and the fix, changing nothing', async () => {
    const inner = new SqliteStore({ path: ':memory:' });
    let attempts = 0;
    const neverMatching = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'updateAuthConfig') {
          return async () => {
            attempts++;
            return undefined;
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: neverMatching,
      secretKey,
      logger: quiet,
    });
    try {
      const config = await mux.authConfigs.create('mail', { type: 'api_key', name: 'before' });
      const refused = await rejection(mux.authConfigs.update(config.id, { name: 'after' }), 'STORE_ERROR');
      expect(refused.message).toBe(
        `The store refused to update auth config ${config.id} 20 times in a row although it read it unchanged each time: a store of your own must write in updateAuthConfig() when the record's updatedAt equals expectedUpdatedAt (to the millisecond) and answer the written record. Nothing was changed.`,
      );
      expect(attempts).toBe(20);
      expect(await mux.authConfigs.get(config.id)).toEqual(config);
    } finally {
      await mux.close();
    }
  });
});
