import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeApi, type FakeReply, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createGithubToolkit } from './github.js';
import { ApiError } from './http.js';

// How a provider's failing answer reads to the model: what happened, and when to come back.

let api: FakeApi;
let github: ReturnType<typeof createGithubToolkit>;
const context = toolContext({ accessToken: 'gho_answers' });

beforeAll(async () => {
  api = await startFakeApi();
  github = createGithubToolkit({ baseUrl: api.url });
});
afterAll(() => api.close());

async function failureOf(reply: FakeReply): Promise<ApiError> {
  api.failNext(reply);
  const error = await run(github, 'GITHUB_GET_AUTHENTICATED_USER', {}, context).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

it("a 503 with Retry-After (seconds or an HTTP date) tells the model when to retry, and a 5xx's rate-limit reset header (GitHub sends one with every answer) does not", async () => {
  const seconds = await failureOf({
    status: 503,
    headers: { 'retry-after': '120' },
    body: { message: 'Down for maintenance' },
  });
  expect(seconds.message).toMatch(
    /Down for maintenance.*retry after 2 minutes \(at 20\d\d-.*Z\), not before\.$/,
  );
  expect(seconds.retryAfterSeconds).toBe(120);

  const date = await failureOf({
    status: 503,
    headers: { 'retry-after': new Date(Date.now() + 600_000).toUTCString() },
    body: 'Service Unavailable',
  });
  expect(date.message).toMatch(/retry after (9|10) minutes/);

  const reset = await failureOf({
    status: 502,
    headers: {
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3000),
    },
    body: { message: 'Server Error' },
  });
  expect(reset.message).toMatch(/retry in a little while\.$/);
  expect(reset.retryAfterSeconds).toBeUndefined();
});

it('a Retry-After or reset time past the last date JavaScript knows is read as a long wait, not an "Invalid time value" failure', async () => {
  const huge = await failureOf({
    status: 429,
    headers: { 'retry-after': '99999999999999' },
    body: { message: 'slow' },
  });
  expect(huge.status).toBe(429);
  expect(huge.message).toMatch(/rate limit reached .*Retry after 30 days \(at 20\d\d-.*Z\), not before\.$/);
  expect(huge.retryAfterSeconds).toBe(30 * 24 * 3600);

  const reset = await failureOf({
    status: 403,
    headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1e300' },
    body: { message: 'API rate limit exceeded' },
  });
  expect(reset.status).toBe(429);
  expect(reset.message).toContain('Retry after 30 days');
});

it('an answer that breaks off before its end (shorter than its Content-Length, or not the gzip it says it is) says so and to retry, not "unreadable answer: terminated"', async () => {
  const server = createServer((request, response) => {
    if (request.url === '/user') {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      response.write('{"login":"octo');
      setTimeout(() => response.destroy(), 20);
    } else {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      response.end('{"login":"not gzip"}');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const cut = createGithubToolkit({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    for (const slug of ['GITHUB_GET_AUTHENTICATED_USER', 'GITHUB_GET_USER']) {
      const error = await run(cut, slug, { username: 'octo' }, context).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, slug).toBeInstanceOf(ApiError);
      expect((error as ApiError).message, slug).toMatch(
        /^GitHub's answer for (authenticated user|user "octo") broke off before its end \(terminated: .+\): .* Retry;/,
      );
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
