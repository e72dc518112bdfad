import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, READ, UPDATE } from './annotations.js';
import { createApi, readingAnswers, requireToken } from './http.js';

export interface FirecrawlToolkitOptions {
  /** API root (the v2 paths are appended). @default 'https://api.firecrawl.dev' */
  baseUrl?: string;
}

type Json = Record<string, any>;

const maxCharacters = z
  .number()
  .int()
  .min(500)
  .max(200_000)
  .default(30_000)
  .describe('Longest markdown text returned per page (longer pages are cut)');

const pageOut = z.object({
  url: z.string().nullable(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  statusCode: z.number().nullable(),
  markdown: z.string().nullable(),
  links: z.array(z.string()).optional(),
});

const clip = (text: string | undefined, max: number) =>
  text === undefined || text === null ? null : text.length > max ? `${text.slice(0, max)}…` : text;

/**
 * Where the next batch of a crawl's pages starts: the `skip` of Firecrawl's `next` URL. That URL is
 * Firecrawl's own, read with the account's API key, which the model does not have: the tool takes
 * the number instead. `counted` (the pages skipped and read so far) when the URL holds none.
 */
function nextSkipOf(next: string, counted: number): number {
  const skip = URL.canParse(next) ? new URL(next).searchParams.get('skip') : null;
  const value = skip === null ? Number.NaN : Number(skip);
  return Number.isInteger(value) && value >= 0 ? value : counted;
}

const toPage = (document: Json, max: number): z.infer<typeof pageOut> => ({
  url: document.metadata?.sourceURL ?? document.metadata?.url ?? document.url ?? null,
  title: document.metadata?.title ?? document.title ?? null,
  description: document.metadata?.description ?? document.description ?? null,
  statusCode: document.metadata?.statusCode ?? null,
  markdown: clip(document.markdown, max),
  ...(document.links ? { links: document.links } : {}),
});

/** The options of createFirecrawlToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const FIRECRAWL_OPTION_NAMES = everyKeyOf<FirecrawlToolkitOptions>()(['baseUrl']);

/** Firecrawl: scrape pages to markdown, crawl and map sites, search the web, over the v2 API. */
export function createFirecrawlToolkit(options: FirecrawlToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createFirecrawlToolkit()', FIRECRAWL_OPTION_NAMES, {
    code: 'TOOL_DEFINITION_INVALID',
  });
  const baseUrl = options.baseUrl ?? 'https://api.firecrawl.dev';
  const api = createApi({
    service: 'Firecrawl',
    baseUrl,
    headers: (credentials) => ({ Authorization: `Bearer ${requireToken(credentials, 'Firecrawl')}` }),
  });

  const tools = [
    defineTool({
      slug: 'FIRECRAWL_SCRAPE',
      description:
        'Scrape one web page and get its content as clean markdown (JavaScript rendered), with title and metadata. Use it to read an article, docs page or product page.',
      inputSchema: z.object({
        url: z.string().url().describe('The page to scrape'),
        onlyMainContent: z.boolean().default(true).describe('Drop navigation, headers and footers'),
        includeLinks: z.boolean().default(false).describe('Also return the links found on the page'),
        waitFor: z
          .number()
          .int()
          .min(0)
          .max(30_000)
          .optional()
          .describe('Milliseconds to wait for the page to render'),
        maxCharacters,
      }),
      outputSchema: pageOut,
      annotations: READ,
      timeoutMs: 120_000,
      execute: async ({ url, onlyMainContent, includeLinks, waitFor, maxCharacters }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/v2/scrape',
          body: {
            url,
            onlyMainContent,
            waitFor,
            formats: includeLinks ? ['markdown', 'links'] : ['markdown'],
          },
          resource: `page ${url}`,
        });
        return toPage(result.data ?? {}, maxCharacters);
      },
    }),
    defineTool({
      slug: 'FIRECRAWL_CRAWL',
      description:
        'Start crawling a website: Firecrawl follows links from the URL and scrapes every page to markdown in the background. Returns a crawl id; read the pages with FIRECRAWL_GET_CRAWL_STATUS.',
      inputSchema: z.object({
        url: z.string().url().describe('Where the crawl starts'),
        limit: z.number().int().min(1).max(1000).default(10).describe('Most pages to crawl'),
        includePaths: z
          .array(z.string())
          .optional()
          .describe('Only URL paths matching these regexes, e.g. ["^/blog/.*"]'),
        excludePaths: z.array(z.string()).optional().describe('Skip URL paths matching these regexes'),
        maxDiscoveryDepth: z.number().int().min(0).optional().describe('How many links deep to follow'),
        allowExternalLinks: z.boolean().default(false).describe('Follow links to other domains'),
      }),
      outputSchema: z.object({ id: z.string(), url: z.string().nullable() }),
      annotations: CREATE,
      execute: async (input, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/v2/crawl',
          body: { ...input, scrapeOptions: { formats: ['markdown'], onlyMainContent: true } },
          resource: `crawl of ${input.url}`,
        });
        return { id: result.id, url: result.url ?? null };
      },
    }),
    defineTool({
      slug: 'FIRECRAWL_GET_CRAWL_STATUS',
      description:
        'Check a crawl started with FIRECRAWL_CRAWL: its status (scraping, completed, failed), progress, and the pages scraped so far as markdown. Pages come in batches (about 10 MB each): while nextSkip is not null, call again with skip: nextSkip for the next batch.',
      inputSchema: z.object({
        id: z.string().min(1).describe('Crawl id returned by FIRECRAWL_CRAWL'),
        skip: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Pages to skip: the nextSkip of the previous answer, for the next batch'),
        maxCharacters: maxCharacters.default(5_000),
      }),
      outputSchema: z.object({
        status: z.string(),
        total: z.number(),
        completed: z.number(),
        creditsUsed: z.number().nullable(),
        expiresAt: z.string().nullable(),
        nextSkip: z
          .number()
          .nullable()
          .describe('More pages follow: call again with skip set to it (null when there are no more)'),
        pages: z.array(pageOut),
      }),
      annotations: READ,
      execute: async ({ id, skip, maxCharacters }, context) => {
        const result = await api.request(context, {
          path: `/v2/crawl/${encodeURIComponent(id)}`,
          query: { skip },
          resource: `crawl ${id}`,
        });
        const data: Json[] = result.data ?? [];
        return {
          status: result.status,
          total: result.total ?? 0,
          completed: result.completed ?? 0,
          creditsUsed: result.creditsUsed ?? null,
          expiresAt: result.expiresAt ?? null,
          nextSkip: result.next ? nextSkipOf(result.next, (skip ?? 0) + data.length) : null,
          pages: data.map((document) => toPage(document, maxCharacters)),
        };
      },
    }),
    defineTool({
      slug: 'FIRECRAWL_CANCEL_CRAWL',
      description: 'Stop (cancel) a running Firecrawl crawl job so it scrapes no more pages.',
      inputSchema: z.object({ id: z.string().min(1).describe('Crawl id returned by FIRECRAWL_CRAWL') }),
      outputSchema: z.object({ status: z.string() }),
      annotations: UPDATE,
      execute: async ({ id }, context) => {
        const result = await api.request(context, {
          method: 'DELETE',
          path: `/v2/crawl/${encodeURIComponent(id)}`,
          resource: `crawl ${id}`,
        });
        return { status: result.status ?? 'cancelled' };
      },
    }),
    defineTool({
      slug: 'FIRECRAWL_MAP',
      description:
        'List the URLs of a website quickly (from its sitemap and links) without scraping them, optionally filtered by a search term. Use it to find the right pages before scraping.',
      inputSchema: z.object({
        url: z.string().url().describe('The website to map'),
        search: z.string().optional().describe('Order and filter URLs by relevance to this text'),
        limit: z.number().int().min(1).max(5000).default(100).describe('Most URLs to return'),
        includeSubdomains: z.boolean().default(false).describe('Include URLs of subdomains'),
      }),
      outputSchema: z.object({
        links: z.array(
          z.object({ url: z.string(), title: z.string().nullable(), description: z.string().nullable() }),
        ),
      }),
      annotations: READ,
      execute: async (body, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/v2/map',
          body,
          resource: `site ${body.url}`,
        });
        return {
          links: (result.links ?? []).map((link: Json | string) =>
            typeof link === 'string'
              ? { url: link, title: null, description: null }
              : { url: link.url, title: link.title ?? null, description: link.description ?? null },
          ),
        };
      },
    }),
    defineTool({
      slug: 'FIRECRAWL_SEARCH',
      description:
        'Search the web and optionally scrape the result pages to markdown in the same call. Use it to research a topic and read the sources.',
      inputSchema: z.object({
        query: z.string().min(1).describe('Search query'),
        limit: z.number().int().min(1).max(50).default(5).describe('How many results'),
        scrapeResults: z.boolean().default(false).describe('Also scrape each result page to markdown'),
        tbs: z.string().optional().describe('Time filter, e.g. "qdr:d" (past day), "qdr:w" (past week)'),
        location: z.string().optional().describe('Search from this location, e.g. "Germany"'),
        maxCharacters: maxCharacters.default(5_000),
      }),
      outputSchema: z.object({
        results: z.array(
          z.object({
            url: z.string(),
            title: z.string().nullable(),
            description: z.string().nullable(),
            markdown: z.string().nullable(),
          }),
        ),
      }),
      annotations: READ,
      timeoutMs: 120_000,
      execute: async ({ scrapeResults, maxCharacters, ...input }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/v2/search',
          body: {
            ...input,
            ...(scrapeResults ? { scrapeOptions: { formats: ['markdown'], onlyMainContent: true } } : {}),
          },
          resource: 'search results',
        });
        const web: Json[] = Array.isArray(result.data) ? result.data : (result.data?.web ?? []);
        return {
          results: web.map((entry) => ({
            url: entry.url ?? entry.metadata?.sourceURL,
            title: entry.title ?? entry.metadata?.title ?? null,
            description: entry.description ?? entry.metadata?.description ?? null,
            markdown: clip(entry.markdown, maxCharacters),
          })),
        };
      },
    }),
  ];

  return defineToolkit({
    slug: 'firecrawl',
    name: 'Firecrawl',
    description:
      'Firecrawl web scraping: turn pages into markdown, crawl and map websites, and search the web.',
    categories: ['web', 'scraping', 'search'],
    keywords: ['website', 'site', 'webpage', 'scraper', 'crawler'],
    baseUrl,
    auth: {
      type: 'api_key',
      fields: [
        {
          name: 'apiKey',
          label: 'Firecrawl API key',
          description: 'Starts with "fc-"; sent as a Bearer token.',
        },
      ],
    },
    tools: readingAnswers(api.service, tools),
  });
}

/** Firecrawl against api.firecrawl.dev. */
export const firecrawl: Toolkit = createFirecrawlToolkit();
