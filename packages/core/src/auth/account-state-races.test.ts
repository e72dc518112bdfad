import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../session.js';
import { openStore } from '../store/open-store.js';
import type { ConnectedAccountChanges, Store } from '../store/types.js';
import { databaseBackends, databasePerTest, pastTime, quiet, rejection } from '../test/auth-fixtures.js';
import {
  type OctoCall,
  octoToolkit,
  signInToSuccess,
  startTestOAuthServer,
  startTestOAuthServerWithCallback,
  type TestOAuthServer,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { createGmailLikeToolkit } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * What a call's token refresh (or expiry) does when the application changes the account at the same
 * moment: a disable stands, a deletion is named as one, and tokens the refresh got for an account
 * deleted meanwhile are revoked, also at a provider that revokes tokens one at a time. And a
 * credential request refused by the account limit changes nothing (the alias it would take stays
 * where it was).
 */

const secretKey = Buffer.alloc(32, 11).toString('base64');
const appCallback = 'http://localhost:3000/connected';

/**
 * Revokes one token at a time (a rotated refresh token outlives the revocation of its parent); its
 * callback server takes the callbacks of both providers.
 */
let server: TestOAuthServerWithCallback;
/** Gives no refresh tokens: an expired access token ends the connection. */
let noRefresh: TestOAuthServer;

beforeAll(async () => {
  server = await startTestOAuthServerWithCallback({ revokes: 'token' });
  noRefresh = await startTestOAuthServer({ redirectUris: [server.redirectUri], refreshTokens: false });
});
afterAll(async () => {
  await server.close();
  await noRefresh.close();
});

const backends = await databaseBackends();

describe.each(backends)('account state changes during a call on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
    const stores: Store[] = [];
    const { database, opened } = databasePerTest(open, {
      afterClose: async () => {
        await Promise.all(stores.splice(0).map((store) => store.close()));
        server.current = undefined;
      },
    });
    /** Runs (once) before a refresh_token request goes out to the token endpoint. */
    let beforeRefresh: (() => Promise<void>) | undefined;
    /** Runs (once) after the token endpoint answered a refresh_token request, before toolmux reads it. */
    let afterRefresh: (() => Promise<void>) | undefined;
    /** Runs (once) before a revocation request goes out. */
    let beforeRevoke: (() => Promise<void>) | undefined;
    /** The tokens the refresh_token requests got. */
    let refreshed: Array<{ access_token: string; refresh_token?: string }>;
    /** What OCTO_WHOAMI saw. */
    let octoCalls: OctoCall[];

    beforeEach(() => {
      beforeRefresh = afterRefresh = beforeRevoke = undefined;
      refreshed = [];
    });

    const hookedFetch: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const isRefresh = url.endsWith('/token') && String(init?.body).includes('grant_type=refresh_token');
      if (isRefresh) {
        const hook = beforeRefresh;
        beforeRefresh = undefined;
        await hook?.();
      }
      if (url.endsWith('/token/revocation')) {
        const hook = beforeRevoke;
        beforeRevoke = undefined;
        await hook?.();
      }
      const response = await fetch(input, init);
      if (isRefresh) {
        const body = (await response.clone().json()) as { access_token?: string; refresh_token?: string };
        if (body.access_token) refreshed.push(body as { access_token: string });
        const hook = afterRefresh;
        afterRefresh = undefined;
        await hook?.();
      }
      return response;
    };

    function setup(provider: TestOAuthServer, store: string | Store = database.spec): ToolMux {
      const octo = octoToolkit(provider);
      octoCalls = octo.calls;
      const mux = new ToolMux({
        toolkits: [octo.toolkit, createGmailLikeToolkit({}).toolkit],
        store,
        secretKey,
        logger: quiet,
        fetch: hookedFetch,
        // every call reads the account from the store (the race is with the store, not the cache)
        accountCacheTtlMs: 0,
        oauthRedirectUri: server.redirectUri,
        managedAuth: { octo: { clientId: provider.clientId, clientSecret: provider.clientSecret } },
      });
      opened.push(mux);
      server.current = mux;
      return mux;
    }

    /** The store, with `hook` run (once) before the first account update whose changes `when` picks. */
    async function storeWithHook(
      when: (changes: ConnectedAccountChanges) => boolean,
      hook: () => Promise<unknown>,
    ): Promise<Store> {
      const real = await openStore(database.spec);
      stores.push(real);
      let pending: (() => Promise<unknown>) | undefined = hook;
      return new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => Promise<unknown>;
          if (property !== 'updateConnectedAccount') return method.bind(target);
          return async (id: string, changes: ConnectedAccountChanges, ...rest: unknown[]) => {
            if (pending && when(changes)) {
              const run = pending;
              pending = undefined;
              await run();
            }
            return method.call(target, id, changes, ...rest);
          };
        },
      });
    }

    /** Ada's session and her connected octo account (signed in at `provider`). */
    async function connect(mux: ToolMux, provider: TestOAuthServer) {
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      return { session, id: await signInToSuccess(provider, request) };
    }

    /** Makes the account's access token expired (or about to), so that the next call refreshes it. */
    async function expire(id: string): Promise<void> {
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${id}'`,
      );
    }

    async function row(id: string) {
      const [found] = await database.rows(
        `SELECT status, refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${id}'`,
      );
      return found;
    }

    it('an account disabled while a call marks its token expired (no refresh token) stays disabled', async () => {
      let mux!: ToolMux;
      let id!: string;
      const store = await storeWithHook(
        (changes) => changes.status === 'EXPIRED',
        () => mux.connectedAccounts.disable(id),
      );
      mux = setup(noRefresh, store);
      const connected = await connect(mux, noRefresh);
      id = connected.id;
      await expire(id);
      const result = await connected.session.execute('OCTO_WHOAMI', {});
      expect(result.successful).toBe(false);
      // the disable came first: it stands, and the call says the account is not usable for that reason
      expect((await mux.connectedAccounts.get(id)).status).toBe('INACTIVE');
      expect(result.code).toBe('CONNECTION_REQUIRED');
      expect(result.error).toContain('INACTIVE');
    });

    it('a call whose account is disabled while its token is refreshed does not use it; the new tokens are kept', async () => {
      const mux = setup(server);
      const { session, id } = await connect(mux, server);
      await expire(id);
      beforeRefresh = async () => {
        await mux.connectedAccounts.disable(id);
      };
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(refreshed).toHaveLength(1);
      expect(result.successful).toBe(false);
      expect(result.code).toBe('CONNECTION_REQUIRED');
      expect((await mux.connectedAccounts.get(id)).status).toBe('INACTIVE');
      // the rotated tokens were stored: enabled again, the account works without another refresh
      await mux.connectedAccounts.enable(id);
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      expect(refreshed).toHaveLength(1);
    });

    it('a refresh refused (invalid_grant) while the account is disabled leaves it disabled, without a held lease', async () => {
      const mux = setup(server);
      const { session, id } = await connect(mux, server);
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      const accessToken = octoCalls.at(-1)!.credentials!.accessToken!;
      await expire(id);
      // while the refresh is under way the application disables the account, and the user revokes the
      // app at the provider: the refresh token is refused
      beforeRefresh = async () => {
        await mux.connectedAccounts.disable(id);
        await server.revokeGrantOf(accessToken);
      };
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result.code).toBe('CONNECTION_REQUIRED');
      const after = await row(id);
      expect(after?.status).toBe('INACTIVE');
      // the refresh let go of its lease: enabled again, the next call does not wait for it
      expect(after?.refresh_lease_until).toBeNull();
    });

    it('a call whose account is deleted while its token is refreshed answers CONNECTED_ACCOUNT_NOT_FOUND', async () => {
      const mux = setup(server);
      const { session, id } = await connect(mux, server);
      await expire(id);
      // the deletion revokes the refresh token at the provider first: the refresh is refused
      beforeRefresh = () => mux.connectedAccounts.delete(id);
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result.successful).toBe(false);
      expect(result.code).toBe('CONNECTED_ACCOUNT_NOT_FOUND');
      expect(result.error).toContain('deleted');
      expect(result.error).toContain(id);
    });

    /**
     * Ada's connected octo account whose access token the provider refuses now (signed out), and
     * whose next refreshed access token it refuses too: a call refreshes once, is refused again, and
     * makes its final renewal, which tries to mark the account EXPIRED.
     */
    async function refusedTwice(mux: ToolMux) {
      const connected = await connect(mux, server);
      expect((await connected.session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      await server.revokeAccessToken(octoCalls.at(-1)!.credentials!.accessToken!);
      afterRefresh = () => server.revokeAccessToken(refreshed.at(-1)!.access_token);
      return connected;
    }

    it('a final renewal whose mark loses to a refresh another call finished goes on with the new token', async () => {
      let mux!: ToolMux;
      let id!: string;
      // the call read the account with its refused token; before its mark, another call refreshes it
      const store = await storeWithHook(
        (changes) => changes.status === 'EXPIRED',
        () => mux.connectedAccounts.refresh(id),
      );
      mux = setup(server, store);
      const connected = await refusedTwice(mux);
      id = connected.id;
      const result = await connected.session.execute('OCTO_WHOAMI', {});
      expect(refreshed).toHaveLength(2);
      expect(result.error).toBeNull();
      expect(result.successful).toBe(true);
      expect(octoCalls.at(-1)!.credentials!.accessToken).toBe(refreshed[1]!.access_token);
      expect((await mux.connectedAccounts.get(id)).status).toBe('ACTIVE');
    });

    it('a final renewal whose mark meets a refresh under way in another instance waits for its token', async () => {
      let other!: ToolMux;
      let id!: string;
      let elsewhere!: Promise<unknown>;
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const real = await openStore(database.spec);
      stores.push(real);
      let marks = 0;
      const store: Store = new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => Promise<unknown>;
          if (property !== 'updateConnectedAccount') return method.bind(target);
          return async (accountId: string, changes: ConnectedAccountChanges, ...rest: unknown[]) => {
            if (changes.status !== 'EXPIRED' || marks++ > 0)
              return method.call(target, accountId, changes, ...rest);
            // the other instance takes the refresh lease and sends its token request, whose answer is
            // held until this mark has been tried
            let leased!: () => void;
            const sent = new Promise<void>((resolve) => {
              leased = resolve;
            });
            beforeRefresh = async () => {
              leased();
              await held;
            };
            elsewhere = other.connectedAccounts.refresh(id);
            await sent;
            try {
              return await method.call(target, accountId, changes, ...rest);
            } finally {
              release();
            }
          };
        },
      });
      const mux = setup(server, store);
      const connected = await refusedTwice(mux);
      id = connected.id;
      const calls = octoCalls;
      other = setup(server);
      const result = await connected.session.execute('OCTO_WHOAMI', {});
      await elsewhere;
      expect(refreshed).toHaveLength(2);
      expect(result.error).toBeNull();
      expect(result.successful).toBe(true);
      expect(calls.at(-1)!.credentials!.accessToken).toBe(refreshed[1]!.access_token);
      expect(await row(id)).toMatchObject({ status: 'ACTIVE', refresh_lease_until: null });
    });

    it('tokens a refresh got for an account deleted meanwhile are revoked', async () => {
      const mux = setup(server);
      const { session, id } = await connect(mux, server);
      await expire(id);
      // the provider answered the refresh; before toolmux stores the new tokens, the account is deleted
      afterRefresh = () => mux.connectedAccounts.delete(id);
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result.code).toBe('CONNECTED_ACCOUNT_NOT_FOUND');
      expect(refreshed).toHaveLength(1);
      const [tokens] = refreshed;
      expect(tokens!.refresh_token).toBeDefined();
      expect(await server.provider.AccessToken.find(tokens!.access_token)).toBeUndefined();
      expect(await server.provider.RefreshToken.find(tokens!.refresh_token!)).toBeUndefined();
    });

    it.each([
      { what: 'a deletion', remove: (mux: ToolMux, id: string) => mux.connectedAccounts.delete(id) },
      {
        what: 'a deletion of its auth config',
        remove: async (mux: ToolMux, id: string) =>
          mux.authConfigs.delete((await mux.connectedAccounts.get(id)).authConfigId),
      },
    ])(
      '$what that read the tokens before a refresh stored new ones revokes the new ones too',
      async ({ remove }) => {
        const mux = setup(server);
        const { session, id } = await connect(mux, server);
        await expire(id);
        let call!: Promise<unknown>;
        let deletion!: Promise<void>;
        let revoking!: () => void;
        const revocationStarted = new Promise<void>((resolve) => {
          revoking = resolve;
        });
        // the refresh's token request waits until the deletion (which read the old tokens) revokes them …
        beforeRefresh = async () => {
          deletion = remove(mux, id);
          await revocationStarted;
        };
        // … and the deletion's revocation waits until the refresh stored the new tokens
        beforeRevoke = async () => {
          revoking();
          await call;
        };
        call = session.execute('OCTO_WHOAMI', {});
        expect(((await call) as { successful: boolean }).successful).toBe(true);
        await deletion;
        await rejection(mux.connectedAccounts.get(id), 'CONNECTED_ACCOUNT_NOT_FOUND');
        const [tokens] = refreshed;
        expect(await server.provider.AccessToken.find(tokens!.access_token)).toBeUndefined();
        expect(await server.provider.RefreshToken.find(tokens!.refresh_token!)).toBeUndefined();
      },
    );

    it('a connection whose request could not be recorded as completed stays connected', async () => {
      const real = await openStore(database.spec);
      stores.push(real);
      let failOnce = true;
      const flaky: Store = new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          if (property !== 'finishConnectionRequest') return value.bind(target);
          return async (id: string, status: 'COMPLETED' | 'FAILED') => {
            if (status === 'COMPLETED' && failOnce) {
              failOnce = false;
              throw new Error('the database went away for a moment');
            }
            return real.finishConnectionRequest(id, status);
          };
        },
      });
      const mux = setup(server, flaky);
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      const response = await fetch(await server.signIn(request.redirectUrl), { redirect: 'manual' });
      const back = new URL(response.headers.get('location')!).searchParams;
      // the tokens were stored and the account made ACTIVE before the failure: it is not marked FAILED
      expect((await mux.connectedAccounts.get(request.connectedAccountId!)).status).toBe('ACTIVE');
      expect(back.get('status')).toBe('success');
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
    });

    it('dropping an abandoned attempt spares it when its callback connects it at that moment', async () => {
      let activated!: () => void;
      const connected = new Promise<void>((resolve) => {
        activated = resolve;
      });
      let attemptId: string | undefined;
      const real = await openStore(database.spec);
      stores.push(real);
      const paused: Store = new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => Promise<unknown>;
          if (property === 'deleteConnectedAccount') {
            return async (id: string, ...rest: unknown[]) => {
              // the drop read the attempt INITIATED; its delete lands after the callback connected it
              if (id === attemptId) await connected;
              return method.call(target, id, ...rest);
            };
          }
          if (property === 'updateConnectedAccount') {
            return async (id: string, changes: ConnectedAccountChanges, ...rest: unknown[]) => {
              const result = await method.call(target, id, changes, ...rest);
              if (id === attemptId && changes.status === 'ACTIVE') activated();
              return result;
            };
          }
          return method.bind(target);
        },
      });
      const mux = setup(server, paused);
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const first = await session.authorize('octo', { callbackUrl: appCallback });
      attemptId = first.connectedAccountId!;
      const callback = await server.signIn(first.redirectUrl);
      // the attempt looks abandoned (made long ago) while its request still works
      await database.exec(
        `UPDATE toolmux_connected_accounts SET created_at = ${pastTime(database.spec, 16 * 60_000)} WHERE id = '${attemptId}'`,
      );
      const second = session.authorize('octo', { callbackUrl: appCallback });
      const response = await fetch(callback, { redirect: 'manual' });
      expect(new URL(response.headers.get('location')!).searchParams.get('status')).toBe('success');
      await second;
      expect((await mux.connectedAccounts.get(attemptId)).status).toBe('ACTIVE');
    });

    it('a credential request refused by the account limit leaves the alias with the expired account that has it', async () => {
      const mux = setup(server);
      const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
      const session = await mux.create('ada', {
        authConfigs: { gmail: config.id },
        multiAccount: { enable: true, maxAccountsPerToolkit: 2 },
      });
      // started while Ada had room and nobody had the alias
      const request = await session.authorize('gmail', { alias: 'work' });
      // meanwhile: an account under the alias was connected, then expired; two others are connected
      const old = await mux.connectedAccounts.create('ada', config.id, { apiKey: 'old' }, { alias: 'work' });
      await database.exec(`UPDATE toolmux_connected_accounts SET status = 'EXPIRED' WHERE id = '${old.id}'`);
      const other = await mux.connectedAccounts.create('ada', config.id, { apiKey: 'other' });
      await mux.connectedAccounts.create('ada', config.id, { apiKey: 'third' });
      const refused = await mux.connectionRequests
        .complete(request.id, { apiKey: 'new' })
        .catch((error: { code: string }) => error.code);
      expect(refused).toBe('ACCOUNT_LIMIT_REACHED');
      // nothing changed: the expired account keeps its alias, so reconnecting it later finds it by name
      expect((await mux.connectedAccounts.get(old.id)).alias).toBe('work');
      expect((await mux.connectionRequests.get(request.id)).status).toBe('PENDING');
      // with room again, the same completion takes the alias
      await mux.connectedAccounts.delete(other.id);
      const connected = await mux.connectionRequests.complete(request.id, { apiKey: 'new' });
      expect(connected.alias).toBe('work');
      expect((await mux.connectedAccounts.get(old.id)).alias).toBeNull();
    });

    it('a credential request started under the alias of an expired account takes it only when completed', async () => {
      const mux = setup(server);
      const config = await mux.authConfigs.create('gmail', { type: 'api_key' });
      const old = await mux.connectedAccounts.create('ada', config.id, { apiKey: 'old' }, { alias: 'work' });
      await database.exec(`UPDATE toolmux_connected_accounts SET status = 'EXPIRED' WHERE id = '${old.id}'`);
      const session = await mux.create('ada', {
        authConfigs: { gmail: config.id },
        multiAccount: { enable: true },
      });
      const request = await session.authorize('gmail', { alias: 'work' });
      // not completed (and maybe never): the expired account keeps its alias
      expect((await mux.connectedAccounts.get(old.id)).alias).toBe('work');
      const connected = await mux.connectionRequests.complete(request.id, { apiKey: 'new' });
      expect(connected.alias).toBe('work');
      expect((await mux.connectedAccounts.get(old.id)).alias).toBeNull();
    });

    /** Signs in at the provider for `request` and follows the callback: its `status` and `error`. */
    async function finish(request: { redirectUrl: string }) {
      const response = await fetch(await server.signIn(request.redirectUrl), { redirect: 'manual' });
      const back = new URL(response.headers.get('location')!).searchParams;
      return { status: back.get('status'), error: back.get('error') };
    }

    /** Ada's octo account under `alias`, connected through OAuth, then EXPIRED (she must sign in again). */
    async function expiredUnder(mux: ToolMux, alias: string): Promise<string> {
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const request = await session.authorize('octo', { callbackUrl: appCallback, alias });
      expect((await finish(request)).status).toBe('success');
      const id = request.connectedAccountId!;
      await database.exec(`UPDATE toolmux_connected_accounts SET status = 'EXPIRED' WHERE id = '${id}'`);
      return id;
    }

    it('an OAuth attempt under the alias of an expired account takes it only when connected', async () => {
      const mux = setup(server);
      const old = await expiredUnder(mux, 'work');
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const abandoned = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      // the user has not signed in (and may never): the expired account still answers to the alias
      expect((await mux.connectedAccounts.get(old)).alias).toBe('work');
      const byAlias = await session.execute('OCTO_WHOAMI', {}, { account: 'work' });
      expect(byAlias.code).toBe('CONNECTION_EXPIRED');
      // an attempt left for good is dropped when the next one starts: the alias stayed where it was
      await database.exec(
        `UPDATE toolmux_connected_accounts SET created_at = ${pastTime(database.spec, 16 * 60_000)} WHERE id = '${abandoned.connectedAccountId}'`,
      );
      const again = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      expect((await mux.connectedAccounts.list({ userIds: ['ada'] })).items.map((a) => a.id).sort()).toEqual(
        [old, again.connectedAccountId].sort(),
      );
      expect((await mux.connectedAccounts.get(old)).alias).toBe('work');
      // signed in: the new account has the alias, the expired one lets go of it
      expect((await finish(again)).status).toBe('success');
      expect((await mux.connectedAccounts.get(again.connectedAccountId!)).alias).toBe('work');
      expect((await mux.connectedAccounts.get(old)).alias).toBeNull();
      expect((await session.execute('OCTO_WHOAMI', {}, { account: 'work' })).successful).toBe(true);
      // an ACTIVE account has the alias now: a new attempt under it is refused at the start
      const taken = await session
        .authorize('octo', { callbackUrl: appCallback, alias: 'work' })
        .catch((error: { code: string }) => error.code);
      expect(taken).toBe('ALIAS_TAKEN');
    });

    it('of two OAuth attempts under one alias, the first connected has it; the other is refused', async () => {
      const mux = setup(server);
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const first = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      const second = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      expect((await finish(second)).status).toBe('success');
      expect((await mux.connectedAccounts.get(second.connectedAccountId!)).alias).toBe('work');
      // the alias is an ACTIVE account's now: the other attempt is not kept (its tokens are revoked)
      expect(await finish(first)).toEqual({ status: 'failed', error: 'alias_taken' });
      const refused = await mux.connectedAccounts.get(first.connectedAccountId!);
      expect(refused).toMatchObject({ status: 'FAILED', alias: null });
      expect(refused.statusReason).toContain('ALIAS_TAKEN'.toLowerCase());
      expect((await mux.connectedAccounts.get(second.connectedAccountId!)).alias).toBe('work');
    });

    /**
     * An OAuth attempt under `alias` as versions before the alias moved at activation left it: the
     * INITIATED account holds the alias, its request none.
     */
    async function oldAttemptUnder(session: Session, alias: string) {
      const request = await session.authorize('octo', { callbackUrl: appCallback, alias });
      await database.exec(`UPDATE toolmux_connection_requests SET alias = NULL WHERE id = '${request.id}'`);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET alias = '${alias}' WHERE id = '${request.connectedAccountId}'`,
      );
      return request;
    }

    it('an OAuth attempt left by an older version holding an alias does not keep others from it', async () => {
      const mux = setup(server);
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const old = await oldAttemptUnder(session, 'work');
      // a new attempt under it starts, and another account can be renamed to it while the old one waits
      const again = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      const home = await session.authorize('octo', { callbackUrl: appCallback, alias: 'home' });
      expect((await finish(home)).status).toBe('success');
      const renamed = await mux.connectedAccounts.update(home.connectedAccountId!, { alias: 'work' });
      expect(renamed.alias).toBe('work');
      await mux.connectedAccounts.update(home.connectedAccountId!, { alias: 'home' });
      expect((await finish(again)).status).toBe('success');
      expect((await mux.connectedAccounts.get(again.connectedAccountId!)).alias).toBe('work');
      // the old attempt, finished last, connects without the alias an account has now
      expect((await finish(old)).status).toBe('success');
      expect((await mux.connectedAccounts.get(old.connectedAccountId!)).alias).toBeNull();
      expect((await session.execute('OCTO_WHOAMI', {}, { account: 'work' })).successful).toBe(true);
    });

    it('an OAuth attempt left by an older version holding an alias connects under it when finished first', async () => {
      const mux = setup(server);
      const session = await mux.create('ada', { toolkits: ['octo'], multiAccount: { enable: true } });
      const old = await oldAttemptUnder(session, 'work');
      const again = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      expect((await finish(old)).status).toBe('success');
      expect((await mux.connectedAccounts.get(old.connectedAccountId!)).alias).toBe('work');
      expect(await finish(again)).toEqual({ status: 'failed', error: 'alias_taken' });
    });

    it('an OAuth callback refused by the account limit leaves the alias with the expired account that has it', async () => {
      const mux = setup(server);
      const old = await expiredUnder(mux, 'work');
      const session = await mux.create('ada', {
        toolkits: ['octo'],
        multiAccount: { enable: true, maxAccountsPerToolkit: 2 },
      });
      // started while Ada had room; two other accounts are connected before she signs in
      const request = await session.authorize('octo', { callbackUrl: appCallback, alias: 'work' });
      for (const alias of ['home', 'side']) {
        expect(
          (await finish(await session.authorize('octo', { callbackUrl: appCallback, alias }))).status,
        ).toBe('success');
      }
      expect(await finish(request)).toEqual({ status: 'failed', error: 'account_limit_reached' });
      const attempt = await mux.connectedAccounts.get(request.connectedAccountId!);
      expect(attempt.status).toBe('FAILED');
      expect(attempt.alias).toBeNull();
      // nothing changed: the expired account keeps its alias, so reconnecting it later finds it by name
      expect((await mux.connectedAccounts.get(old)).alias).toBe('work');
    });
  });
});
