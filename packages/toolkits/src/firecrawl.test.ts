import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createFirecrawlToolkit } from './firecrawl.js';

/** Answers as the Firecrawl v2 API reference documents them. */
const document = {
  markdown: '# Firecrawl\n\nTurn websites into LLM-ready data. '.repeat(5),
  metadata: {
    title: 'Firecrawl',
    description: 'Turn websites into LLM-ready data',
    language: 'en',
    keywords: 'Firecrawl,Markdown,Data,Mendable,Langchain',
    robots: 'follow, index',
    ogTitle: 'Firecrawl',
    ogDescription: 'Turn any website into LLM-ready data.',
    ogUrl: 'https://www.firecrawl.dev/',
    ogLocaleAlternate: [],
    ogSiteName: 'Firecrawl',
    sourceURL: 'https://firecrawl.dev',
    url: 'https://www.firecrawl.dev/',
    statusCode: 200,
  },
};

let api: FakeApi;
let toolkit: ReturnType<typeof createFirecrawlToolkit>;
const context = toolContext({ apiKey: 'fc-test-key' });

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createFirecrawlToolkit({ baseUrl: api.url });
  api.route('POST', '/v2/scrape', {
    body: { success: true, data: { ...document, links: ['https://www.firecrawl.dev/pricing'] } },
  });
  api.route('POST', '/v2/crawl', {
    body: {
      success: true,
      id: '123e4567-e89b-12d3-a456-426614174000',
      url: 'https://api.firecrawl.dev/v2/crawl/123e4567-e89b-12d3-a456-426614174000',
    },
  });
  api.route('GET', '/v2/crawl/:id', {
    body: {
      status: 'scraping',
      total: 36,
      completed: 10,
      creditsUsed: 10,
      expiresAt: '2024-12-18T05:31:56Z',
      next: 'https://api.firecrawl.dev/v2/crawl/123e4567-e89b-12d3-a456-426614174000?skip=10',
      data: [document],
    },
  });
  api.route('DELETE', '/v2/crawl/:id', { body: { status: 'cancelled' } });
  api.route('POST', '/v2/map', {
    body: {
      success: true,
      links: [
        {
          url: 'https://docs.firecrawl.dev/features/scrape',
          title: 'Scrape | Firecrawl',
          description: 'Turn any url into clean data',
        },
        {
          url: 'https://www.firecrawl.dev/playground',
          title: 'Playground - Firecrawl',
          description: 'Preview the API response',
        },
      ],
    },
  });
  api.route('POST', '/v2/search', {
    body: {
      success: true,
      data: {
        web: [
          {
            title: 'Firecrawl - The Ultimate Web Scraping API',
            description: 'Firecrawl is a powerful web scraping API…',
            url: 'https://firecrawl.dev/',
            markdown: '# Firecrawl\n\nThe ultimate web scraping API',
            position: 1,
          },
        ],
      },
      warning: null,
      id: 'search_1',
      creditsUsed: 2,
    },
  });
});

afterAll(() => api.close());

describe('firecrawl tools', () => {
  it('scrapes a page to markdown with a bearer key, cutting long text', async () => {
    const page = await run(
      toolkit,
      'FIRECRAWL_SCRAPE',
      { url: 'https://firecrawl.dev', includeLinks: true, maxCharacters: 500 },
      context,
    );
    expect(page).toMatchObject({
      url: 'https://firecrawl.dev',
      title: 'Firecrawl',
      statusCode: 200,
      links: ['https://www.firecrawl.dev/pricing'],
    });
    expect(page.markdown.length).toBeLessThanOrEqual(501);
    const request = api.requests.at(-1)!;
    expect(request.headers.authorization).toBe('Bearer fc-test-key');
    expect(request.body).toEqual({
      url: 'https://firecrawl.dev',
      onlyMainContent: true,
      formats: ['markdown', 'links'],
    });
  });

  it('starts a crawl, reads its status and cancels it', async () => {
    const started = await run(
      toolkit,
      'FIRECRAWL_CRAWL',
      { url: 'https://firecrawl.dev', limit: 50, includePaths: ['^/blog/.*'] },
      context,
    );
    expect(started.id).toBe('123e4567-e89b-12d3-a456-426614174000');
    expect(api.requests.at(-1)!.body).toMatchObject({
      url: 'https://firecrawl.dev',
      limit: 50,
      includePaths: ['^/blog/.*'],
      scrapeOptions: { formats: ['markdown'] },
    });
    const status = await run(toolkit, 'FIRECRAWL_GET_CRAWL_STATUS', { id: started.id }, context);
    expect(status).toMatchObject({ status: 'scraping', total: 36, completed: 10, creditsUsed: 10 });
    expect(status.pages[0].title).toBe('Firecrawl');
    expect(await run(toolkit, 'FIRECRAWL_CANCEL_CRAWL', { id: started.id }, context)).toEqual({
      status: 'cancelled',
    });
    expect(api.requests.at(-1)!.method).toBe('DELETE');
  });

  it('reads the batches of a crawl after the first with skip, where Firecrawl answers a next URL that needs the API key', async () => {
    const pages = Array.from({ length: 5 }, (_, index) => ({
      ...document,
      metadata: { ...document.metadata, title: `page ${index}`, sourceURL: `https://a.dev/${index}` },
    }));
    // two pages a batch, as Firecrawl cuts its answer at 10 MB
    api.route('GET', '/v2/crawl/batched', (request) => {
      const skip = Number(request.query.skip ?? 0);
      return {
        body: {
          status: 'completed',
          total: 5,
          completed: 5,
          creditsUsed: 5,
          expiresAt: '2024-12-18T05:31:56Z',
          next: skip + 2 < 5 ? `https://api.firecrawl.dev/v2/crawl/batched?skip=${skip + 2}` : null,
          data: pages.slice(skip, skip + 2),
        },
      };
    });
    const titles: string[] = [];
    let skip: number | undefined;
    for (let calls = 0; calls < 10; calls++) {
      const batch = await run(toolkit, 'FIRECRAWL_GET_CRAWL_STATUS', { id: 'batched', skip }, context);
      titles.push(...batch.pages.map((page: { title: string }) => page.title));
      expect(batch).not.toHaveProperty('next');
      if (batch.nextSkip === null) break;
      skip = batch.nextSkip;
    }
    expect(titles).toEqual(['page 0', 'page 1', 'page 2', 'page 3', 'page 4']);
    expect(
      api.requests.filter((request) => request.path === '/v2/crawl/batched').map((request) => request.query),
    ).toEqual([{}, { skip: '2' }, { skip: '4' }]);
  });

  it('maps a site and searches the web', async () => {
    const map = await run(
      toolkit,
      'FIRECRAWL_MAP',
      { url: 'https://firecrawl.dev', search: 'docs' },
      context,
    );
    expect(map.links[0]).toEqual({
      url: 'https://docs.firecrawl.dev/features/scrape',
      title: 'Scrape | Firecrawl',
      description: 'Turn any url into clean data',
    });
    const search = await run(
      toolkit,
      'FIRECRAWL_SEARCH',
      { query: 'firecrawl', scrapeResults: true },
      context,
    );
    expect(search.results[0]).toMatchObject({
      url: 'https://firecrawl.dev/',
      markdown: '# Firecrawl\n\nThe ultimate web scraping API',
    });
    expect(api.requests.at(-1)!.body).toEqual({
      query: 'firecrawl',
      limit: 5,
      scrapeOptions: { formats: ['markdown'], onlyMainContent: true },
    });
  });
});

describe('firecrawl errors', () => {
  it('401 asks for a reconnect', async () => {
    api.failNext({ status: 401, body: { success: false, error: 'Unauthorized: Invalid token' } });
    await expect(run(toolkit, 'FIRECRAWL_SCRAPE', { url: 'https://a.dev' }, context)).rejects.toThrow(
      /Firecrawl rejected the credentials.*Invalid token/,
    );
  });

  it('404 names the crawl', async () => {
    api.failNext({ status: 404, body: { success: false, error: 'Crawl job not found' } });
    await expect(run(toolkit, 'FIRECRAWL_GET_CRAWL_STATUS', { id: 'nope' }, context)).rejects.toThrow(
      /Firecrawl found no crawl nope \(404 Not Found: Crawl job not found\)/,
    );
  });

  it('429 is retried after a short wait, reported after a long one', async () => {
    api.failNext({
      status: 429,
      headers: { 'retry-after': '0' },
      body: { success: false, error: 'Rate limit exceeded' },
    });
    expect((await run(toolkit, 'FIRECRAWL_MAP', { url: 'https://a.dev' }, context)).links).toHaveLength(2);
    api.failNext({
      status: 429,
      headers: { 'retry-after': '3600' },
      body: { success: false, error: 'Rate limit exceeded. Consumed (req/min): 11, Remaining (req/min): 0.' },
    });
    await expect(run(toolkit, 'FIRECRAWL_MAP', { url: 'https://a.dev' }, context)).rejects.toThrow(
      /Retry after 60 minutes/,
    );
  });

  it('402 says the credits ran out', async () => {
    api.failNext({
      status: 402,
      body: { success: false, error: 'Payment required to access this resource.' },
    });
    await expect(run(toolkit, 'FIRECRAWL_SCRAPE', { url: 'https://a.dev' }, context)).rejects.toThrow(
      /out of credits or needs a paid plan/,
    );
  });
});
