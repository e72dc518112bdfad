import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createNotionToolkit, textToBlocks } from './notion.js';
import { NOTION_LANGUAGES } from './notion-languages.js';

const PAGE_ID = '59833787-2cf9-4fdf-8782-e53db20768a5';
const DATABASE_ID = 'd9824bdc-8445-4327-be8b-5b47500af6ce';
const text = (content: string) => ({
  type: 'text',
  text: { content, link: null },
  annotations: {
    bold: false,
    italic: false,
    strikethrough: false,
    underline: false,
    code: false,
    color: 'default',
  },
  plain_text: content,
  href: null,
});

/** A database page as the Notion API reference documents it (API version 2022-06-28). */
const page = {
  object: 'page',
  id: PAGE_ID,
  created_time: '2022-03-01T19:05:00.000Z',
  last_edited_time: '2022-07-06T20:25:00.000Z',
  created_by: { object: 'user', id: 'ee5f0f84-409a-440f-983a-a5315961c6e4' },
  last_edited_by: { object: 'user', id: '0c3e9826-b8f7-4f73-927d-2caaf86f1103' },
  cover: null,
  icon: { type: 'emoji', emoji: '🥬' },
  parent: { type: 'database_id', database_id: DATABASE_ID },
  archived: false,
  in_trash: false,
  properties: {
    'Store availability': {
      id: '%3AUPp',
      type: 'multi_select',
      multi_select: [
        { id: 't|O@', name: "Gus's Community Market", color: 'yellow' },
        { id: '{Ml\\', name: 'Rainbow Grocery', color: 'gray' },
      ],
    },
    'Food group': {
      id: 'A%40Hk',
      type: 'select',
      select: { id: '5e8e7e8f-432e-4d8a-8166-1821e10225fc', name: '🥬 Vegetable', color: 'pink' },
    },
    Price: { id: 'BJXS', type: 'number', number: 2.5 },
    'Responsible Person': {
      id: 'Iowm',
      type: 'people',
      people: [
        {
          object: 'user',
          id: 'cbfe3c6e-71cf-4cd3-b6e7-02f38f371bcc',
          name: 'Cristina Cordova',
          avatar_url: null,
          type: 'person',
          person: { email: 'cristina@example.org' },
        },
      ],
    },
    'Last ordered': { id: 'Jsfb', type: 'date', date: { start: '2022-02-22', end: null, time_zone: null } },
    'In stock': { id: '%7B%5CYw', type: 'checkbox', checkbox: true },
    Status: { id: 'Ptn%5E', type: 'status', status: { id: 'ab12', name: 'In progress', color: 'blue' } },
    Name: { id: 'title', type: 'title', title: [text('Tuscan kale')] },
  },
  url: 'https://www.notion.so/Tuscan-kale-598337872cf94fdf8782e53db20768a5',
  public_url: null,
};
const database = {
  object: 'database',
  id: DATABASE_ID,
  created_time: '2021-07-08T23:50:00.000Z',
  last_edited_time: '2021-07-08T23:50:00.000Z',
  title: [text('Grocery List')],
  description: [],
  is_inline: false,
  properties: {
    Name: { id: 'title', name: 'Name', type: 'title', title: {} },
    'Food group': {
      id: 'A%40Hk',
      name: 'Food group',
      type: 'select',
      select: {
        options: [
          { id: '5e8e7e8f', name: '🥬 Vegetable', color: 'green' },
          { id: '6c3867c5', name: '🍎 Fruit', color: 'red' },
        ],
      },
    },
    Price: { id: 'BJXS', name: 'Price', type: 'number', number: { format: 'dollar' } },
  },
  parent: { type: 'page_id', page_id: '98ad959b-2b6a-4774-80ee-00246fb0ea9b' },
  url: 'https://www.notion.so/d9824bdc84454327be8b5b47500af6ce',
  archived: false,
};
const blocks = {
  object: 'list',
  results: [
    {
      object: 'block',
      id: 'c02fc1d3-db8b-45c5-a222-27595b15aea7',
      type: 'heading_2',
      has_children: false,
      heading_2: { rich_text: [text('Lacinato kale')], color: 'default', is_toggleable: false },
    },
    {
      object: 'block',
      id: 'acc7eb06-05cd-4603-a384-5e1e4f1f4e72',
      type: 'paragraph',
      has_children: false,
      paragraph: {
        rich_text: [text('Lacinato kale is a variety of kale with a long tradition in Italian cuisine.')],
        color: 'default',
      },
    },
    {
      object: 'block',
      id: 'b5d8fd79-6b45-4f2d-8a8b-c5a0b8f1b0a1',
      type: 'to_do',
      has_children: false,
      to_do: { rich_text: [text('Buy seeds')], checked: true, color: 'default' },
    },
  ],
  next_cursor: null,
  has_more: false,
  type: 'block',
  block: {},
};

/**
 * The code-block languages Notion's API takes at the version the toolkit sends (2022-06-28), as its
 * `validation_error` for another one lists them: the loopback Notion refuses by this list, not by the
 * toolkit's own, so that a language the toolkit sends and Notion does not take fails here.
 */
const API_LANGUAGES = [
  ...['abap', 'abc', 'agda', 'arduino', 'ascii art', 'assembly', 'bash', 'basic', 'bnf', 'c', 'c#'],
  ...['c++', 'clojure', 'coffeescript', 'coq', 'css', 'dart', 'dhall', 'diff', 'docker', 'ebnf'],
  ...['elixir', 'elm', 'erlang', 'f#', 'flow', 'fortran', 'gherkin', 'glsl', 'go', 'graphql'],
  ...['groovy', 'haskell', 'hcl', 'html', 'idris', 'java', 'javascript', 'json', 'julia', 'kotlin'],
  ...['latex', 'less', 'lisp', 'livescript', 'llvm ir', 'lua', 'makefile', 'markdown', 'markup'],
  ...['matlab', 'mathematica', 'mermaid', 'nix', 'notion formula', 'objective-c', 'ocaml', 'pascal'],
  ...['perl', 'php', 'plain text', 'powershell', 'prolog', 'protobuf', 'purescript', 'python', 'r'],
  ...['racket', 'reason', 'ruby', 'rust', 'sass', 'scala', 'scheme', 'scss', 'shell', 'smalltalk'],
  ...['solidity', 'sql', 'swift', 'toml', 'typescript', 'vb.net', 'verilog', 'vhdl', 'visual basic'],
  ...['webassembly', 'xml', 'yaml', 'java/c/c++/c#'],
];

let api: FakeApi;
let toolkit: ReturnType<typeof createNotionToolkit>;
const context = toolContext({ accessToken: 'secret_test' });

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createNotionToolkit({ baseUrl: `${api.url}/v1` });
  api.route('POST', '/v1/search', {
    body: {
      object: 'list',
      results: [page, database],
      next_cursor: null,
      has_more: false,
      type: 'page_or_database',
      page_or_database: {},
    },
  });
  api.route('GET', '/v1/pages/:id', { body: page });
  api.route('PATCH', '/v1/pages/:id', (request) => ({
    body: { ...page, archived: (request.body as { archived?: boolean }).archived ?? false },
  }));
  api.route('POST', '/v1/pages', { body: page });
  api.route('GET', '/v1/blocks/:id/children', { body: blocks });
  api.route('PATCH', '/v1/blocks/:id/children', (request) => {
    // Notion fails the whole request for a code block of a language it does not have
    const children = (request.body as { children: Array<{ type: string; code?: { language: string } }> })
      .children;
    const index = children.findIndex(
      (block) => block.type === 'code' && !API_LANGUAGES.includes(block.code!.language),
    );
    if (index >= 0) {
      return {
        status: 400,
        body: {
          object: 'error',
          status: 400,
          code: 'validation_error',
          message: `body failed validation: body.children[${index}].code.language should be "abap", … or "java/c/c++/c#", instead was ${JSON.stringify(children[index]!.code!.language)}.`,
        },
      };
    }
    return {
      body: {
        object: 'list',
        results: (request.body as { children: unknown[] }).children.map((_, index) => ({
          object: 'block',
          id: `b${index}`,
        })),
        next_cursor: null,
        has_more: false,
      },
    };
  });
  api.route('POST', '/v1/databases/:id/query', {
    body: {
      object: 'list',
      results: [page],
      next_cursor: null,
      has_more: false,
      type: 'page_or_database',
      page_or_database: {},
    },
  });
  api.route('GET', '/v1/databases/:id', { body: database });
  api.route('POST', '/v1/comments', {
    body: {
      object: 'comment',
      id: 'b52b8ed6-e029-4707-a671-832549c09de3',
      parent: { type: 'page_id', page_id: PAGE_ID },
      discussion_id: 'f1407351-36f5-4c49-a13c-49f8ba11776d',
      created_time: '2022-07-15T20:53:00.000Z',
      last_edited_time: '2022-07-15T20:53:00.000Z',
      created_by: { object: 'user', id: '067dee40-6ebd-496f-b446-093c715fb5ec' },
      rich_text: [text('Hello world')],
    },
  });
  api.route('GET', '/v1/users', {
    body: {
      object: 'list',
      results: [
        {
          object: 'user',
          id: 'd40e767c-d7af-4b18-a86d-55c61f1e39a4',
          type: 'person',
          person: { email: 'avo@example.org' },
          name: 'Avocado Lovelace',
          avatar_url: null,
        },
        {
          object: 'user',
          id: '9a3b5ae0-c6e6-482d-b0e1-ed315ee6dc57',
          type: 'bot',
          bot: {},
          name: 'Doug Engelbot',
          avatar_url: null,
        },
      ],
      next_cursor: null,
      has_more: false,
    },
  });
});

afterAll(() => api.close());

describe('notion tools', () => {
  it('searches with the bearer token and API version', async () => {
    const result = await run(toolkit, 'NOTION_SEARCH', { query: 'kale', filter: 'page' }, context);
    expect(result.results).toEqual([
      {
        id: PAGE_ID,
        object: 'page',
        title: 'Tuscan kale',
        url: page.url,
        last_edited_time: '2022-07-06T20:25:00.000Z',
      },
      {
        id: DATABASE_ID,
        object: 'database',
        title: 'Grocery List',
        url: database.url,
        last_edited_time: '2021-07-08T23:50:00.000Z',
      },
    ]);
    const request = api.requests.at(-1)!;
    expect(request.headers.authorization).toBe('Bearer secret_test');
    expect(request.headers['notion-version']).toBe('2022-06-28');
    expect(request.body).toMatchObject({
      query: 'kale',
      filter: { property: 'object', value: 'page' },
      page_size: 25,
    });
  });

  it('reads a page with plain property values, and its content as text', async () => {
    const result = await run(toolkit, 'NOTION_GET_PAGE', { page_id: page.url }, context);
    expect(api.requests.at(-1)!.path).toBe('/v1/pages/598337872cf94fdf8782e53db20768a5');
    expect(result.title).toBe('Tuscan kale');
    expect(result.properties).toEqual({
      'Store availability': ["Gus's Community Market", 'Rainbow Grocery'],
      'Food group': '🥬 Vegetable',
      Price: 2.5,
      'Responsible Person': ['Cristina Cordova'],
      'Last ordered': '2022-02-22',
      'In stock': true,
      Status: 'In progress',
      Name: 'Tuscan kale',
    });
    const content = await run(toolkit, 'NOTION_GET_PAGE_CONTENT', { page_id: PAGE_ID }, context);
    expect(content.text).toBe(
      '## Lacinato kale\nLacinato kale is a variety of kale with a long tradition in Italian cuisine.\n[x] Buy seeds',
    );
  });

  it('creates pages in databases and pages, updates, archives and appends', async () => {
    await run(
      toolkit,
      'NOTION_CREATE_PAGE',
      {
        parent_database_id: DATABASE_ID,
        title: 'Tuscan kale',
        properties: { Price: { number: 2.5 } },
        content: '# Notes\n- fresh\n[ ] order more',
      },
      context,
    );
    expect(api.requests.at(-1)!.body).toEqual({
      parent: { database_id: DATABASE_ID },
      properties: {
        Price: { number: 2.5 },
        Name: { title: [{ type: 'text', text: { content: 'Tuscan kale' } }] },
      },
      children: textToBlocks('# Notes\n- fresh\n[ ] order more'),
    });
    await run(
      toolkit,
      'NOTION_CREATE_PAGE',
      { parent_page_id: '98ad959b-2b6a-4774-80ee-00246fb0ea9b', title: 'Meeting notes' },
      context,
    );
    expect(api.requests.at(-1)!.body).toMatchObject({
      parent: { page_id: '98ad959b-2b6a-4774-80ee-00246fb0ea9b' },
      properties: { title: { title: [{ text: { content: 'Meeting notes' } }] } },
    });
    await expect(run(toolkit, 'NOTION_CREATE_PAGE', { title: 'orphan' }, context)).rejects.toThrow(
      /exactly one of parent_page_id or parent_database_id/,
    );

    await run(
      toolkit,
      'NOTION_UPDATE_PAGE',
      { page_id: PAGE_ID, properties: { 'In stock': { checkbox: false } } },
      context,
    );
    expect(api.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      body: { properties: { 'In stock': { checkbox: false } } },
    });
    expect((await run(toolkit, 'NOTION_ARCHIVE_PAGE', { page_id: PAGE_ID }, context)).archived).toBe(true);

    const lines = Array.from({ length: 150 }, (_, index) => `- item ${index}`).join('\n');
    expect(await run(toolkit, 'NOTION_APPEND_BLOCKS', { page_id: PAGE_ID, content: lines }, context)).toEqual(
      { appended: 150 },
    );
    const appends = api.requests.filter(
      (request) => request.method === 'PATCH' && request.path.endsWith('/children'),
    );
    expect(appends.map((request) => (request.body as { children: unknown[] }).children.length)).toEqual([
      100, 50,
    ]);
  });

  it('turns text into Notion blocks', () => {
    expect(
      textToBlocks('## Title\n1. one\n> quoted\n```ts\nconst a = 1;\n```\nplain').map((block) => block.type),
    ).toEqual(['heading_2', 'numbered_list_item', 'quote', 'code', 'paragraph']);
  });

  it('appends code fences of any info string: a common name of a language becomes Notion’s, an unknown one plain text, and the fence closes where it ends', async () => {
    const content = [
      '```ts',
      'const a: number = 1;',
      '```',
      '```c++',
      'int main() {}',
      '```',
      'between',
      '```py title="x.py"',
      'print(1)',
      '```',
      '~~~Dockerfile',
      'FROM node:24',
      '~~~',
      '````sh',
      '```',
      '````',
      '```brainfuck',
      '+[-->-[>>+>-----<<]<--<---]>-.',
      '```',
      '```',
      'no language',
      '```',
      'after',
    ].join('\n');
    expect(await run(toolkit, 'NOTION_APPEND_BLOCKS', { page_id: PAGE_ID, content }, context)).toEqual({
      appended: 9,
    });
    const children = (api.requests.at(-1)!.body as { children: any[] }).children;
    expect(
      children.map((block) => [
        block.type,
        block.code?.language ?? block[block.type].rich_text[0].text.content,
      ]),
    ).toEqual([
      ['code', 'typescript'],
      ['code', 'c++'],
      ['paragraph', 'between'],
      ['code', 'python'],
      ['code', 'docker'],
      ['code', 'shell'],
      ['code', 'plain text'],
      ['code', 'plain text'],
      ['paragraph', 'after'],
    ]);
    expect(children[5].code.rich_text[0].text.content).toBe('```');
  });

  it('the languages the toolkit sends are those of the Notion API version it sends, and a code block of each, read and appended back, keeps its language', async () => {
    expect([...NOTION_LANGUAGES].sort()).toEqual([...API_LANGUAGES].sort());
    expect(api.requests.find((request) => request.path.startsWith('/v1/'))?.headers['notion-version']).toBe(
      '2022-06-28',
    );
    const codeBlock = (language: string, index: number) => ({
      object: 'block',
      id: `c0de${index}`,
      type: 'code',
      has_children: false,
      code: { caption: [], rich_text: [text(`code ${index}`)], language },
    });
    api.route('GET', '/v1/blocks/c0debook/children', {
      body: {
        object: 'list',
        results: API_LANGUAGES.map(codeBlock),
        next_cursor: null,
        has_more: false,
        type: 'block',
        block: {},
      },
    });
    const read = await run(
      toolkit,
      'NOTION_GET_PAGE_CONTENT',
      { page_id: 'c0debook', page_size: 100 },
      context,
    );
    expect(
      await run(toolkit, 'NOTION_APPEND_BLOCKS', { page_id: PAGE_ID, content: read.text }, context),
    ).toEqual({ appended: API_LANGUAGES.length });
    const children = (api.requests.at(-1)!.body as { children: any[] }).children;
    expect(children.map((block) => block.code.language)).toEqual(API_LANGUAGES);
    expect(children.map((block) => block.code.rich_text[0].text.content)).toEqual(
      API_LANGUAGES.map((_, index) => `code ${index}`),
    );
  });

  it('a fence of any info string gives one code block of a Notion language, and the text after it stays text', () => {
    const info = fc.string({ unit: fc.constantFrom(...'aZ+#-/. {}="c'.split('')), maxLength: 12 });
    const code = fc.array(fc.stringMatching(/^[a-z ();=]{0,10}$/), { maxLength: 4 });
    fc.assert(
      fc.property(fc.constantFrom('```', '~~~', '````'), info, code, (fence, infoString, lines) => {
        const blocks = textToBlocks([`${fence}${infoString}`, ...lines, fence, 'after'].join('\n'));
        expect(blocks.map((block) => block.type)).toEqual(['code', 'paragraph']);
        expect(NOTION_LANGUAGES.has(blocks[0]!.code.language)).toBe(true);
        expect(blocks[0]!.code.rich_text.map((part: any) => part.text.content).join('')).toBe(
          lines.join('\n'),
        );
      }),
    );
  });

  it('queries and describes databases, comments and lists users', async () => {
    const rows = await run(
      toolkit,
      'NOTION_QUERY_DATABASE',
      { database_id: DATABASE_ID, filter: { property: 'In stock', checkbox: { equals: true } } },
      context,
    );
    expect(rows.rows[0].properties.Price).toBe(2.5);
    expect(api.requests.at(-1)!.body).toEqual({
      filter: { property: 'In stock', checkbox: { equals: true } },
      page_size: 25,
    });
    const described = await run(toolkit, 'NOTION_GET_DATABASE', { database_id: DATABASE_ID }, context);
    expect(described.properties).toEqual([
      { name: 'Name', type: 'title' },
      { name: 'Food group', type: 'select', options: ['🥬 Vegetable', '🍎 Fruit'] },
      { name: 'Price', type: 'number' },
    ]);
    expect(
      await run(toolkit, 'NOTION_ADD_COMMENT', { page_id: PAGE_ID, text: 'Hello world' }, context),
    ).toMatchObject({ discussion_id: 'f1407351-36f5-4c49-a13c-49f8ba11776d' });
    const users = await run(toolkit, 'NOTION_LIST_USERS', {}, context);
    expect(users.users[0]).toEqual({
      id: 'd40e767c-d7af-4b18-a86d-55c61f1e39a4',
      type: 'person',
      name: 'Avocado Lovelace',
      email: 'avo@example.org',
    });
  });
});

describe('notion errors', () => {
  it('401 asks for a reconnect', async () => {
    api.failNext({
      status: 401,
      body: { object: 'error', status: 401, code: 'unauthorized', message: 'API token is invalid.' },
    });
    await expect(run(toolkit, 'NOTION_SEARCH', {}, context)).rejects.toThrow(
      /Notion rejected the credentials \(401 Unauthorized: API token is invalid\.\)/,
    );
  });

  it('404 names the page and relays Notion’s sharing hint', async () => {
    api.failNext({
      status: 404,
      body: {
        object: 'error',
        status: 404,
        code: 'object_not_found',
        message: `Could not find page with ID: ${PAGE_ID}. Make sure the relevant pages and databases are shared with your integration.`,
      },
    });
    await expect(run(toolkit, 'NOTION_GET_PAGE', { page_id: PAGE_ID }, context)).rejects.toThrow(
      /Notion found no page 59833787-.*shared with your integration/,
    );
  });

  it('429 rate_limited says when to retry', async () => {
    api.failNext({
      status: 429,
      headers: { 'retry-after': '20' },
      body: {
        object: 'error',
        status: 429,
        code: 'rate_limited',
        message: 'You have been rate limited. Please try again in a few minutes.',
      },
    });
    await expect(run(toolkit, 'NOTION_SEARCH', {}, context)).rejects.toThrow(
      /Notion rate limit reached.*Retry after 20 seconds/,
    );
  });
});
