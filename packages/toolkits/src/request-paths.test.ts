import { ToolMuxError } from '@toolmux/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createFirecrawlToolkit } from './firecrawl.js';
import { createGithubToolkit } from './github.js';
import { createGmailToolkit } from './gmail.js';
import { createApi } from './http.js';
import { createNotionToolkit } from './notion.js';

// The model's identifiers (an owner, a file path, a message id, a page id) become parts of request
// paths sent with the connected account's token. A part URL parsing resolves ("..", "."), or one that
// adds a query or cuts the path ("?", "#"), sent the request to another route of the provider's API.

let api: FakeApi;
const context = toolContext({ accessToken: 'tok-paths', apiKey: 'key-paths' });

beforeAll(async () => {
  api = await startFakeApi();
  // every route answers, so a request that escaped its route would succeed and be seen
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    api.route(method, '/:path*', (request) => ({
      body: {
        reached: `${request.method} ${request.path}`,
        content: { path: 'x', sha: 'x', html_url: 'x' },
        commit: { sha: 'x' },
      },
    }));
  }
});
afterAll(() => api.close());
beforeEach(() => {
  api.requests.length = 0;
});

async function refusal(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ToolMuxError);
  return error as ToolMuxError;
}

describe('identifiers that are "." or ".." path parts never reach another API route', () => {
  it('a GitHub file path "../collaborators/mallory" does not PUT /repos/octo/hello/collaborators/mallory (adding a collaborator with the account token)', async () => {
    const github = createGithubToolkit({ baseUrl: api.url });
    const error = await refusal(
      run(
        github,
        'GITHUB_CREATE_OR_UPDATE_FILE',
        { owner: 'octo', repo: 'hello', path: '../collaborators/mallory', content: 'x', message: 'm' },
        context,
      ),
    );
    expect(error.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(error.message).toContain('".."');
    expect(error.message).toContain('/repos/octo/hello/contents/../collaborators/mallory');
    expect(api.requests).toEqual([]);
  });

  it('GitHub owners, repository names, logins and file path parts of ".." or "." are refused before any request, in every tool that builds a path of them', async () => {
    const github = createGithubToolkit({ baseUrl: api.url });
    const calls: Array<[string, Record<string, unknown>]> = [
      ['GITHUB_GET_USER', { username: '..' }],
      ['GITHUB_GET_USER', { username: '.' }],
      ['GITHUB_LIST_ISSUES', { owner: '..', repo: '..' }],
      ['GITHUB_STAR_REPOSITORY', { owner: '..', repo: 'x' }],
      ['GITHUB_GET_FILE_CONTENTS', { owner: 'octo', repo: 'hello', path: 'src/./../../../user' }],
    ];
    for (const [slug, input] of calls) {
      const error = await refusal(run(github, slug, input, context));
      expect(error.code, `${slug} ${JSON.stringify(input)}`).toBe('TOOL_ARGUMENTS_INVALID');
    }
    expect(api.requests).toEqual([]);
    // names and paths with dots that are not whole parts ("..hidden", "a.b", "v1.2..3") are sent as they are
    await run(
      github,
      'GITHUB_GET_FILE_CONTENTS',
      { owner: 'o.k', repo: '..hidden', path: 'a.b/v1.2..3/...' },
      context,
    );
    expect(api.requests.map((request) => request.path)).toEqual([
      '/repos/o.k/..hidden/contents/a.b/v1.2..3/...',
    ]);
  });

  it('createApi() refuses a relative path with a dot part in any spelling URL parsing resolves (".%2E", "%2e%2e", "%2E", "\\..") for toolkits that build paths without encoding', async () => {
    const acme = createApi({ service: 'Acme', baseUrl: `${api.url}/v1` });
    for (const path of [
      '/orders/.%2E/admin',
      '/orders/%2e%2e',
      '/orders/%2E/x',
      '/orders\\..\\admin',
      '/a/..?q=1',
    ]) {
      const error = await refusal(acme.request(context, { path }));
      expect(error.code, path).toBe('TOOL_ARGUMENTS_INVALID');
      expect(error.message, path).toContain('Acme request path');
    }
    // a dot part of the query or the fragment is no path part; an encoded one of the model's input neither
    await acme.request(context, { path: `/orders/${encodeURIComponent('%2e%2e')}?next=../x` });
    expect(api.requests.map((request) => [request.path, request.query])).toEqual([
      ['/v1/orders/%2e%2e', { next: '../x' }],
    ]);
  });

  it('a Gmail message id ".." does not POST /users/me/trash, and a Firecrawl crawl id ".." does not DELETE /v2/', async () => {
    const gmail = createGmailToolkit({ baseUrl: api.url });
    const firecrawl = createFirecrawlToolkit({ baseUrl: api.url });
    expect((await refusal(run(gmail, 'GMAIL_TRASH_MESSAGE', { messageId: '..' }, context))).code).toBe(
      'TOOL_ARGUMENTS_INVALID',
    );
    expect((await refusal(run(firecrawl, 'FIRECRAWL_CANCEL_CRAWL', { id: '..' }, context))).code).toBe(
      'TOOL_ARGUMENTS_INVALID',
    );
    expect(api.requests).toEqual([]);
  });
});

describe('a Notion page id that is neither an id nor a notion.so URL stays one path part', () => {
  it('"../users" does not PATCH /users, "abc?filter=x" adds no query and "abc#x" is not cut at the "#"', async () => {
    const notion = createNotionToolkit({ baseUrl: api.url });
    await run(notion, 'NOTION_ARCHIVE_PAGE', { page_id: '../blocks/b1' }, context).catch(() => undefined);
    await run(notion, 'NOTION_GET_PAGE', { page_id: 'abc?filter=x' }, context).catch(() => undefined);
    await run(notion, 'NOTION_GET_PAGE', { page_id: 'abc#x' }, context).catch(() => undefined);
    expect(api.requests.map((request) => [request.method, request.path, request.query])).toEqual([
      ['PATCH', '/pages/../blocks/b1', {}],
      ['GET', '/pages/abc?filter=x', {}],
      ['GET', '/pages/abc#x', {}],
    ]);
  });
});
