import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, type RecordedRequest, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createGithubToolkit, github } from './github.js';

/** GitHub's published OpenAPI description: the source of the fixtures and of the request check. */
const spec = JSON.parse(
  readFileSync(
    createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json'),
    'utf8',
  ),
) as { paths: Record<string, Record<string, any>>; components: Record<string, Record<string, any>> };

function resolve(node: any): any {
  if (node && typeof node === 'object' && typeof node.$ref === 'string') {
    const [, , section, name] = node.$ref.split('/');
    return resolve(spec.components[section]![name]);
  }
  return node;
}

/** The documented example answer of an operation, as GitHub publishes it. */
function documented(path: string, method: string, status = '200'): unknown {
  const content = resolve(spec.paths[path]![method].responses[status]).content['application/json'];
  let node = content.example ?? Object.values(content.examples as Record<string, any>)[0];
  // An Example Object wraps the answer in `value` (beside summary, description, x-… keys).
  const isWrapper = (value: any) =>
    'value' in value &&
    Object.keys(value).every(
      (key) => ['value', 'summary', 'description'].includes(key) || key.startsWith('x-'),
    );
  while (node && typeof node === 'object' && !Array.isArray(node) && ('$ref' in node || isWrapper(node))) {
    node = '$ref' in node ? resolve(node) : node.value;
  }
  return node;
}

function operationOf(request: RecordedRequest): { template: string; operation: any } | undefined {
  for (const [template, item] of Object.entries(spec.paths)) {
    const operation = item[request.method.toLowerCase()];
    if (!operation) continue;
    const pattern = new RegExp(`^${template.replace(/\{path\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(request.path)) return { template, operation };
  }
  return undefined;
}

function bodyPropertyNames(schema: any): Set<string> {
  const names = new Set<string>();
  const visit = (node: any) => {
    const resolved = resolve(node);
    if (!resolved || typeof resolved !== 'object') return;
    for (const key of Object.keys(resolved.properties ?? {})) names.add(key);
    for (const branch of [...(resolved.oneOf ?? []), ...(resolved.anyOf ?? []), ...(resolved.allOf ?? [])])
      visit(branch);
  };
  visit(schema);
  return names;
}

let api: FakeApi;
let toolkit: ReturnType<typeof createGithubToolkit>;
const context = toolContext({ accessToken: 'gho_test_token' });
const repo = { owner: 'octocat', repo: 'Hello-World' };

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createGithubToolkit({ baseUrl: api.url });
  const routes: Array<[string, string, string, string?]> = [
    ['GET', '/user', '/user'],
    ['GET', '/users/:username', '/users/{username}'],
    ['GET', '/repos/:owner/:repo/issues', '/repos/{owner}/{repo}/issues'],
    ['POST', '/repos/:owner/:repo/issues', '/repos/{owner}/{repo}/issues', '201'],
    ['GET', '/repos/:owner/:repo/issues/:number', '/repos/{owner}/{repo}/issues/{issue_number}'],
    ['PATCH', '/repos/:owner/:repo/issues/:number', '/repos/{owner}/{repo}/issues/{issue_number}'],
    [
      'GET',
      '/repos/:owner/:repo/issues/:number/comments',
      '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    ],
    [
      'POST',
      '/repos/:owner/:repo/issues/:number/comments',
      '/repos/{owner}/{repo}/issues/{issue_number}/comments',
      '201',
    ],
    [
      'POST',
      '/repos/:owner/:repo/issues/:number/labels',
      '/repos/{owner}/{repo}/issues/{issue_number}/labels',
    ],
    ['GET', '/repos/:owner/:repo/pulls', '/repos/{owner}/{repo}/pulls'],
    ['POST', '/repos/:owner/:repo/pulls', '/repos/{owner}/{repo}/pulls', '201'],
    ['GET', '/repos/:owner/:repo/pulls/:number', '/repos/{owner}/{repo}/pulls/{pull_number}'],
    ['PUT', '/repos/:owner/:repo/pulls/:number/merge', '/repos/{owner}/{repo}/pulls/{pull_number}/merge'],
    ['GET', '/repos/:owner/:repo/pulls/:number/files', '/repos/{owner}/{repo}/pulls/{pull_number}/files'],
    [
      'POST',
      '/repos/:owner/:repo/pulls/:number/reviews',
      '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
    ],
    ['GET', '/repos/:owner/:repo', '/repos/{owner}/{repo}'],
    ['GET', '/user/repos', '/user/repos'],
    ['POST', '/user/repos', '/user/repos', '201'],
    ['GET', '/users/:username/repos', '/users/{username}/repos'],
    ['GET', '/repos/:owner/:repo/contents/:path*', '/repos/{owner}/{repo}/contents/{path}'],
    ['PUT', '/repos/:owner/:repo/contents/:path*', '/repos/{owner}/{repo}/contents/{path}', '201'],
    ['GET', '/repos/:owner/:repo/commits', '/repos/{owner}/{repo}/commits'],
    ['GET', '/repos/:owner/:repo/branches', '/repos/{owner}/{repo}/branches'],
    ['GET', '/repos/:owner/:repo/releases', '/repos/{owner}/{repo}/releases'],
    ['GET', '/search/code', '/search/code'],
    ['GET', '/search/issues', '/search/issues'],
    ['GET', '/search/repositories', '/search/repositories'],
  ];
  for (const [method, path, template, status] of routes) {
    api.route(method, path, {
      status: Number(status ?? 200),
      body: documented(template, method.toLowerCase(), status),
      headers: { link: '<https://api.github.com/resource?page=2>; rel="next"' },
    });
  }
  // The documented file example carries a mangled base64 text; GitHub sends base64 in 60-character lines.
  const readme = '# Octokit\n\nRuby toolkit for the GitHub API.\n'.repeat(3);
  const file = documented('/repos/{owner}/{repo}/contents/{path}', 'get') as Record<string, unknown>;
  api.route('GET', '/repos/:owner/:repo/contents/:path*', {
    body: {
      ...file,
      content: Buffer.from(readme)
        .toString('base64')
        .replace(/(.{60})/g, '$1\n'),
    },
  });
  api.route('PUT', '/user/starred/:owner/:repo', { status: 204 });
  api.route('DELETE', '/user/starred/:owner/:repo', { status: 204 });
});

afterAll(() => api.close());

describe('github tools against documented answers', () => {
  it('gets the authenticated user and sends the token and API version', async () => {
    const user = await run(toolkit, 'GITHUB_GET_AUTHENTICATED_USER', {}, context);
    expect(user).toMatchObject({ login: 'octocat', id: 1 });
    const request = api.requests.at(-1)!;
    expect(request.headers.authorization).toBe('Bearer gho_test_token');
    expect(request.headers['x-github-api-version']).toBe('2022-11-28');
    expect(request.headers.accept).toBe('application/vnd.github+json');
  });

  it('lists, gets, creates, updates, comments on and closes issues', async () => {
    const list = await run(
      toolkit,
      'GITHUB_LIST_ISSUES',
      { ...repo, labels: ['bug', 'ui'], state: 'all' },
      context,
    );
    expect(list.has_next_page).toBe(true);
    expect(list.issues[0]).toMatchObject({
      number: 1347,
      title: 'Found a bug',
      author: 'octocat',
      labels: ['bug'],
    });
    expect(api.requests.at(-1)!.query).toMatchObject({
      labels: 'bug,ui',
      state: 'all',
      per_page: '30',
      page: '1',
    });

    expect(await run(toolkit, 'GITHUB_GET_ISSUE', { ...repo, issue_number: 1347 }, context)).toMatchObject({
      number: 1347,
      state: 'open',
    });
    expect(api.requests.at(-1)!.path).toBe('/repos/octocat/Hello-World/issues/1347');

    await run(
      toolkit,
      'GITHUB_CREATE_ISSUE',
      { ...repo, title: 'Found a bug', body: 'It crashes', labels: ['bug'] },
      context,
    );
    expect(api.requests.at(-1)).toMatchObject({
      method: 'POST',
      body: { title: 'Found a bug', body: 'It crashes', labels: ['bug'] },
    });

    await run(toolkit, 'GITHUB_UPDATE_ISSUE', { ...repo, issue_number: 1347, title: 'Renamed' }, context);
    expect(api.requests.at(-1)).toMatchObject({ method: 'PATCH', body: { title: 'Renamed' } });

    const comment = await run(
      toolkit,
      'GITHUB_CREATE_ISSUE_COMMENT',
      { ...repo, issue_number: 1347, body: 'Me too' },
      context,
    );
    expect(comment).toMatchObject({ id: 1, author: 'octocat', body: 'Me too' });
    const comments = await run(
      toolkit,
      'GITHUB_LIST_ISSUE_COMMENTS',
      { ...repo, issue_number: 1347 },
      context,
    );
    expect(comments.comments).toHaveLength(1);

    const labels = await run(
      toolkit,
      'GITHUB_ADD_LABELS_TO_ISSUE',
      { ...repo, issue_number: 1347, labels: ['bug'] },
      context,
    );
    expect(labels.labels).toContain('bug');

    await run(toolkit, 'GITHUB_CLOSE_ISSUE', { ...repo, issue_number: 1347 }, context);
    expect(api.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      body: { state: 'closed', state_reason: 'completed' },
    });
  });

  it('lists, gets, creates, reviews and merges pull requests', async () => {
    const list = await run(toolkit, 'GITHUB_LIST_PULL_REQUESTS', { ...repo, base: 'main' }, context);
    expect(list.pull_requests[0]).toMatchObject({ number: 1347, head: 'octocat:new-topic', base: 'master' });
    const pull = await run(toolkit, 'GITHUB_GET_PULL_REQUEST', { ...repo, pull_number: 1347 }, context);
    expect(pull).toMatchObject({ number: 1347, title: 'Amazing new feature' });
    await run(
      toolkit,
      'GITHUB_CREATE_PULL_REQUEST',
      { ...repo, title: 'Amazing new feature', head: 'octocat:new-feature', base: 'master', draft: true },
      context,
    );
    expect(api.requests.at(-1)!.body).toEqual({
      title: 'Amazing new feature',
      head: 'octocat:new-feature',
      base: 'master',
      draft: true,
    });
    const files = await run(
      toolkit,
      'GITHUB_LIST_PULL_REQUEST_FILES',
      { ...repo, pull_number: 1347 },
      context,
    );
    expect(files.files[0]).toMatchObject({ filename: 'file1.txt', status: 'added', additions: 103 });
    const review = await run(
      toolkit,
      'GITHUB_CREATE_PULL_REQUEST_REVIEW',
      { ...repo, pull_number: 1347, event: 'APPROVE', body: 'Looks good' },
      context,
    );
    expect(review.state).toBe('CHANGES_REQUESTED');
    const merge = await run(
      toolkit,
      'GITHUB_MERGE_PULL_REQUEST',
      { ...repo, pull_number: 1347, merge_method: 'squash' },
      context,
    );
    expect(merge).toEqual({
      merged: true,
      sha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
      message: 'Pull Request successfully merged',
    });
  });

  it('reads repositories, files, commits, branches and releases', async () => {
    expect(await run(toolkit, 'GITHUB_GET_REPOSITORY', repo, context)).toMatchObject({
      full_name: 'octocat/Hello-World',
      default_branch: 'master',
    });
    const mine = await run(toolkit, 'GITHUB_LIST_MY_REPOSITORIES', {}, context);
    expect(mine.repositories[0].full_name).toBe('octocat/Hello-World');
    const theirs = await run(toolkit, 'GITHUB_LIST_USER_REPOSITORIES', { username: 'octocat' }, context);
    expect(theirs.repositories).toHaveLength(1);
    await run(toolkit, 'GITHUB_CREATE_REPOSITORY', { name: 'Hello-World', private: true }, context);
    expect(api.requests.at(-1)!.body).toEqual({ name: 'Hello-World', private: true, auto_init: false });

    const file = await run(
      toolkit,
      'GITHUB_GET_FILE_CONTENTS',
      { ...repo, path: 'lib/octokit.rb', ref: 'main' },
      context,
    );
    expect(file).toMatchObject({ type: 'file', path: 'README.md', size: 5362 });
    expect(file.content).toContain('# Octokit');
    expect(api.requests.at(-1)).toMatchObject({
      path: '/repos/octocat/Hello-World/contents/lib/octokit.rb',
      query: { ref: 'main' },
    });

    const commit = await run(
      toolkit,
      'GITHUB_CREATE_OR_UPDATE_FILE',
      { ...repo, path: 'notes/hello.txt', content: 'my new file contents', message: 'my commit message' },
      context,
    );
    expect(commit.commit_sha).toBe('7638417db6d59f3c431d3e1f261cc637155684cd');
    expect(api.requests.at(-1)!.body).toMatchObject({
      content: Buffer.from('my new file contents').toString('base64'),
    });

    const commits = await run(toolkit, 'GITHUB_LIST_COMMITS', { ...repo, path: 'README.md' }, context);
    expect(commits.commits[0]).toMatchObject({
      sha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
      author: 'octocat',
    });
    const branches = await run(toolkit, 'GITHUB_LIST_BRANCHES', repo, context);
    expect(branches.branches[0]).toMatchObject({ name: 'master', protected: true });
    const releases = await run(toolkit, 'GITHUB_LIST_RELEASES', repo, context);
    expect(releases.releases[0]).toMatchObject({ tag_name: 'v1.0.0' });
  });

  it('reads a file of 1 to 100 MB, whose contents answer leaves its content out, from its raw blob; a symlink gives its target', async () => {
    const large = (name: string, size: number, sha: string) => ({
      type: 'file',
      encoding: 'none',
      size,
      name,
      path: `data/${name}`,
      content: '',
      sha,
      url: `https://api.github.com/repos/octocat/Hello-World/contents/data/${name}`,
      git_url: 'https://api.github.com/repos/octocat/Hello-World/git/blobs/3d21ec53',
      html_url: `https://github.com/octocat/Hello-World/blob/main/data/${name}`,
      download_url: `https://raw.githubusercontent.com/octocat/Hello-World/main/data/${name}`,
    });
    const rows = 'id,name\n'.concat('1,ann\n'.repeat(300_000));
    const blobs: Record<string, string> = {
      b121ec53a331a6f037a91c368710b99387d012c1: rows,
      b221ec53a331a6f037a91c368710b99387d012c1: 'one line\n',
    };
    api.route('GET', '/repos/:owner/:repo/contents/data/big.csv', {
      body: large('big.csv', rows.length, 'b121ec53a331a6f037a91c368710b99387d012c1'),
    });
    api.route('GET', '/repos/:owner/:repo/contents/data/odd.txt', {
      body: large('odd.txt', 1_048_577, 'b221ec53a331a6f037a91c368710b99387d012c1'),
    });
    api.route('GET', '/repos/:owner/:repo/git/blobs/:sha', (request) =>
      request.headers.accept === 'application/vnd.github.raw+json'
        ? { body: blobs[request.path.split('/').at(-1)!] }
        : { status: 415, body: { message: 'Unsupported media type' } },
    );
    const big = await run(toolkit, 'GITHUB_GET_FILE_CONTENTS', { ...repo, path: 'data/big.csv' }, context);
    expect(big).toMatchObject({ type: 'file', path: 'data/big.csv', size: rows.length });
    expect(big.content.slice(0, 14)).toBe('id,name\n1,ann\n');
    expect(big.content).toHaveLength(100_001);
    expect(big.content.endsWith('…')).toBe(true);
    const odd = await run(toolkit, 'GITHUB_GET_FILE_CONTENTS', { ...repo, path: 'data/odd.txt' }, context);
    expect(odd.content).toBe('one line\n');

    api.route('GET', '/repos/:owner/:repo/contents/lib', {
      body: {
        type: 'symlink',
        target: '../src/lib',
        size: 10,
        name: 'lib',
        path: 'lib',
        sha: 'a3b5e8c1d2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2',
        url: 'https://api.github.com/repos/octocat/Hello-World/contents/lib',
        git_url: 'https://api.github.com/repos/octocat/Hello-World/git/blobs/a3b5e8c1',
        html_url: 'https://github.com/octocat/Hello-World/blob/main/lib',
        download_url: 'https://raw.githubusercontent.com/octocat/Hello-World/main/lib',
      },
    });
    expect(await run(toolkit, 'GITHUB_GET_FILE_CONTENTS', { ...repo, path: 'lib' }, context)).toMatchObject({
      type: 'symlink',
      target: '../src/lib',
    });
  });

  it('searches code, issues and repositories; stars and unstars; gets a user', async () => {
    const code = await run(
      toolkit,
      'GITHUB_SEARCH_CODE',
      { q: 'addClass in:file language:js repo:jquery/jquery' },
      context,
    );
    expect(code.items[0]).toMatchObject({ path: 'src/attributes/classes.js', repository: 'jquery/jquery' });
    const issues = await run(toolkit, 'GITHUB_SEARCH_ISSUES', { q: 'windows label:bug is:open' }, context);
    expect(issues.items[0]).toMatchObject({ repository: 'batterseapower/pinyin-toolkit', number: 132 });
    const repos = await run(
      toolkit,
      'GITHUB_SEARCH_REPOSITORIES',
      { q: 'tetris language:assembly', sort: 'stars' },
      context,
    );
    expect(repos.items[0].full_name).toBe('dtrupenn/Tetris');
    expect(await run(toolkit, 'GITHUB_STAR_REPOSITORY', repo, context)).toEqual({
      starred: true,
      repository: 'octocat/Hello-World',
    });
    expect(await run(toolkit, 'GITHUB_UNSTAR_REPOSITORY', repo, context)).toEqual({
      starred: false,
      repository: 'octocat/Hello-World',
    });
    expect(await run(toolkit, 'GITHUB_GET_USER', { username: 'octocat' }, context)).toMatchObject({
      login: 'octocat',
    });
  });
});

describe('github provider errors', () => {
  it('401 tells the model to reconnect the account', async () => {
    api.failNext({
      status: 401,
      body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
    });
    await expect(run(toolkit, 'GITHUB_GET_AUTHENTICATED_USER', {}, context)).rejects.toThrow(
      /GitHub rejected the credentials \(401 Unauthorized: Bad credentials\).*reconnect the GitHub account/,
    );
  });

  it('404 names what was not found', async () => {
    api.failNext({
      status: 404,
      body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
    });
    await expect(run(toolkit, 'GITHUB_GET_ISSUE', { ...repo, issue_number: 99999 }, context)).rejects.toThrow(
      /GitHub found no issue #99999 in octocat\/Hello-World \(404 Not Found/,
    );
  });

  it('403 explains permissions and scopes', async () => {
    api.failNext({ status: 403, body: { message: 'Resource not accessible by integration' } });
    await expect(run(toolkit, 'GITHUB_CREATE_ISSUE', { ...repo, title: 'x' }, context)).rejects.toThrow(
      /refused access to repository octocat\/Hello-World.*lacks a required scope/,
    );
  });

  it('a file over the 100 MB the API serves (403 too_large) reads as too large, with its size, not as a permission error', async () => {
    const tooLarge = {
      status: 403,
      body: {
        message:
          'This API returns blobs up to 100 MB in size. The requested blob is too large to fetch via the API.',
        errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }],
        documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content',
        status: '403',
      },
    };
    const entry = (name: string, size: number) => ({
      type: 'file',
      size,
      name,
      path: `media/${name}`,
      sha: '9c2ea27f1b1e1a3b2c4d5e6f708192a3b4c5d6e7',
      url: `https://api.github.com/repos/octocat/Hello-World/contents/media/${name}`,
      git_url: 'https://api.github.com/repos/octocat/Hello-World/git/blobs/9c2ea27f',
      html_url: `https://github.com/octocat/Hello-World/blob/main/media/${name}`,
      download_url: `https://raw.githubusercontent.com/octocat/Hello-World/main/media/${name}`,
      _links: {},
    });
    api.route('GET', '/repos/:owner/:repo/contents/media/:name', tooLarge);
    api.route('GET', '/repos/:owner/:repo/contents/media', {
      body: [entry('intro.mp4', 157_286_400), entry('notes.txt', 12)],
    });
    api.route('GET', '/repos/:owner/:repo/contents/backup/dump.sql', tooLarge);
    api.route('GET', '/repos/:owner/:repo/contents/backup', { status: 500, body: { message: 'boom' } });

    const sized = run(
      toolkit,
      'GITHUB_GET_FILE_CONTENTS',
      { ...repo, path: 'media/intro.mp4', ref: 'main' },
      context,
    );
    await expect(sized).rejects.toThrow(
      /^File "media\/intro\.mp4" in octocat\/Hello-World at main is 157\.3 MB \(157286400 bytes\), more than the 100 MB GitHub's API serves.*not a permission problem.*git/,
    );
    await expect(sized).rejects.toMatchObject({ name: 'ApiError', status: 413 });
    expect(api.requests.at(-1)).toMatchObject({
      path: '/repos/octocat/Hello-World/contents/media',
      query: { ref: 'main' },
    });
    // the size cannot be read (the directory's listing fails): the message says it is over the limit
    const unsized = run(toolkit, 'GITHUB_GET_FILE_CONTENTS', { ...repo, path: 'backup/dump.sql' }, context);
    await expect(unsized).rejects.toThrow(
      /^File "backup\/dump\.sql" in octocat\/Hello-World is larger than the 100 MB GitHub's API serves/,
    );
    await expect(unsized).rejects.not.toThrow(/permission for it|scope/);
    // any other GitHub answer of 403 too_large (here a blob's) reads as too large too
    api.failNext(tooLarge);
    await expect(run(toolkit, 'GITHUB_GET_REPOSITORY', repo, context)).rejects.toThrow(
      /^GitHub refused repository octocat\/Hello-World as too large for its API \(413: This API returns blobs up to 100 MB.*too_large\)\. Retrying will not help/,
    );
  });

  it('429 with a short Retry-After is waited out and retried once', async () => {
    const before = api.requests.length;
    api.failNext({
      status: 429,
      headers: { 'retry-after': '1' },
      body: { message: 'You have exceeded a secondary rate limit.' },
    });
    const user = await run(toolkit, 'GITHUB_GET_AUTHENTICATED_USER', {}, context);
    expect(user.login).toBe('octocat');
    expect(api.requests.length - before).toBe(2);
  });

  it('429 with a long wait says when to retry, without retrying', async () => {
    const before = api.requests.length;
    api.failNext({
      status: 429,
      headers: { 'retry-after': '600' },
      body: { message: 'secondary rate limit' },
    });
    await expect(run(toolkit, 'GITHUB_GET_AUTHENTICATED_USER', {}, context)).rejects.toThrow(
      /GitHub rate limit reached \(429 Too Many Requests: secondary rate limit\)\. Retry after 10 minutes \(at \d{4}-/,
    );
    expect(api.requests.length - before).toBe(1);
  });

  it('a 403 with an exhausted primary rate limit reads as a rate limit with its reset time', async () => {
    const reset = Math.floor(Date.now() / 1000) + 1800;
    api.failNext({
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded for user ID 1.' },
    });
    await expect(run(toolkit, 'GITHUB_SEARCH_CODE', { q: 'x' }, context)).rejects.toThrow(
      /rate limit reached.*Retry after 30 minutes/,
    );
  });

  it('5xx says the problem is on GitHub’s side', async () => {
    api.failNext({ status: 503, body: { message: 'Service unavailable' } });
    await expect(run(toolkit, 'GITHUB_SEARCH_CODE', { q: 'x' }, context)).rejects.toThrow(
      /GitHub had a server error \(503/,
    );
  });

  it('no credentials is a connect hint, not a crash', async () => {
    await expect(run(toolkit, 'GITHUB_GET_AUTHENTICATED_USER', {}, toolContext())).rejects.toThrow(
      /No GitHub credentials.*connect a GitHub account/,
    );
  });
});

describe('github requests match GitHub’s OpenAPI description', () => {
  it('every tool was exercised, and each request is a documented operation with documented parameters', () => {
    const requests = api.requests.filter((request) => request.headers.authorization);
    const exercised = new Set<string>();
    for (const request of requests) {
      const match = operationOf(request);
      expect(match, `${request.method} ${request.path} is not in api.github.com.json`).toBeDefined();
      const { operation, template } = match!;
      exercised.add(operation.operationId);
      const queryNames = new Set(
        (operation.parameters ?? [])
          .map(resolve)
          .filter((p: any) => p.in === 'query')
          .map((p: any) => p.name),
      );
      for (const name of Object.keys(request.query)) {
        expect(queryNames, `query "${name}" of ${request.method} ${template}`).toContain(name);
      }
      if (request.body && typeof request.body === 'object') {
        const bodyNames = bodyPropertyNames(operation.requestBody?.content?.['application/json']?.schema);
        for (const name of Object.keys(request.body)) {
          expect(bodyNames, `body "${name}" of ${request.method} ${template}`).toContain(name);
        }
      }
    }
    // One operation per tool (close and update share issues/update), and git/get-blob for a file
    // of 1 to 100 MB.
    expect(exercised.size).toBe(github.tools.length);
    expect(exercised).toContain('git/get-blob');
  });
});
