import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Query parameters over HTTP, on the REST API and the Composio-compatible routes: a parameter given
 * twice, and page sizes that are not plain whole numbers. Each was taken silently (the first of a
 * repeated parameter, `Number()` of a size) instead of a 400 naming the value.
 */

let server: TestServer;
let sessionId: string;
let composioSessionId: string;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  const mail = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
  // and users whose ids a comma-separated list would change: one with a comma, one with a space
  for (const user of ['user_a', 'user_b', 'user_a,user_b', ' user_a']) {
    await server.embedded.connectedAccounts.create(user, mail.id, { apiKey: `key-of-${user}` });
  }
  sessionId = (await server.embedded.create('user_a')).sessionId;
  composioSessionId = (await get('/api/v3.1/tool_router/session', { user_id: 'user_a' }, 'POST')).json
    .session_id;
});
afterAll(() => server.close());

async function get(path: string, body?: unknown, method = 'GET') {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      'x-api-key': server.apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe('query parameters', () => {
  it('refuses a REST query parameter given twice with a 400 naming it and its values, where the first value was used and the others dropped', async () => {
    // both users have an account: the repeated filter listed user_a's alone
    const both = await get('/api/v1/connected-accounts?user_ids=user_a,user_b');
    expect(both.json.items.map((account: { user_id: string }) => account.user_id).sort()).toEqual([
      'user_a',
      'user_b',
    ]);
    const repeated = await get('/api/v1/connected-accounts?user_ids=user_a&user_ids=user_b');
    expect(repeated.status).toBe(400);
    expect(repeated.json.error.code).toBe('INVALID_REQUEST');
    expect(repeated.json.error.message).toBe(
      'query parameter user_ids is given 2 times ("user_a", "user_b"): give it once; a list takes its values comma-separated in one parameter (user_ids=a,b).',
    );
    for (const path of [
      '/api/v1/sessions?user_id=user_a&user_id=user_b',
      '/api/v1/sessions?limit=1&limit=50',
      `/api/v1/sessions/${sessionId}/logs?limit=5&limit=5`,
      `/api/v1/sessions/${sessionId}/toolkits?toolkits=mail&toolkits=notes`,
      '/api/v1/toolkits?search=mail&search=notes&search=x&search=y',
      '/api/v1/logs?tool_slug=A&tool_slug=B',
    ]) {
      const answer = await get(path);
      expect(answer.status, path).toBe(400);
      const name = /[?&]([a-z_]+)=[^&]*&\1=/.exec(path)![1];
      expect(answer.json.error.message, path).toMatch(
        new RegExp(`^query parameter ${name} is given \\d times`),
      );
    }
    const four = await get('/api/v1/toolkits?search=mail&search=notes&search=x&search=y');
    expect(four.json.error.message).toContain('("mail", "notes", "x", and 1 more)');
  });

  it('refuses a "__proto__" query parameter as any unknown one, given once or as a list', async () => {
    for (const name of ['__proto__', '__proto__[]']) {
      const answer = await get(`/api/v1/toolkits?${name}=x&limit=1`);
      expect(answer.status, name).toBe(400);
      expect(answer.json.error.message, name).toBe(
        `Invalid request query: query: unknown key "${name}". Known keys: search, limit, cursor.`,
      );
    }
  });

  it('refuses a Composio query parameter given twice in the Composio envelope, and still takes a repeated toolkits list', async () => {
    const base = `/api/v3.1/tool_router/session/${composioSessionId}`;
    const limit = await get(`${base}/tools?limit=1&limit=2`);
    expect(limit.status).toBe(400);
    expect(limit.json.error).toMatchObject({ code: 'INVALID_REQUEST', status: 400 });
    expect(limit.json.message).toMatch(/^query parameter limit is given 2 times \("1", "2"\)/);
    const connected = await get(`${base}/toolkits?is_connected=true&is_connected=false`);
    expect(connected.status).toBe(400);
    expect(connected.json.error.message).toMatch(/^query parameter is_connected is given 2 times/);
    // a list, which Composio's clients may send either way
    const listed = await get(`${base}/toolkits?toolkits=mail&toolkits=notes`);
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((toolkit: { slug: string }) => toolkit.slug).sort()).toEqual([
      'mail',
      'notes',
    ]);
  });

  it('refuses an unknown value in a comma-separated list with a 400 naming the value, its place in the list and the values known', async () => {
    const answer = await get('/api/v1/connected-accounts?statuses=ACTIVE,ACTVE');
    expect(answer.status).toBe(400);
    expect(answer.json.error.message).toBe(
      'Invalid request query: query.statuses[1]: unknown value "ACTVE"; use one of INITIATED, ACTIVE, FAILED, EXPIRED, INACTIVE, REVOKED. Did you mean "ACTIVE"?',
    );
  });

  it("lists the accounts of the user ids given exactly, never another user's: a user id with a comma or a leading space, over REST and from a remote-mode ToolMux", async () => {
    const usersOf = (answer: { json: Record<string, any> }) =>
      answer.json.items.map((account: { user_id: string }) => account.user_id).sort();
    // trimmed, " user_a" was "user_a"
    expect(usersOf(await get('/api/v1/connected-accounts?user_ids=%20user_a'))).toEqual([' user_a']);
    expect(usersOf(await get('/api/v1/connected-accounts?user_ids=user_b,%20user_a'))).toEqual([
      ' user_a',
      'user_b',
    ]);
    // `user_ids[]`: one id per parameter, as it is
    expect(usersOf(await get('/api/v1/connected-accounts?user_ids[]=user_a,user_b'))).toEqual([
      'user_a,user_b',
    ]);
    expect(
      usersOf(await get('/api/v1/connected-accounts?user_ids%5B%5D=user_a,user_b&user_ids%5B%5D=%20user_a')),
    ).toEqual([' user_a', 'user_a,user_b']);
    expect(usersOf(await get('/api/v1/connected-accounts?user_ids=user_b&user_ids[]=user_a,user_b'))).toEqual(
      ['user_a,user_b', 'user_b'],
    );
    const blank = await get('/api/v1/connected-accounts?user_ids[]=');
    expect(blank.status).toBe(400);
    expect(blank.json.error.code).toBe('USER_ID_INVALID');
    expect(blank.json.error.message).toContain('query.user_ids[] "" is blank');

    // remote mode joined the ids with commas: ["user_a,user_b"] listed the accounts of user_a and user_b
    const remote = server.remote();
    const listed = async (userIds: string[]) =>
      (await remote.connectedAccounts.list({ userIds })).items.map((account) => account.userId).sort();
    expect(await listed(['user_a,user_b'])).toEqual(['user_a,user_b']);
    expect(await listed([' user_a'])).toEqual([' user_a']);
    expect(await listed(['user_b', 'user_a,user_b'])).toEqual(['user_a,user_b', 'user_b']);
    expect(await listed(['user_a', 'user_b'])).toEqual(['user_a', 'user_b']);
  });

  it("refuses a list filter that names nothing, over REST, embedded and remote, where it listed every user's accounts", async () => {
    // `user_ids=${ids.join(',')}` with no ids, or `list({ userIds: [] })`, selected as a missing filter
    for (const query of ['user_ids=', 'user_ids=,', 'toolkits=%20,', 'statuses=', 'auth_config_ids=,,']) {
      const answer = await get(`/api/v1/connected-accounts?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.json.error.code, query).toBe('INVALID_REQUEST');
      const name = query.slice(0, query.indexOf('='));
      expect(answer.json.error.message, query).toMatch(
        new RegExp(
          `^Invalid request query: query\\.${name}: names nothing \\(".*"\\): leave the parameter out`,
        ),
      );
    }
    for (const mux of [server.embedded, server.remote()]) {
      for (const field of ['userIds', 'toolkits', 'statuses', 'authConfigIds'] as const) {
        const refused = await mux.connectedAccounts.list({ [field]: [] }).then(
          () => 'listed',
          (error: { code: string; message: string }) => error,
        );
        expect(refused, field).toMatchObject({
          code: 'INVALID_REQUEST',
          message: expect.stringContaining(
            `${field} is an empty list, which names nothing to select: leave ${field} out`,
          ),
        });
      }
    }
    // a filter that names one still lists
    expect((await get('/api/v1/connected-accounts?user_ids=user_b')).json.items).toHaveLength(1);
  });

  it('refuses a log filter by an id of another kind, naming what it is, where it listed an empty page: embedded, remote and REST', async () => {
    const account = (await server.embedded.connectedAccounts.list({ userIds: ['user_a'] })).items[0]!.id;
    for (const mux of [server.embedded, server.remote()]) {
      const bySession = await mux.logs.list({ sessionId: account }).then(
        () => 'listed',
        (error: { code: string; message: string }) => error,
      );
      expect(bySession).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining(
          `sessionId "${account}" is a connected account's id, not a session id: session ids start with "ses_"`,
        ),
      });
      const byParent = await mux.logs.list({ parentId: sessionId }).then(
        () => 'listed',
        (error: { code: string; message: string }) => error,
      );
      expect(byParent).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining(`parentId "${sessionId}" is a session's id, not a log entry id`),
      });
      const session = await mux.use(sessionId);
      await expect(session.logs({ parentId: 'something' })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('parentId "something" is no toolmux id, not a log entry id'),
      });
    }
    const rest = await get(`/api/v1/logs?session_id=${account}`);
    expect(rest.status).toBe(400);
    expect(rest.json.error.message).toContain(`is a connected account's id, not a session id`);
    // the right kind still lists
    expect((await get(`/api/v1/logs?session_id=${sessionId}`)).status).toBe(200);
    expect((await server.embedded.logs.list({ sessionId })).items).toEqual([]);
  });

  it('refuses a Composio tools cursor that is not the offset the route wrote in decimal digits, naming it', async () => {
    const tools = `/api/v3.1/tool_router/session/${composioSessionId}/tools`;
    const first = await get(`${tools}?limit=1`);
    expect(first.json.next_cursor).toBe('1');
    const second = (await get(`${tools}?limit=2`)).json.items[1].slug;
    expect((await get(`${tools}?limit=1&cursor=1`)).json.items[0].slug).toBe(second);
    for (const cursor of ['', '0x1', '1e0', '%201', '1.0', '-0', 'abc']) {
      const answer = await get(`${tools}?limit=1&cursor=${cursor}`);
      expect(answer.status, cursor).toBe(400);
      expect(answer.json.error.message, cursor).toBe(
        `query.cursor ${JSON.stringify(decodeURIComponent(cursor))} is not a cursor of this list: pass next_cursor as the previous page returned it.`,
      );
    }
  });

  it('refuses query parameters on a route that takes none, naming them, where they were ignored', async () => {
    const created = await get('/api/v1/sessions?user_id=user_b', { user_id: 'user_a' }, 'POST');
    expect(created.status).toBe(400);
    expect(created.json.error).toEqual({
      code: 'INVALID_REQUEST',
      message:
        'POST /api/v1/sessions takes no query parameters (its fields go in the JSON body): leave out "user_id".',
    });
    const read = await get(`/api/v1/sessions/${sessionId}?a=1&b=2&c=3&d=4&e=5&f=6`);
    expect(read.status).toBe(400);
    expect(read.json.error.message).toBe(
      'GET /api/v1/sessions/:sessionId takes no query parameters: leave out "a", "b", "c", "d", "e" and 1 more.',
    );
    // the session was not deleted
    const deleted = await get(`/api/v1/sessions/${sessionId}?force=true`, undefined, 'DELETE');
    expect(deleted.status).toBe(400);
    expect((await get(`/api/v1/sessions/${sessionId}`)).status).toBe(200);
    // an empty query is no query
    expect((await get(`/api/v1/sessions/${sessionId}?`)).status).toBe(200);
  });

  it('refuses a page size that is not a whole number in decimal digits within its range with a 400 naming the value and the range, REST and Composio alike', async () => {
    const routes = [
      { path: '/api/v1/sessions?limit=', max: 1000 },
      { path: `/api/v1/sessions/${sessionId}/toolkits?limit=`, max: 100 },
      { path: `/api/v3.1/tool_router/session/${composioSessionId}/tools?limit=`, max: 1000 },
    ];
    for (const { path, max } of routes) {
      // hexadecimal, exponent, white space, a fraction, a sign, empty, words, past the range
      for (const value of [
        '0x10',
        '1e2',
        '%207',
        '7.0',
        '%2B7',
        '-1',
        '',
        'abc',
        '0',
        `${max + 1}`,
        '9'.repeat(40),
      ]) {
        const answer = await get(`${path}${value}`);
        expect(answer.status, `${path}${value}`).toBe(400);
        const shown = JSON.stringify(
          decodeURIComponent(value).length > 64 ? `${'9'.repeat(64)}…` : decodeURIComponent(value),
        );
        expect(answer.json.error.message, `${path}${value}`).toBe(
          `query parameter limit ${shown} is not a whole number from 1 to ${max}: pass one in decimal digits (limit=20), or leave it out for the default.`,
        );
      }
      expect((await get(`${path}7`)).status, `${path}7`).toBe(200);
      expect((await get(`${path}${max}`)).status, `${path}${max}`).toBe(200);
    }
  });
});
