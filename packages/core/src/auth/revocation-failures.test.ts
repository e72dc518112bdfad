import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { databaseBackends, databasePerTest, rejection } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * Deleting accounts holding other people's OAuth tokens, when revoking one account's tokens fails: the
 * provider answers an error or garbage, cannot be reached or never answers, or the stored tokens
 * cannot be opened (altered, or sealed with a secret key no longer configured). One account's failure
 * must never keep the other accounts' tokens live, nor an account that nobody can ever read again from
 * being deleted; what could not be revoked is named (without secrets) for the operator.
 */

const oldKey = Buffer.alloc(32, 21).toString('base64');
const currentKey = Buffer.alloc(32, 22).toString('base64');
const backends = await databaseBackends();

/** A real authorization server (oidc-provider) with token revocation, and the callback server in front. */
let oauthServer: TestOAuthServerWithCallback;
/**
 * A revocation endpoint that misbehaves, by the token it is asked to revoke (`failing`): 500, a
 * 400 whose body is not JSON, the connection closed without an answer, or no answer at all.
 */
let brokenRevocation: { url: string; server: Server };
const failing = new Map<string, 'error' | 'garbage' | 'hang-up' | 'silence'>();

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? '';
      const how = failing.get(token);
      if (how === 'error') {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":"server_error"}');
      } else if (how === 'garbage') {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end('<html>\u0000 not json');
      } else if (how === 'hang-up') {
        request.socket.destroy();
      }
      // 'silence': never answers; toolmux's oauthRequestTimeoutMs ends the request
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  brokenRevocation = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/revoke`, server };
});
afterAll(async () => {
  brokenRevocation.server.closeAllConnections();
  await new Promise((resolve) => brokenRevocation.server.close(resolve));
  await oauthServer.close();
});

interface Issued {
  accessToken: string;
  refreshToken: string;
}

/**
 * toolmux's fetch: records the tokens the token endpoint answers, and sends a revocation of a token in
 * `failing` to the misbehaving endpoint instead of the provider's.
 */
function providerFetch(issued: Issued[]): typeof fetch {
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === oauthServer.revocationUrl) {
      const token = new URLSearchParams(String(init?.body ?? '')).get('token') ?? '';
      if (failing.has(token)) return fetch(brokenRevocation.url, init);
    }
    const response = await fetch(input, init);
    if (url === oauthServer.tokenUrl) {
      const json = (await response.clone().json()) as { access_token: string; refresh_token: string };
      issued.push({ accessToken: json.access_token, refreshToken: json.refresh_token });
    }
    return response;
  };
}

/** Whether the provider still honours the tokens (the access token at its userinfo endpoint, too). */
async function live(tokens: Issued): Promise<boolean> {
  const access = (await oauthServer.provider.AccessToken.find(tokens.accessToken)) !== undefined;
  const refresh = (await oauthServer.provider.RefreshToken.find(tokens.refreshToken)) !== undefined;
  const userinfo = await fetch(oauthServer.userinfoUrl, {
    headers: { authorization: `Bearer ${tokens.accessToken}` },
  });
  await userinfo.arrayBuffer();
  expect(userinfo.status === 200).toBe(access);
  expect(refresh).toBe(access);
  return access;
}

describe.each(backends)(
  'revoking the tokens of deleted accounts fails for one, on $name',
  ({ skipReason, open }) => {
    describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'revocation', () => {
      const { database, opened } = databasePerTest(open, {
        afterClose: () => {
          oauthServer.current = undefined;
          failing.clear();
        },
      });
      /** The tokens the provider issued, in the order of the connections. */
      const issued: Issued[] = [];

      function setup(
        options: { secretKey?: string; previousSecretKeys?: string[]; store?: string | Store } = {},
      ) {
        const logger = recordingLogger();
        const mux = new ToolMux({
          toolkits: [octoToolkit(oauthServer).toolkit],
          store: options.store ?? database.spec,
          logger,
          secretKey: options.secretKey ?? currentKey,
          ...(options.previousSecretKeys ? { previousSecretKeys: options.previousSecretKeys } : {}),
          oauthRedirectUri: oauthServer.redirectUri,
          oauthRequestTimeoutMs: 1_000,
          fetch: providerFetch(issued),
        });
        opened.push(mux);
        return { mux, logger };
      }

      async function oauthConfig(mux: ToolMux): Promise<string> {
        const config = await mux.authConfigs.create('octo', {
          type: 'oauth2',
          clientId: oauthServer.clientId,
          clientSecret: oauthServer.clientSecret,
        });
        return config.id;
      }

      /** Connects `userId` through `mux` (its callback lands there); the account's id and tokens. */
      async function connect(mux: ToolMux, configId: string, userId: string) {
        oauthServer.current = mux;
        const request = await mux.connectedAccounts.link(userId, configId, {
          callbackUrl: 'http://localhost:3000/connected',
        });
        const callback = await oauthServer.signIn(request.redirectUrl, { login: userId });
        const response = await fetch(callback, { redirect: 'manual' });
        expect(new URL(response.headers.get('location')!).searchParams.get('status')).toBe('success');
        return { id: request.connectedAccountId!, tokens: issued.at(-1)! };
      }

      /** Gives account `id` the stored tokens of account `from`: they no longer decrypt (SECRET_DECRYPTION_FAILED). */
      async function alter(id: string, from: string): Promise<void> {
        await database.exec(
          `UPDATE toolmux_connected_accounts SET secret = (SELECT secret FROM toolmux_connected_accounts WHERE id = '${from}') WHERE id = '${id}'`,
        );
      }

      async function configs(): Promise<number> {
        const [row] = await database.rows('SELECT count(*) AS n FROM toolmux_auth_configs');
        return Number(row!.n);
      }

      it('an account whose stored tokens no longer decrypt is deleted, and the failure logged without secrets', async () => {
        const { mux, logger } = setup();
        const configId = await oauthConfig(mux);
        const kept = await connect(mux, configId, 'ada');
        const altered = await connect(mux, configId, 'bob');
        await alter(altered.id, kept.id);
        // on the code before: SECRET_DECRYPTION_FAILED, and the account could never be deleted
        await mux.connectedAccounts.delete(altered.id);
        await rejection(mux.connectedAccounts.get(altered.id), 'CONNECTED_ACCOUNT_NOT_FOUND');
        const warning = logger.warnings.find((line) => line.includes(altered.id));
        expect(warning).toContain('SECRET_DECRYPTION_FAILED');
        expect(warning).toContain('revoke them at the provider');
        // nobody could read its tokens to revoke them: they are still live at the provider
        expect(await live(altered.tokens)).toBe(true);
        expect(await live(kept.tokens)).toBe(true);
        for (const secret of [...Object.values(altered.tokens), ...Object.values(kept.tokens)]) {
          expect(logger.warnings.join('\n')).not.toContain(secret);
        }
      });

      it("authConfigs.delete() revokes every other account's tokens when one account's tokens no longer decrypt", async () => {
        const { mux, logger } = setup();
        const configId = await oauthConfig(mux);
        const first = await connect(mux, configId, 'ada');
        const second = await connect(mux, configId, 'bob');
        // the most recently connected: listed first, so deleted first
        const altered = await connect(mux, configId, 'cyd');
        await alter(altered.id, first.id);
        // on the code before: SECRET_DECRYPTION_FAILED at the first account, the others kept live
        await mux.authConfigs.delete(configId);
        expect(await configs()).toBe(0);
        expect((await mux.connectedAccounts.list()).items).toEqual([]);
        expect(await live(first.tokens)).toBe(false);
        expect(await live(second.tokens)).toBe(false);
        expect(logger.warnings.filter((line) => line.includes(altered.id))).toHaveLength(1);
      });

      it('authConfigs.delete() with an account sealed with a key no longer configured deletes the others and keeps that one and the config', async () => {
        // an instance of the old key that can open what the current key sealed (the config's client secret)
        const { mux: before } = setup({ secretKey: oldKey, previousSecretKeys: [currentKey] });
        const { mux } = setup();
        const configId = await oauthConfig(mux);
        const first = await connect(mux, configId, 'ada');
        const second = await connect(mux, configId, 'bob');
        const sealedWithOldKey = await connect(before, configId, 'cyd');

        const error = await rejection(mux.authConfigs.delete(configId), 'SECRET_KEY_MISSING');
        expect(error.message).toContain(`Auth config ${configId} was not deleted`);
        expect(error.message).toContain(sealedWithOldKey.id);
        expect(error.message).toContain('previousSecretKeys');
        expect(error.details).toMatchObject({
          authConfigId: configId,
          connectedAccountIds: [sealedWithOldKey.id],
        });
        // on the code before: the first account listed stopped the deletion, the others kept live
        expect(await live(first.tokens)).toBe(false);
        expect(await live(second.tokens)).toBe(false);
        // kept, with its tokens, for when the key is configured again
        expect((await mux.connectedAccounts.list()).items.map((account) => account.id)).toEqual([
          sealedWithOldKey.id,
        ]);
        expect(await live(sealedWithOldKey.tokens)).toBe(true);
        expect(await configs()).toBe(1);

        const { mux: fixed } = setup({ previousSecretKeys: [oldKey] });
        await fixed.authConfigs.delete(configId);
        expect(await live(sealedWithOldKey.tokens)).toBe(false);
        expect(await configs()).toBe(0);
      });

      it('accounts the store deletes with the config are all revoked when one of them cannot be', async () => {
        const { mux: connecting } = setup();
        const configId = await oauthConfig(connecting);
        const accounts: Array<Awaited<ReturnType<typeof connect>>> = [];
        // the deleting instance found no account; they are connected before the config goes, and the
        // store answers them with the config
        const store = await openStore(database.spec);
        const deleteAuthConfig = store.deleteAuthConfig.bind(store);
        store.deleteAuthConfig = async (id) => {
          for (const userId of ['ada', 'bob', 'cyd'])
            accounts.push(await connect(connecting, configId, userId));
          await alter(accounts[1]!.id, accounts[0]!.id);
          return deleteAuthConfig(id);
        };
        const { mux, logger } = setup({ store });
        // on the code before: SECRET_DECRYPTION_FAILED, and the accounts answered after it kept live
        await mux.authConfigs.delete(configId);
        expect(await configs()).toBe(0);
        expect(await live(accounts[0]!.tokens)).toBe(false);
        expect(await live(accounts[2]!.tokens)).toBe(false);
        const warning = logger.warnings.find((line) => line.includes(accounts[1]!.id));
        expect(warning).toContain('it was deleted with its auth config');
      });

      it('a provider that fails to revoke one account (an error, garbage, hanging up, silence) keeps no other live', async () => {
        const { mux, logger } = setup();
        const configId = await oauthConfig(mux);
        const ways = ['error', 'garbage', 'hang-up', 'silence'] as const;
        const broken: Array<Awaited<ReturnType<typeof connect>>> = [];
        for (const way of ways) {
          const account = await connect(mux, configId, `user-${way}`);
          failing.set(account.tokens.accessToken, way).set(account.tokens.refreshToken, way);
          broken.push(account);
        }
        const fine = await connect(mux, configId, 'ada');
        await mux.authConfigs.delete(configId);
        expect(await configs()).toBe(0);
        expect((await mux.connectedAccounts.list()).items).toEqual([]);
        expect(await live(fine.tokens)).toBe(false);
        for (const account of broken) {
          // each of its two tokens is logged as not revoked
          expect(logger.warnings.filter((line) => line.includes(account.id))).toHaveLength(2);
          expect(await live(account.tokens)).toBe(true);
        }
        const logged = logger.warnings.join('\n');
        for (const account of broken) {
          for (const secret of Object.values(account.tokens)) expect(logged).not.toContain(secret);
        }
      });
    });
  },
);
