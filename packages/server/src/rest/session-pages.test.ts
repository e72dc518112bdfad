import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * `GET /api/v1/sessions` pages as its OpenAPI descriptions and docs/sessions.md say: newest first,
 * 20 a page when `limit` is left out, `next_cursor` the page's last session id (to pass as `cursor`)
 * and null once no session came after the page, a session created after the first page on no later
 * page. The descriptions said only "Page size, 1 to 1000" and "null on the last".
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

async function page(
  query: string,
): Promise<{ items: Array<{ session_id: string }>; next_cursor: string | null }> {
  const response = await fetch(`${server.url}/api/v1/sessions?${query}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { items: Array<{ session_id: string }>; next_cursor: string | null };
}

describe('GET /api/v1/sessions pages', () => {
  it('as the docs and the OpenAPI descriptions say', async () => {
    const created: string[] = [];
    for (let index = 0; index < 23; index++) {
      created.push((await server.embedded.create('pages_user')).sessionId);
    }
    const newestFirst = [...created].reverse();
    // 20 when limit is left out; next_cursor the last one's id
    const first = await page('user_id=pages_user');
    expect(first.items.map((item) => item.session_id)).toEqual(newestFirst.slice(0, 20));
    expect(first.next_cursor).toBe(newestFirst[19]);
    // a session created now is newer than every page: no later page has it
    const later = (await server.embedded.create('pages_user')).sessionId;
    const second = await page(`user_id=pages_user&limit=2&cursor=${first.next_cursor}`);
    expect(second.items.map((item) => item.session_id)).toEqual(newestFirst.slice(20, 22));
    expect(second.next_cursor).toBe(newestFirst[21]);
    const last = await page(`user_id=pages_user&limit=2&cursor=${second.next_cursor}`);
    expect(last.items.map((item) => item.session_id)).toEqual(newestFirst.slice(22));
    expect(last.next_cursor).toBeNull();
    expect([first, second, last].flatMap((p) => p.items.map((item) => item.session_id))).not.toContain(later);
    // a page that ends exactly with the last session: null, not a cursor to an empty page
    const exact = await page(`user_id=pages_user&limit=24`);
    expect(exact.items).toHaveLength(24);
    expect(exact.next_cursor).toBeNull();

    const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, { get: { parameters: Array<{ name: string; description?: string }> } }>;
      components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> };
    };
    const parameters = Object.fromEntries(
      document.paths['/api/v1/sessions']!.get.parameters.map((parameter) => [
        parameter.name,
        parameter.description,
      ]),
    );
    expect(parameters.limit).toBe('Sessions per page, 1 to 1000; 20 when left out.');
    expect(parameters.cursor).toContain('The `next_cursor` of the page before (a session id, `ses_…`)');
    const nextCursor = document.components.schemas.SessionList!.properties.next_cursor!.description;
    expect(nextCursor).toContain("The session_id of this page's last session: pass it as `cursor`");
    expect(nextCursor).toContain(
      'null when no session came after this page as it was read: the list is complete.',
    );
  });
});
