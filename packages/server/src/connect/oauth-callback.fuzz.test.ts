import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { ToolMux } from '@toolmux/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';

/**
 * The OAuth callback (`/auth/callback`) over real HTTP, which the server fuzz does not reach: any
 * query answers 400 with a stable code (an escaped page with the security headers, or JSON), and
 * a callback whose state is a real request's is used once, whatever else it carries.
 */

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let port: number;
const logger = recordingLogger();

beforeAll(async () => {
  port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  mux = new ToolMux({
    toolkits: [oauth.toolkit],
    store: ':memory:',
    secretKey: randomBytes(32).toString('base64'),
    baseUrl,
    logger,
  });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});
afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
});

/** A GET of `path` exactly as given (fetch would normalise it), with `accept`. */
function get(path: string, accept: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const sent = httpRequest({ host: '127.0.0.1', port, path, headers: { accept } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      sent.on('error', reject);
      sent.end();
    },
  );
}

/** Pieces of a query value: text, raw bytes, NUL, ill-formed UTF-8, markup, separators. */
const piece = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }).map(encodeURIComponent),
  fc.constantFrom('%00', '%ED%A0%80', '%FF', '%C0%80', '%', '%zz', '<script>', '"\'>', '&', '=', '+'),
);
const value = fc.array(piece, { maxLength: 5 }).map((pieces) => pieces.join(''));
const query = fc
  .array(fc.tuple(fc.constantFrom('state', 'code', 'error', 'error_description', 'iss', 'other'), value), {
    maxLength: 6,
  })
  // kept as given, bytes a URL path cannot hold percent-encoded
  .map((pairs) => pairs.map(([name, text]) => `${name}=${encodeURI(text).replaceAll('%25', '%')}`).join('&'));

describe('GET /auth/callback', () => {
  it('answers any query that names no request 400 with a stable code, escaped, with the security headers', async () => {
    await fc.assert(
      fc.asyncProperty(query, fc.boolean(), async (search, json) => {
        const answer = await get(`/auth/callback?${search}`, json ? 'application/json' : 'text/html');
        expect(answer.status).toBe(400);
        expect(answer.headers['cache-control']).toBe('no-store');
        if (json) {
          expect(JSON.parse(answer.body).error.code).toMatch(/^CONNECTION_REQUEST_(INVALID|EXPIRED)$/);
          return;
        }
        expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
        expect(answer.headers['x-frame-options']).toBe('DENY');
        expect(answer.body).not.toContain('<script>');
        expect(answer.body).toMatch(/<code>CONNECTION_REQUEST_(INVALID|EXPIRED)<\/code>/);
      }),
      { numRuns: 200 },
    );
    expect(logger.errors).toEqual([]);
  });

  it.each([
    ['the state twice', (callback: URLSearchParams) => `${callback}&state=${callback.get('state')}`],
    ['the code twice', (callback: URLSearchParams) => `${callback}&code=another`],
    ['an error besides the code', (callback: URLSearchParams) => `${callback}&error=access_denied`],
  ])('a real callback with %s fails its connection, and only once', async (_, altered) => {
    const config = await mux.authConfigs.create('octo', {
      type: 'oauth2',
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
    });
    const request = await mux.connectedAccounts.link(`user_${randomBytes(4).toString('hex')}`, config.id);
    const page = await (await fetch(request.redirectUrl)).text();
    const continueTo = /<a class="button" href="([^"]+)"/.exec(page)![1]!.replaceAll('&#38;', '&');
    const callback = new URL(await oauth.signIn(continueTo)).searchParams;
    const landed = await get(`/auth/callback?${altered(callback)}`, 'text/html');
    expect(landed.status).toBe(302);
    expect(new URL(landed.headers.location as string).searchParams.get('status')).toBe('failed');
    expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
      status: 'FAILED',
      expiresAt: null,
    });
    // the untouched callback comes too late: the request was used
    const again = await get(`/auth/callback?${callback}`, 'application/json');
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).error.code).toBe('CONNECTION_REQUEST_INVALID');
  });
});
