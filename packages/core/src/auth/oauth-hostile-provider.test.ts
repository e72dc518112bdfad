import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { OAuth2Scheme } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { databaseBackends, databasePerTest, pastTime, rejection } from '../test/auth-fixtures.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * An authorization server that misbehaves: a node:http server on loopback whose token endpoint answers
 * what each test scripts (oidc-provider answers correctly, so it cannot produce these answers). The
 * connection goes through toolmux's real callback and token requests; the store is real.
 */

/** Answers one token request; `form` is the request's form body. */
type TokenAnswer = (form: URLSearchParams, response: ServerResponse) => void;

interface SeenRequest {
  path: string;
  authorization: string | undefined;
  form: URLSearchParams;
}

interface ScriptedServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

async function startScriptedServer(
  answer: (path: string, form: URLSearchParams, response: ServerResponse) => void,
): Promise<ScriptedServer> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      seen.push({ path, authorization: request.headers.authorization, form });
      answer(path, form, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(body: unknown, status = 200): TokenAnswer {
  return (_form, response) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
}

const CLIENT_SECRET = `cs_${randomBytes(16).toString('hex')}`;
const REDIRECT_URI = 'http://127.0.0.1:9/auth/callback';

let provider: ScriptedServer;
/** What the token endpoint answers next. */
let tokenAnswer: TokenAnswer;
/** Another origin, where a redirect of the token endpoint points. */
let elsewhere: ScriptedServer;

beforeAll(async () => {
  elsewhere = await startScriptedServer((_path, _form, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ access_token: 'from-elsewhere', token_type: 'Bearer' }));
  });
  provider = await startScriptedServer((path, form, response) => {
    if (path === '/token') return tokenAnswer(form, response);
    if (path === '/me') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ me: 'sam' }));
    }
    response.writeHead(404);
    response.end();
  });
});
afterAll(async () => {
  await provider.close();
  await elsewhere.close();
});

/** Options of the toolkit's oauth2 scheme besides its endpoints. */
type SchemeOptions = Partial<Omit<OAuth2Scheme, 'type' | 'authorizationUrl' | 'tokenUrl'>>;

function hostileToolkit(scheme: SchemeOptions = {}) {
  const whoami = defineTool({
    slug: 'HOSTILE_WHOAMI',
    description: 'Who is the connected user.',
    inputSchema: z.object({}),
    execute: async (_input, context) => {
      const response = await context.fetch(`${provider.url}/me`, {
        headers: { authorization: `Bearer ${context.credentials?.accessToken}` },
      });
      return response.json();
    },
  });
  return defineToolkit({
    slug: 'hostile',
    name: 'Hostile',
    description: 'A provider whose authorization server misbehaves.',
    baseUrl: provider.url,
    tools: [whoami],
    auth: {
      type: 'oauth2',
      authorizationUrl: `${provider.url}/authorize`,
      tokenUrl: `${provider.url}/token`,
      scopes: ['read'],
      ...scheme,
    },
  });
}

const backends = await databaseBackends();

describe.each(backends)('a misbehaving authorization server, on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'OAuth', () => {
    const { database, opened } = databasePerTest(open);
    /** The state of the connection {@link connect} started last. */
    let lastState = '';

    function setup(
      options: { fetch?: typeof fetch; scheme?: SchemeOptions; oauthRequestTimeoutMs?: number } = {},
    ) {
      const { scheme, ...muxOptions } = options;
      const logger = recordingLogger();
      const mux = new ToolMux({
        toolkits: [hostileToolkit(scheme)],
        store: database.spec,
        secretKey: Buffer.alloc(32, 7).toString('base64'),
        logger,
        oauthRedirectUri: REDIRECT_URI,
        ...muxOptions,
      });
      opened.push(mux);
      return { mux, logger };
    }

    /**
     * Starts a connection and lands its callback with a fresh code (or the `query` given, with the
     * request's state), the token endpoint answering `answer`. Returns the account as the callback left it.
     */
    async function connect(
      mux: ToolMux,
      answer: TokenAnswer,
      query?: (state: string) => string,
      userId = 'user_1',
    ) {
      tokenAnswer = answer;
      const config =
        (await mux.authConfigs.list({ toolkit: 'hostile' })).items[0] ??
        (await mux.authConfigs.create('hostile', {
          type: 'oauth2',
          clientId: 'hostile-client',
          clientSecret: CLIENT_SECRET,
        }));
      const request = await mux.connectedAccounts.link(userId, config.id);
      const state = new URL(request.redirectUrl).searchParams.get('state')!;
      lastState = state;
      const code = `code_${randomBytes(12).toString('hex')}`;
      const response = await mux.auth.handleCallback(
        new Request(`${REDIRECT_URI}?${query ? query(state) : `code=${code}&state=${state}`}`),
      );
      const account = await mux.connectedAccounts.get(request.connectedAccountId!);
      const session = await mux.create(userId, {
        toolkits: ['hostile'],
        authConfigs: { hostile: config.id },
      });
      return { account, response, session, code, state };
    }

    /** A connected account whose token expires within a second, so that the next call refreshes it. */
    async function expiring(mux: ToolMux) {
      const connected = await connect(
        mux,
        json({
          access_token: 'at_first_1234',
          token_type: 'Bearer',
          expires_in: 3600,
          refresh_token: 'rt_first_1234',
        }),
      );
      expect(connected.account.status).toBe('ACTIVE');
      await expireSoon(connected.account.id);
      return connected;
    }

    /**
     * Leaves the account's token 30 s to live, in the store: inside the minute before its end in which
     * a token issued for an hour is refreshed (a token issued for 30 s would be refreshed only in the
     * last half of it: not by the next call), and long enough that a call on a loaded machine still
     * finds it unexpired when the refresh fails (with one second, a test's call came too late).
     */
    function expireSoon(accountId: string) {
      return database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, -30_000)} WHERE id = '${accountId}'`,
      );
    }

    describe('the size of the answer', () => {
      it.each([
        ['64 MiB of JSON', 64],
        ['a 1 MB access token', 1],
      ])(
        '%s: the answer is not read past 256 KiB and the connection fails saying so',
        async (_, mebibytes) => {
          const { mux } = setup();
          let finished = false;
          const { account, response } = await connect(mux, (_form, answer) => {
            answer.writeHead(200, { 'content-type': 'application/json' });
            answer.write('{"token_type":"Bearer","access_token":"');
            const chunk = Buffer.alloc(mebibytes === 1 ? 1_000_000 : 1 << 20, 'a');
            let left = mebibytes;
            const pump = () => {
              while (left > 0 && !answer.destroyed) {
                left--;
                if (!answer.write(chunk)) return void answer.once('drain', pump);
              }
              if (!answer.destroyed) answer.end('"}', () => (finished = true));
            };
            pump();
          });
          expect(account.status).toBe('FAILED');
          expect(account.statusReason).toMatch(/^invalid_response: .*more than 256 KiB/);
          expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe(
            'invalid_response',
          );
          if (mebibytes > 1)
            expect(finished, 'the client stopped reading: the server never finished').toBe(false);
        },
      );

      it('a refresh answered with more than 256 KiB keeps the account and its lease free for the next try', async () => {
        const { mux, logger } = setup();
        const { account, session } = await expiring(mux);
        tokenAnswer = (_form, answer) => {
          answer.writeHead(200, { 'content-type': 'application/json' });
          answer.end(JSON.stringify({ token_type: 'Bearer', access_token: 'x'.repeat(300 * 1024) }));
        };
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        expect(logger.warnings.join('\n')).toMatch(/more than 256 KiB/);
        const rows = await database.rows(
          `SELECT status, refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${account.id}'`,
        );
        expect(rows[0]).toMatchObject({ status: 'ACTIVE', refresh_lease_until: null });
        tokenAnswer = json({ access_token: 'at_second_1234', token_type: 'Bearer', expires_in: 3600 });
        expect((await mux.connectedAccounts.refresh(account.id)).expiresAt!.getTime()).toBeGreaterThan(
          Date.now() + 3_000_000,
        );
      });
    });

    it('an answer that stops after its headers fails as a timeout, not as a body that is not JSON', async () => {
      // the user's fetch gives up sooner than toolmux's 30 s: the same abort, while the body arrives
      const impatient: typeof fetch = (input, init) =>
        fetch(input, {
          ...init,
          signal: AbortSignal.any([...(init?.signal ? [init.signal] : []), AbortSignal.timeout(300)]),
        });
      const { mux } = setup({ fetch: impatient });
      const { account } = await connect(mux, (_form, answer) => {
        answer.writeHead(200, { 'content-type': 'application/json' });
        answer.write('{"access_token":"');
      });
      expect(account.status).toBe('FAILED');
      // the fetch's own timeout, not toolmux's 30 s, cut the answer
      expect(account.statusReason).toMatch(
        /^network_error: the request for its whole answer of the authorization server ended with the ToolMux fetch's own TimeoutError \(.*\), before the 30 s of the ToolMux's oauthRequestTimeoutMs ran out/,
      );
    });

    it("a fetch of the application's that aborts by itself is named, not taken for toolmux's timeout", async () => {
      const aborting: typeof fetch = async () => {
        throw new DOMException('the application cancelled its request', 'AbortError');
      };
      const { mux } = setup({ fetch: aborting });
      const { account, response } = await connect(
        mux,
        json({ access_token: 'at_never', token_type: 'Bearer' }),
      );
      expect(account).toMatchObject({
        status: 'FAILED',
        statusReason:
          "network_error: the request for an answer of the authorization server ended with the ToolMux fetch's own AbortError (the application cancelled its request), before the 30 s of the ToolMux's oauthRequestTimeoutMs ran out: check the fetch passed to the ToolMux",
      });
      expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('network_error');

      // and on a refresh
      const { mux: working } = setup();
      const { account: connected } = await connect(
        working,
        json({ access_token: 'at_first_1234', token_type: 'Bearer', refresh_token: 'rt_first_1234' }),
        undefined,
        'user_2',
      );
      const { mux: refreshing } = setup({ fetch: aborting });
      const refused = await rejection(refreshing.connectedAccounts.refresh(connected.id), 'OAUTH_ERROR');
      expect(refused.message).toContain("ended with the ToolMux fetch's own AbortError");
      expect(refused.message).not.toContain('in time');
    });

    it("a token endpoint that never answers fails the connection, and a refresh, as network_error naming the ToolMux's oauthRequestTimeoutMs", async () => {
      // 1 s: the answers of the token endpoint that does answer must come within it on a loaded machine
      const { mux } = setup({ oauthRequestTimeoutMs: 1_000 });
      const timedOut =
        "network_error: the authorization server did not send an answer in time (its requests time out after 1 s, the ToolMux's oauthRequestTimeoutMs)";
      const { account, response } = await connect(mux, () => undefined);
      expect(account).toMatchObject({ status: 'FAILED', statusReason: timedOut });
      expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('network_error');

      const { account: connected } = await connect(
        mux,
        json({ access_token: 'at_first_1234', token_type: 'Bearer', refresh_token: 'rt_first_1234' }),
        undefined,
        'user_2',
      );
      tokenAnswer = () => undefined;
      const refused = await rejection(mux.connectedAccounts.refresh(connected.id), 'OAUTH_ERROR');
      expect(refused.message).toContain(timedOut);
      expect(await mux.connectedAccounts.get(connected.id)).toMatchObject({ status: 'ACTIVE' });
    });

    it("a refresh the token endpoint stalls holds up that account's calls only, and leaves its lease free", async () => {
      const { mux } = setup();
      const other = await connect(
        mux,
        json({ access_token: 'at_other_1234', token_type: 'Bearer', expires_in: 3600 }),
        undefined,
        'user_2',
      );
      const { account, session } = await expiring(mux);
      let stalled: ServerResponse | undefined;
      let reached: () => void;
      const refreshReached = new Promise<void>((resolve) => (reached = resolve));
      tokenAnswer = (_form, answer) => {
        answer.writeHead(200, { 'content-type': 'application/json' });
        answer.write('{"access_token":');
        stalled = answer;
        reached();
      };
      const waiting = session.execute('HOSTILE_WHOAMI', {});
      await refreshReached;
      // another user's call, and the same user's listing, go on while that refresh hangs
      expect(await other.session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toHaveLength(1);
      stalled!.end('"at_second_1234","token_type":"Bearer","expires_in":3600}');
      expect(await waiting).toMatchObject({ successful: true, data: { me: 'sam' } });
      const rows = await database.rows(
        `SELECT refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${account.id}'`,
      );
      expect(rows[0]).toMatchObject({ refresh_lease_until: null });
    });

    describe('what the provider says in an error', () => {
      it('secrets it quotes from the code exchange are masked wherever its words go', async () => {
        const { mux, logger } = setup();
        let quoted = '';
        const { account, code, state } = await connect(mux, (form, answer) => {
          quoted = `verifier ${form.get('code_verifier')} for code ${form.get('code')} (state ${lastState}); secret ${CLIENT_SECRET}`;
          json({ error: 'invalid_grant', error_description: quoted }, 400)(form, answer);
        });
        const verifier = provider.seen.at(-1)!.form.get('code_verifier')!;
        expect(quoted).toContain(verifier);
        expect(account.status).toBe('FAILED');
        expect(account.statusReason).toMatch(/^invalid_grant: verifier \[REDACTED] for code \[REDACTED]/);
        const everything = JSON.stringify([
          account,
          await database.rows('SELECT * FROM toolmux_connected_accounts'),
          logger,
        ]);
        for (const secret of [verifier, code, state, CLIENT_SECRET]) expect(everything).not.toContain(secret);
      });

      it.each(['invalid_grant', 'invalid_client'])(
        'secrets it quotes from a refresh (%s) are masked in the status, the result for the model and the log',
        async (error) => {
          const { mux, logger } = setup();
          const { account, session } = await expiring(mux);
          tokenAnswer = json(
            {
              error,
              error_description: `refresh token rt_first_1234 (client secret ${CLIENT_SECRET}) <b>refused</b>`,
            },
            400,
          );
          const result = await session.execute('HOSTILE_WHOAMI', {});
          const now = await mux.connectedAccounts.get(account.id);
          if (error === 'invalid_grant') {
            expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
            expect(result.error).toContain(
              'invalid_grant: refresh token [REDACTED] (client secret [REDACTED]) <b>refused</b>',
            );
            expect(now).toMatchObject({ status: 'EXPIRED' });
          } else {
            expect(result).toMatchObject({ successful: true }); // the current token is still valid
            expect(logger.warnings.join('\n')).toContain('invalid_client: refresh token [REDACTED]');
            expect(now).toMatchObject({ status: 'ACTIVE' });
          }
          const everything = JSON.stringify([result, now, logger, await session.logs()]);
          for (const secret of ['rt_first_1234', CLIENT_SECRET]) expect(everything).not.toContain(secret);
        },
      );

      it('an error answered with HTTP 200 (as GitHub and Slack do) is named by its own code', async () => {
        const { mux } = setup();
        const { account } = await connect(
          mux,
          json({
            error: 'bad_verification_code',
            error_description: 'The code passed is incorrect or expired.',
          }),
        );
        expect(account).toMatchObject({
          status: 'FAILED',
          statusReason: 'bad_verification_code: The code passed is incorrect or expired.',
        });
      });

      it('a callback whose error and description run to 100 000 characters is cut, in the status and the redirect', async () => {
        const { mux } = setup();
        const { account, response } = await connect(
          mux,
          json({}),
          (state) => `error=${'e'.repeat(100_000)}&error_description=${'d'.repeat(100_000)}&state=${state}`,
        );
        expect(account.status).toBe('FAILED');
        expect(account.statusReason!.length).toBeLessThan(500);
        expect(response.headers.get('location')!.length).toBeLessThan(500);
      });
      describe('a secret it quotes in a form other than the one toolmux sent', () => {
        /** A token of `length` random printable characters, none of which any text here holds by chance. */
        const longToken = (prefix: string, length: number) =>
          `${prefix}${randomBytes(length)
            .toString('base64url')
            .slice(0, length - prefix.length)}`;

        it.each([
          ['at its start', ''],
          ['after a word', 'refused: '],
        ])(
          'a refresh token longer than 4096 characters quoted %s is masked whole, not its first characters shown',
          async (_, before) => {
            const { mux, logger } = setup();
            const refreshToken = longToken('rt_', 6000);
            const { account } = await connect(
              mux,
              json({ access_token: 'at_long_1234', token_type: 'Bearer', refresh_token: refreshToken }),
            );
            expect(account.status).toBe('ACTIVE');
            tokenAnswer = json(
              { error: 'temporarily_unavailable', error_description: `${before}${refreshToken}` },
              400,
            );
            const refused = await rejection(mux.connectedAccounts.refresh(account.id), 'OAUTH_ERROR');
            expect(refused.message).toContain(`(temporarily_unavailable: ${before}[REDACTED]`);
            const everything = JSON.stringify([refused.message, logger]);
            expect(everything).not.toContain(refreshToken.slice(0, 24));
          },
        );

        it('the client secret as the Basic authorization header carried it is masked', async () => {
          const { mux, logger } = setup();
          const { account } = await expiring(mux);
          tokenAnswer = (form, answer) => {
            const authorization = provider.seen.at(-1)!.authorization!;
            json({ error: 'invalid_client', error_description: `no client for ${authorization}` }, 401)(
              form,
              answer,
            );
          };
          const refused = await rejection(mux.connectedAccounts.refresh(account.id), 'AUTH_CONFIG_INVALID');
          const basic = provider.seen.at(-1)!.authorization!.slice('Basic '.length);
          // RFC 6749 2.3.1: the secret is form-encoded before base64 (`_` as `%5F`)
          expect(Buffer.from(basic, 'base64').toString()).toContain(CLIENT_SECRET.replace('_', '%5F'));
          expect(refused.message).toContain('(invalid_client: no client for Basic [REDACTED])');
          expect(JSON.stringify([refused.message, logger])).not.toContain(basic);
        });

        it('the start of a secret it quotes (the client secret cut to 20 characters) is masked too', async () => {
          const { mux, logger } = setup();
          const { account, session } = await expiring(mux);
          const fragment = CLIENT_SECRET.slice(0, 20);
          tokenAnswer = json(
            {
              error: 'invalid_grant',
              error_description: `client secret ${fragment}... is not the one of the grant`,
            },
            400,
          );
          const result = await session.execute('HOSTILE_WHOAMI', {});
          expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
          const now = await mux.connectedAccounts.get(account.id);
          expect(now.statusReason).toBe(
            'invalid_grant: client secret [REDACTED]... is not the one of the grant',
          );
          const everything = JSON.stringify([result, now, logger, await session.logs()]);
          // not even 12 characters of it
          for (let at = 0; at + 12 <= fragment.length; at++)
            expect(everything).not.toContain(fragment.slice(at, at + 12));
        });

        it("the account's access token quoted by a refused refresh is masked", async () => {
          const { mux, logger } = setup();
          const { account, session } = await expiring(mux);
          tokenAnswer = json(
            { error: 'invalid_grant', error_description: 'grant of at_first_1234 was revoked' },
            400,
          );
          const result = await session.execute('HOSTILE_WHOAMI', {});
          expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
          const now = await mux.connectedAccounts.get(account.id);
          expect(now.statusReason).toBe('invalid_grant: grant of [REDACTED] was revoked');
          expect(JSON.stringify([result, now, logger, await session.logs()])).not.toContain('at_first_1234');
        });
      });
    });

    describe('a refresh the provider refuses, by what its error code means', () => {
      /** The scheme options GitHub and Slack need: their own codes for a dead refresh token and a refused client. */
      const providerCodes: SchemeOptions = {
        refreshTokenDeadErrors: ['bad_refresh_token', 'invalid_refresh_token'],
        clientRejectedErrors: ['incorrect_client_credentials', 'bad_client_secret'],
      };
      const tokenRequests = () => provider.seen.filter((seen) => seen.path === '/token').length;

      it.each([
        ['invalid_grant', 400, 'the standard code'],
        ['bad_refresh_token', 200, "GitHub's, answered with HTTP 200"],
        ['invalid_refresh_token', 200, "Slack's, answered with HTTP 200 and ok: false"],
      ])(
        '%s (%s, %s): the account is EXPIRED with the reason, and the call tells the agent to reconnect',
        async (error, status) => {
          const { mux } = setup({ scheme: providerCodes });
          const { account, session } = await expiring(mux);
          const description = 'The refresh token passed is incorrect or expired.';
          tokenAnswer = json({ ok: false, error, error_description: description }, status);
          const result = await session.execute('HOSTILE_WHOAMI', {});
          expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
          expect(result.error).toContain(`has expired or was revoked (${error}: ${description})`);
          expect(result.error).toMatch(/reconnect/);
          expect(await mux.connectedAccounts.get(account.id)).toMatchObject({
            status: 'EXPIRED',
            statusReason: `${error}: ${description}`,
          });
          // the next call does not try the dead token again
          const before = tokenRequests();
          expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ code: 'CONNECTION_EXPIRED' });
          expect(tokenRequests()).toBe(before);
        },
      );

      it.each([
        [
          'a NUL and other control characters',
          'refused\u0000 here\u001b[31m',
          'refused\ufffd here\ufffd[31m',
        ],
        ['a lone surrogate', 'refused \ud800 here', 'refused \ufffd here'],
        // cut at 300 characters right between the halves of the emoji
        ['an emoji where the description is cut', `${'d'.repeat(299)}😀 and more`, `${'d'.repeat(299)}…`],
      ])(
        'a dead refresh token whose description holds %s: the account is EXPIRED with a reason it can keep',
        async (_, description, kept) => {
          const { mux } = setup({ scheme: providerCodes });
          const { account, session } = await expiring(mux);
          tokenAnswer = json({ error: 'invalid_grant', error_description: description }, 400);
          const result = await session.execute('HOSTILE_WHOAMI', {});
          expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
          expect(result.error!.isWellFormed()).toBe(true);
          expect(result.error).toContain(`(invalid_grant: ${kept})`);
          expect(await mux.connectedAccounts.get(account.id)).toMatchObject({
            status: 'EXPIRED',
            statusReason: `invalid_grant: ${kept}`,
          });
        },
      );

      it('a provider code the scheme does not list is not taken for a dead refresh token', async () => {
        const { mux } = setup();
        const { account } = await expiring(mux);
        tokenAnswer = json({ error: 'bad_refresh_token', error_description: 'expired' });
        await rejection(mux.connectedAccounts.refresh(account.id), 'OAUTH_ERROR');
        expect(await mux.connectedAccounts.get(account.id)).toMatchObject({ status: 'ACTIVE' });
      });

      it.each([
        ['invalid_client', 401],
        ['unauthorized_client', 400],
        ['incorrect_client_credentials', 200],
        ['bad_client_secret', 200],
      ])(
        '%s (HTTP %i): the auth config is named to be fixed, and the account stays ACTIVE with its lease free',
        async (error, status) => {
          const { mux } = setup({ scheme: providerCodes });
          const { account } = await expiring(mux);
          tokenAnswer = json({ error, error_description: `client secret ${CLIENT_SECRET} is wrong` }, status);
          const refused = await rejection(mux.connectedAccounts.refresh(account.id), 'AUTH_CONFIG_INVALID');
          expect(refused.message).toContain(
            `The Hostile (hostile) token endpoint refused the client id/secret of auth config ${account.authConfigId} when refreshing the token of ${account.id} (${error}: client secret [REDACTED] is wrong).`,
          );
          expect(refused.message).toContain('trying again will not help: fix the auth config');
          expect(refused.message).not.toContain(CLIENT_SECRET);
          expect(refused.details).toEqual({
            authConfigId: account.authConfigId,
            connectedAccountId: account.id,
          });
          const rows = await database.rows(
            `SELECT status, refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${account.id}'`,
          );
          expect(rows[0]).toMatchObject({ status: 'ACTIVE', refresh_lease_until: null });
        },
      );

      it('any other code, with any HTTP status, leaves the account ACTIVE and the refresh OAUTH_ERROR', async () => {
        const { mux } = setup({ scheme: providerCodes });
        const { account } = await expiring(mux);
        const meaningful = new Set([
          'invalid_grant',
          'invalid_client',
          'unauthorized_client',
          ...providerCodes.refreshTokenDeadErrors!,
          ...providerCodes.clientRejectedErrors!,
        ]);
        // RFC 6749's characters of an error code: printable ASCII but `"` and `\`
        const character = fc
          .integer({ min: 0x20, max: 0x7e })
          .filter((code) => code !== 0x22 && code !== 0x5c)
          .map((code) => String.fromCharCode(code));
        const code = fc
          .oneof(
            fc.string({ unit: character, minLength: 1, maxLength: 40 }),
            fc.constantFrom('invalid_request', 'server_error', 'temporarily_unavailable', 'invalid_scope'),
          )
          .filter((each) => !meaningful.has(each));
        await fc.assert(
          fc.asyncProperty(code, fc.constantFrom(200, 400, 401), async (error, status) => {
            tokenAnswer = json({ error, error_description: 'refused' }, status);
            const refused = await rejection(mux.connectedAccounts.refresh(account.id), 'OAUTH_ERROR');
            expect(refused.message).toMatch(/Try again in a moment\.$/);
            const rows = await database.rows(
              `SELECT status, refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${account.id}'`,
            );
            expect(rows[0]).toMatchObject({ status: 'ACTIVE', refresh_lease_until: null });
          }),
          { numRuns: 30 },
        );
      });
    });

    describe('odd tokens', () => {
      it.each([
        ['NUL', { access_token: 'at_\u0000_1234' }],
        ['CR LF', { access_token: 'at_1234\r\nx-injected: 1' }],
        ['non-ASCII', { access_token: 'at_ünïcode_1234' }],
        [
          'a control character in the refresh token',
          { access_token: 'at_fine_1234', refresh_token: 'rt_\u001b_1234' },
        ],
      ])(
        'a token with %s is refused when it arrives, with a reason that does not quote it',
        async (_, tokens) => {
          const { mux } = setup();
          const { account } = await connect(mux, json({ token_type: 'Bearer', ...tokens }));
          expect(account.status).toBe('FAILED');
          expect(account.statusReason).toMatch(
            /^invalid_response: the (access|refresh)_token holds characters no token holds/,
          );
        },
      );

      it('a refresh that brings such a token keeps the account and its current tokens', async () => {
        const { mux, logger } = setup();
        const { account, session } = await expiring(mux);
        tokenAnswer = json({ access_token: 'at_\u0000_next', token_type: 'Bearer', expires_in: 3600 });
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        expect(logger.warnings.join('\n')).toMatch(/access_token holds characters no token holds/);
        tokenAnswer = json({ access_token: 'at_second_1234', token_type: 'Bearer', expires_in: 3600 });
        await mux.connectedAccounts.refresh(account.id);
        expect(provider.seen.at(-1)!.form.get('refresh_token')).toBe('rt_first_1234');
      });

      it.each(['bearer', 'BEARER'])('token_type %s is a Bearer token', async (tokenType) => {
        const { mux } = setup();
        const { account, session } = await connect(
          mux,
          json({ access_token: 'at_case_1234', token_type: tokenType }),
        );
        expect(account.status).toBe('ACTIVE');
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
      });

      it.each([
        [
          'mac',
          /^invalid_response: the token_type "mac" is not one toolmux sends \(Bearer\).*bearerTokenTypes/,
        ],
        ['DPoP', /^invalid_response: the token_type is "DPoP"/],
      ])('token_type %s fails the connection, naming the type', async (tokenType, reason) => {
        const { mux } = setup();
        const { account } = await connect(
          mux,
          json({ access_token: 'at_typed_1234', token_type: tokenType }),
        );
        expect(account.status).toBe('FAILED');
        expect(account.statusReason).toMatch(reason);
      });

      it("a type the scheme lists in bearerTokenTypes (Slack's bot) connects, refreshes and is sent as Bearer", async () => {
        const { mux } = setup({ scheme: { bearerTokenTypes: ['bot'] } });
        const { account, session } = await connect(
          mux,
          json({
            ok: true,
            access_token: 'xoxb-1234',
            token_type: 'bot',
            expires_in: 3600,
            refresh_token: 'xoxe-1234',
          }),
        );
        expect(account.status).toBe('ACTIVE');
        await expireSoon(account.id);
        tokenAnswer = json({
          ok: true,
          access_token: 'xoxb-5678',
          token_type: 'bot',
          expires_in: 3600,
          refresh_token: 'xoxe-5678',
        });
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        expect(provider.seen.at(-1)).toMatchObject({ path: '/me', authorization: 'Bearer xoxb-5678' });
      });

      it('expires_in 0 keeps no expiry: the new connection works instead of expiring at its first call', async () => {
        const { mux } = setup();
        const { account, session } = await connect(
          mux,
          json({ access_token: 'at_zero_1234', token_type: 'Bearer', expires_in: 0 }),
        );
        expect(account).toMatchObject({ status: 'ACTIVE', expiresAt: null });
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({
          successful: true,
          data: { me: 'sam' },
        });
      });

      it('a token issued for 30 s is refreshed in the last half of its life, not by every call', async () => {
        const { mux } = setup();
        const issued = (n: number) =>
          json({
            access_token: `at_short_${n}`,
            token_type: 'Bearer',
            expires_in: 30,
            refresh_token: `rt_short_${n}`,
          });
        const { account, session } = await connect(mux, issued(1));
        const refreshes = () =>
          provider.seen.filter((seen) => seen.form.get('grant_type') === 'refresh_token').length;
        const before = refreshes();
        tokenAnswer = issued(2);
        // on the code before, each of these calls refreshed the token first (it was within 60 s of its end)
        for (let call = 0; call < 5; call++) {
          expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        }
        expect(refreshes()).toBe(before);
        // 10 s left of its 30: refreshed before the next call
        await database.exec(
          `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, -10_000)} WHERE id = '${account.id}'`,
        );
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        expect(refreshes()).toBe(before + 1);
        expect(provider.seen.at(-1)).toMatchObject({ path: '/me', authorization: 'Bearer at_short_2' });
        // the refreshed token was issued for 30 s too: the calls after it do not refresh it
        expect(await session.execute('HOSTILE_WHOAMI', {})).toMatchObject({ successful: true });
        expect(refreshes()).toBe(before + 1);
      });

      it('a refresh answer without a refresh token keeps the one the account had', async () => {
        const { mux } = setup();
        const { account } = await expiring(mux);
        tokenAnswer = json({ access_token: 'at_second_1234', token_type: 'bearer', expires_in: 1 });
        await mux.connectedAccounts.refresh(account.id);
        await mux.connectedAccounts.refresh(account.id);
        expect(provider.seen.at(-1)!.form.get('refresh_token')).toBe('rt_first_1234');
      });
    });

    it('a token endpoint that redirects elsewhere gets no credentials forwarded, and the connection fails', async () => {
      const { mux } = setup();
      const { account } = await connect(mux, (_form, answer) => {
        answer.writeHead(307, { location: `${elsewhere.url}/token` });
        answer.end();
      });
      expect(account.status).toBe('FAILED');
      expect(account.statusReason).toMatch(/^invalid_response: .*unexpected HTTP status code/);
      expect(elsewhere.seen).toEqual([]);
    });
  });
});

describe("the ToolMux's oauthRequestTimeoutMs", () => {
  it.each([0, -1, 1.5, 300_001, Number.NaN, '30000'])(
    'new ToolMux() refuses %s, naming it and the bounds',
    (value) => {
      const made = (() => {
        try {
          return new ToolMux({ toolkits: [], store: ':memory:', oauthRequestTimeoutMs: value as number });
        } catch (error) {
          return error;
        }
      })();
      expect(ToolMuxError.isInstance(made)).toBe(true);
      expect(made).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((made as ToolMuxError).message).toMatch(
        /^oauthRequestTimeoutMs must be a whole number of milliseconds from 1 to 300000 .*; got .+\. Leave it out for 30000\.$/,
      );
      expect((made as ToolMuxError).message).toContain(
        typeof value === 'string' ? `"${value}"` : String(value),
      );
    },
  );
});
