import { type Session, ToolMux } from '@toolmux/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, startFakeApi } from '../test/api-server.js';
import { createHackernewsToolkit, htmlToText } from './hackernews.js';

/** Items, users and search answers as the HN Firebase API and the Algolia HN API document them. */
const items: Record<number, unknown> = {
  8863: {
    by: 'dhouston',
    descendants: 71,
    id: 8863,
    kids: [9224, 8917, 8952, 8884, 8887, 8869],
    score: 104,
    time: 1175714200,
    title: 'My YC app: Dropbox - Throw away your USB drive',
    type: 'story',
    url: 'http://www.getdropbox.com/u/2/screencast.html',
  },
  121003: {
    by: 'tel',
    descendants: 16,
    id: 121003,
    kids: [121016, 121109, 121168],
    score: 25,
    text: '<i>or</i> HN: the Next Iteration<p>I get the impression that with Arc being released a lot of people who never had time for HN before are suddenly dropping in more often.',
    time: 1203647620,
    title: 'Ask HN: The Arc Effect',
    type: 'story',
  },
  2921983: {
    by: 'norvig',
    id: 2921983,
    kids: [2922097, 2922429, 2924562],
    parent: 2921506,
    text: 'Aw shucks, guys ... you make me blush with your compliments.<p>Tell you what, Ill make a deal: I&#x27;ll keep writing if you keep reading. K?',
    time: 1314211127,
    type: 'comment',
  },
};

/** Items the Firebase API answers 503 for. */
const unavailable = new Set<number>();
let api: FakeApi;
let mux: ToolMux;
let session: Session;

beforeAll(async () => {
  api = await startFakeApi();
  api.route('GET', '/v0/topstories.json', { body: [8863, 121003, 2921983] });
  api.route('GET', '/v0/newstories.json', { body: [121003] });
  api.route('GET', '/v0/beststories.json', { body: [8863] });
  api.route('GET', '/v0/askstories.json', { body: [121003] });
  api.route('GET', '/v0/showstories.json', { body: [8863] });
  api.route('GET', '/v0/jobstories.json', { body: [8863] });
  api.route('GET', '/v0/item/:id', (request) => {
    const id = Number(request.path.match(/(\d+)\.json$/)![1]);
    if (unavailable.has(id)) {
      return {
        status: 503,
        headers: { 'retry-after': '30' },
        body: '<html><body>Service Unavailable</body></html>',
      };
    }
    return { body: items[id] ?? null };
  });
  api.route('GET', '/v0/user/:id', (request) =>
    request.path === '/v0/user/jl.json'
      ? {
          body: {
            about: 'This is a test',
            created: 1173923446,
            id: 'jl',
            karma: 2937,
            submitted: [8265435, 8168423, 8090946],
          },
        }
      : { body: null },
  );
  api.route('GET', '/api/v1/search', {
    body: {
      hits: [
        {
          _tags: ['story', 'author_pg', 'story_1'],
          author: 'pg',
          created_at: '2006-10-09T18:21:51.000Z',
          created_at_i: 1160418111,
          num_comments: 15,
          objectID: '1',
          points: 57,
          story_id: 1,
          title: 'Y Combinator',
          updated_at: '2024-09-21T08:36:02Z',
          url: 'http://ycombinator.com',
        },
      ],
      hitsPerPage: 20,
      nbHits: 1,
      nbPages: 1,
      page: 0,
      params: 'query=y+combinator&tags=story',
      processingTimeMS: 1,
      query: 'y combinator',
    },
  });
  api.route('GET', '/api/v1/search_by_date', {
    body: { hits: [], nbHits: 0, page: 0, nbPages: 0, hitsPerPage: 20 },
  });
  api.route('GET', '/api/v1/items/:id', {
    body: {
      id: 1,
      created_at: '2006-10-09T18:21:51.000Z',
      type: 'story',
      author: 'pg',
      title: 'Y Combinator',
      url: 'http://ycombinator.com',
      text: null,
      points: 57,
      parent_id: null,
      children: [
        {
          id: 15,
          created_at: '2006-10-09T19:51:01.000Z',
          type: 'comment',
          author: 'sama',
          text: '&quot;the rising star of venture capital&quot; -unknown VC eating lunch on SHR',
          points: null,
          parent_id: 1,
          children: [
            {
              id: 17,
              created_at: '2006-10-09T19:52:45.000Z',
              type: 'comment',
              author: 'pg',
              text: 'Is there anywhere to eat on Sandhill Road?',
              parent_id: 15,
              children: [],
            },
          ],
        },
      ],
    },
  });
  const toolkit = createHackernewsToolkit({ baseUrl: `${api.url}/v0`, searchBaseUrl: `${api.url}/api/v1` });
  mux = new ToolMux({ toolkits: [toolkit], store: ':memory:' });
  session = await mux.create('user_hn', { toolkits: ['hackernews'] });
});

afterAll(async () => {
  await mux.close();
  await api.close();
});

describe('hackernews through a session (no account needed)', () => {
  it('gets top stories with items resolved, leaving out non-stories only by type', async () => {
    const result = await session.execute('HACKERNEWS_GET_TOP_STORIES', { limit: 2 });
    expect(result.successful).toBe(true);
    expect((result.data as { stories: unknown[] }).stories).toEqual([
      {
        id: 8863,
        type: 'story',
        title: 'My YC app: Dropbox - Throw away your USB drive',
        url: 'http://www.getdropbox.com/u/2/screencast.html',
        text: null,
        by: 'dhouston',
        score: 104,
        comments: 71,
        time: '2007-04-04T19:16:40.000Z',
        hn_url: 'https://news.ycombinator.com/item?id=8863',
      },
      expect.objectContaining({ id: 121003, title: 'Ask HN: The Arc Effect' }),
    ]);
    for (const slug of ['NEW', 'BEST', 'ASK', 'SHOW', 'JOB']) {
      const list = await session.execute(`HACKERNEWS_GET_${slug}_STORIES`, {});
      expect(list.successful, slug).toBe(true);
    }
  });

  it('gets an item (HTML turned into text) and a user', async () => {
    const comment = await session.execute('HACKERNEWS_GET_ITEM', { id: 2921983 });
    expect(comment.data).toMatchObject({
      type: 'comment',
      by: 'norvig',
      parent: 2921506,
      text: "Aw shucks, guys ... you make me blush with your compliments.\n\nTell you what, Ill make a deal: I'll keep writing if you keep reading. K?",
    });
    const user = await session.execute('HACKERNEWS_GET_USER', { username: 'jl' });
    expect(user.data).toEqual({
      id: 'jl',
      karma: 2937,
      created: '2007-03-15T01:50:46.000Z',
      about: 'This is a test',
      submissions: 3,
    });
  });

  it('searches by relevance and by date, with filters', async () => {
    const result = await session.execute('HACKERNEWS_SEARCH', { query: 'y combinator', minPoints: 50 });
    expect(result.data).toMatchObject({
      total: 1,
      hits: [
        {
          id: 1,
          title: 'Y Combinator',
          author: 'pg',
          points: 57,
          hn_url: 'https://news.ycombinator.com/item?id=1',
        },
      ],
    });
    expect(api.requests.at(-1)!.query).toEqual({
      query: 'y combinator',
      tags: 'story',
      hitsPerPage: '20',
      page: '0',
      numericFilters: 'points>=50',
    });
    await session.execute('HACKERNEWS_SEARCH', { query: 'rust', sortBy: 'date', createdAfter: '2024-01-01' });
    expect(api.requests.at(-1)!.path).toBe('/api/v1/search_by_date');
    expect(api.requests.at(-1)!.query.numericFilters).toBe(
      `created_at_i>=${Date.parse('2024-01-01') / 1000}`,
    );
  });

  it('flattens a story’s comment tree', async () => {
    const result = await session.execute('HACKERNEWS_GET_COMMENTS', { id: 1 });
    expect(result.data).toEqual({
      story: { id: 1, title: 'Y Combinator', url: 'http://ycombinator.com', points: 57 },
      comments: [
        {
          id: 15,
          by: 'sama',
          text: '"the rising star of venture capital" -unknown VC eating lunch on SHR',
          time: '2006-10-09T19:51:01.000Z',
          depth: 1,
          parent: 1,
          deleted: false,
        },
        {
          id: 17,
          by: 'pg',
          text: 'Is there anywhere to eat on Sandhill Road?',
          time: '2006-10-09T19:52:45.000Z',
          depth: 2,
          parent: 15,
          deleted: false,
        },
      ],
    });
  });
});

describe('hackernews errors as session results', () => {
  it('a story list whose items Hacker News does not give fails with the retry time, and one with some missing names them', async () => {
    try {
      unavailable.add(8863).add(121003);
      const outage = await session.execute('HACKERNEWS_GET_TOP_STORIES', { limit: 2 });
      expect(outage).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
      expect(outage.error).toMatch(
        /None of the 2 stories of the topstories list could be read: Hacker News had a server error \(503 Service Unavailable: .*\)\. .*retry after 30 seconds/,
      );
      unavailable.delete(8863);
      const partial = await session.execute('HACKERNEWS_GET_TOP_STORIES', { limit: 2 });
      expect(partial.successful).toBe(true);
      expect(partial.data).toEqual({
        stories: [expect.objectContaining({ id: 8863 })],
        unreadable: [{ id: 121003, error: expect.stringMatching(/^Hacker News had a server error \(503/) }],
      });
    } finally {
      unavailable.clear();
    }
  });

  it('the replies of a deleted comment are kept, after it marked deleted', async () => {
    const comment = (
      id: number,
      parent: number,
      children: unknown[] = [],
      author: string | null = 'bob',
    ) => ({
      id,
      created_at: '2024-01-01T00:00:00.000Z',
      type: 'comment',
      author,
      text: author ? `reply ${id}` : null,
      parent_id: parent,
      children,
    });
    api.route('GET', '/api/v1/items/2', {
      body: {
        id: 2,
        type: 'story',
        title: 'Thread',
        url: null,
        points: 3,
        children: [
          comment(3, 2, [comment(4, 3), comment(5, 3, [comment(6, 5)])], null),
          comment(7, 2, [], null),
          comment(8, 2),
        ],
      },
    });
    const result = await session.execute('HACKERNEWS_GET_COMMENTS', { id: 2 });
    const comments = (result.data as { comments: Array<Record<string, unknown>> }).comments;
    expect(
      comments.map(({ id, depth, parent, deleted, by }) => ({ id, depth, parent, deleted, by })),
    ).toEqual([
      { id: 3, depth: 1, parent: 2, deleted: true, by: null },
      { id: 4, depth: 2, parent: 3, deleted: false, by: 'bob' },
      { id: 5, depth: 2, parent: 3, deleted: false, by: 'bob' },
      { id: 6, depth: 3, parent: 5, deleted: false, by: 'bob' },
      // a deleted comment without replies is left out
      { id: 8, depth: 1, parent: 2, deleted: false, by: 'bob' },
    ]);
  });

  it('a missing item (the API answers null) is a 404 naming the item', async () => {
    const result = await session.execute('HACKERNEWS_GET_ITEM', { id: 99999999 });
    expect(result).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
    expect(result.error).toMatch(/Hacker News found no item 99999999 \(404 Not Found\)/);
    const user = await session.execute('HACKERNEWS_GET_USER', { username: 'nobody_here' });
    expect(user.error).toMatch(/found no user "nobody_here" \(names are case-sensitive\)/);
  });

  it('a 401, 403 or 404 of the public API speaks of no account, permission, scope or reconnect the user could give', async () => {
    // what only an account could change: none exists for Hacker News's API, nor is one sent
    const accountWords =
      /reconnect|scope|grant|permission for it|connected account|toolkit connected|needs an account/i;
    api.failNext({ status: 401, body: { error: 'Permission denied' } });
    const unauthorized = await session.execute('HACKERNEWS_GET_ITEM', { id: 8863 });
    expect(unauthorized.error).toMatch(
      /asked for authentication for item 8863 \(401 Unauthorized: Permission denied\)\. This toolkit sends no credentials and has no account to connect: item 8863 is not public/,
    );
    expect(unauthorized.error).not.toMatch(accountWords);
    api.failNext({ status: 403, body: { error: 'Permission denied' } });
    const forbidden = await session.execute('HACKERNEWS_GET_USER', { username: 'pg' });
    expect(forbidden.error).toMatch(
      /refused access to user "pg" \(403 Forbidden: Permission denied\)\. This toolkit sends no credentials, so no account or permission of the user is involved/,
    );
    expect(
      String(forbidden.error).replace('asking the user for access or a reconnect will not help', ''),
    ).not.toMatch(accountWords);
    api.failNext({ status: 403, body: { message: 'Forbidden' } });
    const search = await session.execute('HACKERNEWS_SEARCH', { query: 'x' });
    expect(search.error).toMatch(/refused access .*no account or permission of the user is involved/);
    for (const missing of [
      await session.execute('HACKERNEWS_GET_ITEM', { id: 99999999 }),
      await session.execute('HACKERNEWS_GET_USER', { username: 'nobody_here' }),
    ]) {
      expect(missing.error).toMatch(
        /found no .*\(404 Not Found\)\. Check the identifiers \(spelling, owner, id\)\.$/,
      );
      expect(missing.error).not.toMatch(accountWords);
    }
  });

  it('429 is retried after a short wait, and reported after a long one', async () => {
    api.failNext({ status: 429, headers: { 'retry-after': '0' }, body: { message: 'Too many requests' } });
    expect((await session.execute('HACKERNEWS_SEARCH', { query: 'x' })).successful).toBe(true);
    api.failNext({ status: 429, headers: { 'retry-after': '120' }, body: { message: 'Too many requests' } });
    const result = await session.execute('HACKERNEWS_SEARCH', { query: 'x' });
    expect(result.error).toMatch(/Hacker News search rate limit reached.*Retry after 2 minutes/);
  });

  it('the session logs every call', async () => {
    const logs = await session.logs({ limit: 100 });
    expect(logs.items.some((log) => log.toolSlug === 'HACKERNEWS_GET_ITEM' && log.status === 'error')).toBe(
      true,
    );
  });
});

describe('HN text as plain text', () => {
  /** The regular expressions the text went through before, as the reference for HN's own HTML. */
  function byRegularExpressions(html: string): string {
    return html
      .replace(/<p>/gi, '\n\n')
      .replace(/<a [^>]*href="([^"]*)"[^>]*>[^<]*<\/a>/gi, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/&#x27;|&#39;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/&#x2F;/g, '/')
      .replace(/&gt;/g, '>')
      .replace(/&lt;/g, '<')
      .replace(/&amp;/g, '&')
      .trim();
  }

  it("reads HN's HTML as the regular expressions did: paragraphs, links as their URL, other tags gone, entities decoded", () => {
    // what HN sends: a literal < or > is always an entity; tags are p, i, pre/code and links
    const pieces = [
      'x',
      ' ',
      '"',
      '&amp;',
      '&lt;',
      '&gt;',
      '&#x27;',
      '&#x2F;',
      '&quot;',
      'https://e.com/',
      '<p>',
      '<P>',
      '<i>',
      '</i>',
      '<pre><code>',
      '</code></pre>',
      '<a href="https:&#x2F;&#x2F;e.com&#x2F;a?b=1&amp;c" rel="nofollow">e.com/a</a>',
      '<A HREF="u">t</A>',
      '<a rel="x" href="v">',
      '</a>',
      '<a ',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 16 }), (parts) => {
        const html = parts.join('');
        expect(htmlToText(html)).toBe(html === '' ? null : byRegularExpressions(html));
      }),
      { numRuns: 20_000 },
    );
  });

  it('reads a megabyte of `<a ` or of `<` without `>` in one pass (the regular expressions scanned the rest again at each: hours)', () => {
    for (const unit of ['<a ', '<a href="x" ', '<x', '<a href="']) {
      const hostile = `<p>start ${unit.repeat(Math.ceil(1_000_000 / unit.length))}`;
      const text = htmlToText(hostile)!;
      expect(text.startsWith('start')).toBe(true);
      expect(text.length).toBeGreaterThan(900_000);
    }
    // a `>` at the very end: every `<a ` before it is one tag
    expect(htmlToText(`${'<a '.repeat(300_000)}>after`)).toBe('after');
  });
});
