import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { ToolMux } from '@toolmux/core';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;
let port: number;
const logger = recordingLogger();

beforeAll(async () => {
  port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  mux = new ToolMux({ toolkits: [oauth.toolkit], store: ':memory:', secretKey: randomBytes(32).toString('base64'), baseUrl, logger });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});
afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
});

/** raw GET with a raw path (no URL normalisation) */
function raw(path: string, accept = 'text/html'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('probe: garbage callbacks', async () => {
  const seen = new Map<string, number>();
  const pieces = fc.oneof(
    fc.string(),
    fc.constantFrom('%00', '%ED%A0%80', '%FF', '%C0%80', '%', '%zz', '<script>', '"\'>', '&', '=', '+', '\u0000'),
    fc.string({ unit: 'binary' }),
  );
  const value = fc.array(pieces, { maxLength: 5 }).map((a) => a.join(''));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom('state', 'code', 'error', 'error_description', 'iss', 'x'), value), { maxLength: 6 }),
      fc.boolean(),
      async (params, json) => {
        const query = params.map(([k, v]) => `${k}=${encodeURI(v).replaceAll('%25', '%')}`).join('&');
        let r;
        try {
          r = await raw(`/auth/callback?${query}`, json ? 'application/json' : 'text/html');
        } catch (e) { return; }
        seen.set(String(r.status), (seen.get(String(r.status)) ?? 0) + 1);
        expect([400, 414, 431]).toContain(r.status);
        if (r.status === 400) {
          if (json) expect(JSON.parse(r.body).error.code).toMatch(/^CONNECTION_REQUEST_/);
          else {
            expect(r.headers['content-security-policy']).toBeDefined();
            expect(r.body).not.toContain('<script>');
          }
        }
      },
    ),
    { numRuns: 300 },
  );
  console.log(seen);
});

it('probe: huge and odd', async () => {
  for (const path of [
    `/auth/callback?state=${'a'.repeat(100_000)}`,
    `/auth/callback?state=${'%00'.repeat(3000)}`,
    '/auth/callback?state=%ED%A0%80',
    '/auth/callback?state=',
    '/auth/callback?state&state&state',
    '/auth/callback',
    '/auth/callback?%=%',
  ]) {
    const r = await raw(path).catch((e) => ({ status: String(e), body: '' }));
    console.log(path.slice(0, 40), r.status, r.body.slice(0, 200));
  }
});

it('probe: valid state with odd extras', async () => {
  const config = await mux.authConfigs.create('octo', { type: 'oauth2', clientId: oauth.clientId, clientSecret: oauth.clientSecret });
  const cases: Array<[string, (q: URLSearchParams) => string]> = [
    ['repeated state', (q) => `${q}&state=${q.get('state')}`],
    ['repeated code', (q) => `${q}&code=abc`],
    ['error + code', (q) => `${q}&error=access_denied`],
    ['iss wrong', (q) => `${q}&iss=http://evil`],
    ['state first different', (q) => `state=zzz&${q}`],
    ['plain', (q) => `${q}`],
  ];
  for (const [name, make] of cases) {
    const request = await mux.connectedAccounts.link(`user_${name.replaceAll(' ', '_')}`, config.id);
    const page = await (await fetch(request.redirectUrl)).text();
    const href = /<a class="button" href="([^"]+)"/.exec(page)![1]!.replaceAll('&#38;', '&');
    const callback = new URL(await oauth.signIn(href));
    const r = await raw(`/auth/callback?${make(callback.searchParams)}`);
    const account = await mux.connectedAccounts.get(request.connectedAccountId!);
    const again = await raw(`/auth/callback?${callback.searchParams}`);
    console.log(name, r.status, r.headers.location, account.status, account.statusReason, 'replay:', again.status, again.body.slice(-120));
  }
  console.log(logger.warnings, logger.errors);
});
