import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
import { ACCOUNTS_REVOKED_AT_ONCE } from './auth-configs.js';

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
 * 400 whose body is not JSON, the connection closed without an answer, or no answer at all; or one
 * that holds the request (`held`) and then passes it on to the provider's.
 */
let brokenRevocation: { url: string; server: Server };
const failing = new Map<string, 'error' | 'garbage' | 'hang-up' | 'silence' | 'hold' | 'quote'>();
/** What a `quote` revocation quotes in its error besides the request's Basic credentials, by token. */
const quoting = new Map<string, string>();

/**
 * The revocations the endpoint holds: none is answered until as many as toolmux should send at once
 * wait (both tokens of {@link ACCOUNTS_REVOKED_AT_ONCE} accounts, or of every account still to be
 * revoked), then all of them are passed on to the provider. Toolmux revoking fewer at once never gets
 * an answer (its requests time out, the tokens stay live); the most accounts that had a revocation
 * under way at once is recorded.
 */
let held:
  | {
      /** The account (its index) of each token to hold. */
      accountOf: Map<string, number>;
      waiting: Array<{ token: string; release: () => Promise<void> }>;
      /** The tokens whose revocation was received and not answered yet. */
      inFlight: Set<string>;
      answered: number;
      mostAccountsAtOnce: number;
    }
  | undefined;

/** Holds a revocation request (see {@link held}), and passes those waiting on once enough are. */
function hold(token: string, request: IncomingMessage, body: Buffer, response: ServerResponse): void {
  const holding = held!;
  holding.waiting.push({
    token,
    release: async () => {
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      try {
        const answer = await fetch(oauthServer.revocationUrl, {
          method: 'POST',
          headers,
          body: body.toString(),
        });
        const text = await answer.text();
        response.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'text/plain',
        });
        response.end(text);
      } catch {
        response.destroy();
      }
    },
  });
  // counted until answered: a revocation sent while released ones are still on their way counts too
  holding.inFlight.add(token);
  response.on('close', () => holding.inFlight.delete(token));
  const accounts = new Set([...holding.inFlight].map((inFlight) => holding.accountOf.get(inFlight)));
  holding.mostAccountsAtOnce = Math.max(holding.mostAccountsAtOnce, accounts.size);
  const toRevoke = holding.accountOf.size - holding.answered;
  if (holding.waiting.length < Math.min(2 * ACCOUNTS_REVOKED_AT_ONCE, toRevoke)) return;
  const released = holding.waiting.splice(0);
  holding.answered += released.length;
  for (const waiting of released) void waiting.release();
}

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const token = new URLSearchParams(body.toString()).get('token') ?? '';
      const how = failing.get(token);
      if (how === 'hold') {
        hold(token, request, body, response);
      } else if (how === 'error') {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":"server_error"}');
      } else if (how === 'garbage') {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end('<html>\u0000 not json');
      } else if (how === 'quote') {
        // a provider that tells too much: the request's client credentials and the account's other token
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: 'invalid_request',
            error_description: `${request.headers.authorization} may not revoke this while ${quoting.get(token)} is live`,
          }),
        );
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
          quoting.clear();
          held = undefined;
        },
      });
      /** The tokens the provider issued, in the order of the connections. */
      const issued: Issued[] = [];

      function setup(
        options: {
          secretKey?: string;
          previousSecretKeys?: string[];
          store?: string | Store;
          oauthRequestTimeoutMs?: number;
        } = {},
      ) {
        const logger = recordingLogger();
        const mux = new ToolMux({
          toolkits: [octoToolkit(oauthServer).toolkit],
          store: options.store ?? database.spec,
          logger,
          secretKey: options.secretKey ?? currentKey,
          ...(options.previousSecretKeys ? { previousSecretKeys: options.previousSecretKeys } : {}),
          oauthRedirectUri: oauthServer.redirectUri,
          oauthRequestTimeoutMs: options.oauthRequestTimeoutMs ?? 1_000,
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

      it("a provider whose refusal quotes the client's Basic credentials and the account's other token has them masked in the log", async () => {
        const { mux, logger } = setup();
        const configId = await oauthConfig(mux);
        const { id, tokens } = await connect(mux, configId, 'ada');
        failing.set(tokens.accessToken, 'quote').set(tokens.refreshToken, 'quote');
        quoting.set(tokens.accessToken, tokens.refreshToken).set(tokens.refreshToken, tokens.accessToken);
        await mux.connectedAccounts.delete(id);
        const warnings = logger.warnings.filter((line) => line.includes(id));
        expect(warnings).toHaveLength(2);
        for (const warning of warnings) {
          expect(warning).toContain(
            '(invalid_request: Basic [REDACTED] may not revoke this while [REDACTED] is live)',
          );
        }
        const basic = Buffer.from(
          `${oauthServer.clientId.replaceAll('-', '%2D')}:${oauthServer.clientSecret.replaceAll('_', '%5F')}`,
        ).toString('base64');
        for (const secret of [tokens.accessToken, tokens.refreshToken, basic, oauthServer.clientSecret]) {
          expect(logger.warnings.join('\n')).not.toContain(secret);
        }
      });

      it.each([
        ['listed', false],
        ['handed back by the store with the config', true],
      ] as const)(
        `authConfigs.delete() revokes accounts ${ACCOUNTS_REVOKED_AT_ONCE} at a time (%s), both tokens of each at once`,
        async (_, handedBack) => {
          const { mux: connecting } = setup();
          const configId = await oauthConfig(connecting);
          const accounts: Array<Awaited<ReturnType<typeof connect>>> = [];
          const connectAll = async () => {
            // more than are revoked at once: some wait for a place
            for (let index = 0; index < ACCOUNTS_REVOKED_AT_ONCE + 2; index++) {
              const account = await connect(connecting, configId, `user-${index}`);
              failing.set(account.tokens.accessToken, 'hold').set(account.tokens.refreshToken, 'hold');
              held!.accountOf.set(account.tokens.accessToken, index).set(account.tokens.refreshToken, index);
              accounts.push(account);
            }
          };
          held = {
            accountOf: new Map(),
            waiting: [],
            inFlight: new Set(),
            answered: 0,
            mostAccountsAtOnce: 0,
          };
          // handed back: the deleting instance lists none; they are connected before the config goes
          const store = await openStore(database.spec);
          if (handedBack) {
            const deleteAuthConfig = store.deleteAuthConfig.bind(store);
            store.deleteAuthConfig = async (id) => {
              await connectAll();
              return deleteAuthConfig(id);
            };
          } else {
            await connectAll();
          }
          // the held requests wait for the others toolmux sends meanwhile, well within this timeout
          const { mux, logger } = setup({ store, oauthRequestTimeoutMs: 3_000 });
          await mux.authConfigs.delete(configId);
          // on the code before: one account, one token at a time, so no held request was ever answered
          expect(held!.mostAccountsAtOnce).toBe(ACCOUNTS_REVOKED_AT_ONCE);
          expect(held!.answered).toBe(2 * accounts.length);
          expect(logger.warnings).toEqual([]);
          expect(await configs()).toBe(0);
          expect((await mux.connectedAccounts.list()).items).toEqual([]);
          for (const account of accounts) expect(await live(account.tokens)).toBe(false);
        },
        120_000,
      );
    });
  },
);
