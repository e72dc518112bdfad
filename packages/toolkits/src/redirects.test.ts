import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createExaToolkit } from './exa.js';
import { createGithubToolkit } from './github.js';
import { ApiError, createApi } from './http.js';

// The built-in toolkits send the account's credentials in headers: Authorization, or an API-key
// header of the provider's (Exa's x-api-key). A redirect the provider answers must not take them, nor
// the request, to another origin.

let provider: FakeApi;
let elsewhere: FakeApi;

beforeAll(async () => {
  provider = await startFakeApi();
  elsewhere = await startFakeApi();
  elsewhere.route('POST', '/:path*', { body: { results: [], requestId: 'elsewhere' } });
  elsewhere.route('GET', '/:path*', { body: { login: 'elsewhere' } });
});
afterAll(async () => {
  await provider.close();
  await elsewhere.close();
});
beforeEach(() => {
  provider.requests.length = 0;
  elsewhere.requests.length = 0;
});

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

it("a 307 of Exa to another origin is not followed: the x-api-key stays with Exa and the call fails naming the other host, while a redirect within Exa's origin is followed with the key", async () => {
  const exa = createExaToolkit({ baseUrl: provider.url });
  const context = toolContext({ apiKey: 'exa-secret-key-123' });
  provider.route('POST', '/search', { status: 307, headers: { location: `${elsewhere.url}/search` } });
  const error = await failure(run(exa, 'EXA_SEARCH', { query: 'toolmux' }, context));
  expect(error.message).toContain(`redirected`);
  expect(error.message).toContain(elsewhere.url);
  expect(error.message).toContain('credentials stay with Exa');
  expect(error.message).not.toContain('exa-secret-key-123');
  expect(elsewhere.requests).toEqual([]);

  provider.route('POST', '/search', (request) =>
    request.query.moved
      ? { body: { results: [] } }
      : { status: 308, headers: { location: '/search?moved=1' } },
  );
  await run(exa, 'EXA_SEARCH', { query: 'toolmux' }, context);
  const moved = provider.requests.at(-1)!;
  expect([moved.method, moved.query, moved.headers['x-api-key'], (moved.body as any).query]).toEqual([
    'POST',
    { moved: '1' },
    'exa-secret-key-123',
    'toolmux',
  ]);
});

it("GitHub's answer from another origin (a 302 to it, followed without Authorization) is not read as GitHub's", async () => {
  const github = createGithubToolkit({ baseUrl: provider.url });
  provider.route('GET', '/user', { status: 302, headers: { location: `${elsewhere.url}/user` } });
  const error = await failure(
    run(github, 'GITHUB_GET_AUTHENTICATED_USER', {}, toolContext({ accessToken: 'gho_token' })),
  );
  expect(error.message).toContain(elsewhere.url);
  expect(elsewhere.requests).toEqual([]);
});

it('a 303 after a POST is followed within the origin as a GET without the body, and a redirect loop fails with a message that says so', async () => {
  const acme = createApi({ service: 'Acme', baseUrl: provider.url, headers: () => ({ 'x-api-key': 'k' }) });
  const context = toolContext();
  provider.route('POST', '/orders', { status: 303, headers: { location: '/orders/7' } });
  provider.route('GET', '/orders/7', { body: { id: 7 } });
  expect(await acme.request(context, { method: 'POST', path: '/orders', body: { item: 'x' } })).toEqual({
    id: 7,
  });
  const followed = provider.requests.at(-1)!;
  expect([followed.method, followed.body, followed.headers['content-type']]).toEqual([
    'GET',
    undefined,
    undefined,
  ]);

  provider.route('GET', '/loop', { status: 302, headers: { location: '/loop' } });
  const loop = await failure(acme.request(context, { path: '/loop' }));
  expect(loop.message).toContain('redirect loop');
  expect(provider.requests.filter((request) => request.path === '/loop')).toHaveLength(21);
});
