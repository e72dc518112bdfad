import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { READ } from './annotations.js';
import { ApiError, createApi, readingAnswers, requireToken } from './http.js';

export interface ExaToolkitOptions {
  /** @default 'https://api.exa.ai' */
  baseUrl?: string;
}

type Json = Record<string, any>;

const numResults = z.number().int().min(1).max(100).default(10).describe('How many results to return');
const contentFields = {
  text: z.boolean().default(true).describe('Include the page text of each result'),
  maxCharacters: z
    .number()
    .int()
    .min(100)
    .max(20_000)
    .default(2_000)
    .describe('Longest page text per result'),
  summary: z.boolean().default(false).describe('Include an AI summary of each result'),
  highlights: z.boolean().default(false).describe('Include the most relevant passages of each result'),
};
const filterFields = {
  includeDomains: z
    .array(z.string())
    .optional()
    .describe('Only results from these domains, e.g. ["arxiv.org"]'),
  excludeDomains: z.array(z.string()).optional().describe('No results from these domains'),
  startPublishedDate: z.string().optional().describe('Only pages published after this ISO 8601 date'),
  endPublishedDate: z.string().optional().describe('Only pages published before this ISO 8601 date'),
};

const resultOut = z.object({
  id: z.string(),
  url: z.string(),
  title: z.string().nullable(),
  author: z.string().nullable(),
  publishedDate: z.string().nullable(),
  score: z.number().nullable(),
  text: z.string().optional(),
  summary: z.string().optional(),
  highlights: z.array(z.string()).optional(),
});
const resultsOut = z.object({ results: z.array(resultOut), costDollars: z.number().nullable() });

const toResult = (result: Json): z.infer<typeof resultOut> => ({
  id: result.id,
  url: result.url,
  title: result.title ?? null,
  author: result.author ?? null,
  publishedDate: result.publishedDate ?? null,
  score: result.score ?? null,
  text: result.text,
  summary: result.summary,
  highlights: result.highlights,
});

function contents(input: {
  text: boolean;
  maxCharacters: number;
  summary: boolean;
  highlights: boolean;
}): Json {
  return {
    ...(input.text ? { text: { maxCharacters: input.maxCharacters } } : {}),
    ...(input.summary ? { summary: true } : {}),
    ...(input.highlights ? { highlights: true } : {}),
  };
}

const cost = (result: Json) => result.costDollars?.total ?? null;

/** The options of createExaToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const EXA_OPTION_NAMES = everyKeyOf<ExaToolkitOptions>()(['baseUrl']);

/** Exa: AI-native web search, similar pages, page contents and cited answers. */
export function createExaToolkit(options: ExaToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createExaToolkit()', EXA_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://api.exa.ai';
  const api = createApi({
    service: 'Exa',
    baseUrl,
    headers: (credentials) => ({ 'x-api-key': requireToken(credentials, 'Exa') }),
  });

  const tools = [
    defineTool({
      slug: 'EXA_SEARCH',
      description:
        'Search the web with Exa and get the best matching pages with their text. Good for research questions, finding articles, papers, companies or documentation by meaning rather than exact keywords.',
      inputSchema: z.object({
        query: z.string().min(1).describe('What to look for, in natural language'),
        type: z
          .enum(['auto', 'neural', 'keyword', 'fast'])
          .default('auto')
          .describe('Search mode: neural (by meaning), keyword, fast, or auto'),
        category: z
          .enum([
            'company',
            'research paper',
            'news',
            'pdf',
            'github',
            'tweet',
            'personal site',
            'financial report',
            'people',
          ])
          .optional()
          .describe('Only results of this kind'),
        numResults,
        ...filterFields,
        ...contentFields,
      }),
      outputSchema: resultsOut,
      annotations: READ,
      execute: async ({ text, maxCharacters, summary, highlights, ...body }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/search',
          body: { ...body, contents: contents({ text, maxCharacters, summary, highlights }) },
          resource: 'search results',
        });
        return { results: (result.results ?? []).map(toResult), costDollars: cost(result) };
      },
    }),
    defineTool({
      slug: 'EXA_FIND_SIMILAR',
      description: 'Find web pages similar to a given URL (related articles, competitors, alternatives).',
      inputSchema: z.object({
        url: z.string().url().describe('The page to find similar pages for'),
        excludeSourceDomain: z.boolean().default(true).describe('Leave out pages from the same domain'),
        numResults,
        ...filterFields,
        ...contentFields,
      }),
      outputSchema: resultsOut,
      annotations: READ,
      execute: async ({ text, maxCharacters, summary, highlights, ...body }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/findSimilar',
          body: { ...body, contents: contents({ text, maxCharacters, summary, highlights }) },
          resource: `pages similar to ${body.url}`,
        });
        return { results: (result.results ?? []).map(toResult), costDollars: cost(result) };
      },
    }),
    defineTool({
      slug: 'EXA_GET_CONTENTS',
      description:
        'Get the clean text (and optionally a summary) of web pages by URL, e.g. to read an article.',
      inputSchema: z.object({
        urls: z.array(z.string().url()).min(1).max(20).describe('Page URLs to read'),
        livecrawl: z
          .enum(['never', 'fallback', 'always', 'preferred'])
          .default('fallback')
          .describe('Fetch the live page instead of Exa’s cache'),
        ...contentFields,
      }),
      outputSchema: resultsOut.extend({
        failed: z.array(z.object({ url: z.string(), error: z.string() })),
      }),
      annotations: READ,
      execute: async ({ urls, livecrawl, text, maxCharacters, summary, highlights }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/contents',
          body: { urls, livecrawl, ...contents({ text, maxCharacters, summary, highlights }) },
          resource: 'page contents',
        });
        const failed = (result.statuses ?? [])
          .filter((status: Json) => status.status !== 'success')
          .map((status: Json) => ({
            url: status.id,
            error: [status.error?.tag, status.error?.httpStatusCode].filter(Boolean).join(' ') || 'failed',
          }));
        if (failed.length === urls.length && failed.length > 0) {
          throw new ApiError(
            'Exa',
            404,
            `Exa could not read any of the pages: ${failed.map((entry: Json) => `${entry.url} (${entry.error})`).join(', ')}. Check the URLs or try livecrawl "always".`,
          );
        }
        return { results: (result.results ?? []).map(toResult), costDollars: cost(result), failed };
      },
    }),
    defineTool({
      slug: 'EXA_ANSWER',
      description:
        'Get a direct answer to a question from a live web search, with the sources it cites. Use it for factual questions about current events, people, companies or products.',
      inputSchema: z.object({
        query: z.string().min(1).describe('The question to answer'),
        text: z.boolean().default(false).describe('Include the full text of the cited sources'),
      }),
      outputSchema: z.object({
        answer: z.string(),
        citations: z.array(resultOut),
        costDollars: z.number().nullable(),
      }),
      annotations: READ,
      execute: async (body, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/answer',
          body,
          resource: 'answer',
        });
        return {
          answer: typeof result.answer === 'string' ? result.answer : JSON.stringify(result.answer),
          citations: (result.citations ?? []).map(toResult),
          costDollars: cost(result),
        };
      },
    }),
  ];

  return defineToolkit({
    slug: 'exa',
    name: 'Exa',
    description:
      'Exa web search for AI: search the web by meaning, find similar pages, read page contents, answer questions with citations.',
    categories: ['search', 'web'],
    keywords: ['internet', 'online', 'research'],
    baseUrl,
    auth: {
      type: 'api_key',
      fields: [
        {
          name: 'apiKey',
          label: 'Exa API key',
          description: 'From dashboard.exa.ai → API keys; sent as the x-api-key header.',
        },
      ],
      placement: { in: 'header', name: 'x-api-key' },
    },
    tools: readingAnswers(api.service, tools),
  });
}

/** Exa against api.exa.ai. */
export const exa: Toolkit = createExaToolkit();
