import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createExaToolkit } from './exa.js';

/** Answers as the Exa API reference documents them. */
const paper = {
  title: 'A Comprehensive Overview of Large Language Models',
  url: 'https://arxiv.org/pdf/2307.06435.pdf',
  publishedDate: '2023-11-16T01:36:32.547Z',
  author: 'Humza Naveed, University of Engineering and Technology (UET), Lahore, Pakistan',
  score: 0.4600165784358978,
  id: 'https://arxiv.org/abs/2307.06435',
  image: 'https://arxiv.org/pdf/2307.06435.pdf/page_1.png',
  favicon: 'https://arxiv.org/favicon.ico',
  text: 'Abstract Large Language Models (LLMs) have recently demonstrated remarkable capabilities in natural language processing tasks and beyond.',
  highlights: ['Such requirements have limited their adoption in resource-constrained settings.'],
  highlightScores: [0.4600165784358978],
  summary:
    'This overview paper on Large Language Models (LLMs) highlights key developments, architectures and training.',
};
const cost = {
  total: 0.005,
  breakDown: [
    {
      search: 0.005,
      contents: 0,
      breakdown: {
        keywordSearch: 0,
        neuralSearch: 0.005,
        contentText: 0,
        contentHighlight: 0,
        contentSummary: 0,
      },
    },
  ],
};

let api: FakeApi;
let toolkit: ReturnType<typeof createExaToolkit>;
const context = toolContext({ apiKey: 'exa-test-key' });

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createExaToolkit({ baseUrl: api.url });
  api.route('POST', '/search', {
    body: {
      requestId: 'b5947044c4b78efa9552a7c89b306d95',
      resolvedSearchType: 'neural',
      results: [paper],
      searchType: 'auto',
      costDollars: cost,
    },
  });
  api.route('POST', '/findSimilar', {
    body: { requestId: 'c6958155d5c89ffb0663b8d9c7417e06', results: [paper], costDollars: cost },
  });
  api.route('POST', '/contents', {
    body: {
      requestId: 'e492118ccdedcba5088bfc4357a8a125',
      results: [paper],
      statuses: [
        { id: 'https://arxiv.org/pdf/2307.06435.pdf', status: 'success' },
        {
          id: 'https://example.com/missing',
          status: 'error',
          error: { tag: 'CRAWL_NOT_FOUND', httpStatusCode: 404 },
        },
      ],
      costDollars: { total: 0.001 },
    },
  });
  api.route('POST', '/answer', {
    body: {
      answer: '$123.45 (as of October 8, 2024)',
      citations: [
        {
          id: 'https://www.google.com/finance/quote/NVDA:NASDAQ',
          url: 'https://www.google.com/finance/quote/NVDA:NASDAQ',
          title: 'NVIDIA Corp (NVDA) Stock Price & News - Google Finance',
          author: null,
          publishedDate: '2023-11-16T01:36:32.547Z',
        },
      ],
      costDollars: cost,
    },
  });
});

afterAll(() => api.close());

describe('exa tools', () => {
  it('searches with the x-api-key header and asks for contents', async () => {
    const result = await run(
      toolkit,
      'EXA_SEARCH',
      {
        query: 'overview of large language models',
        category: 'research paper',
        numResults: 3,
        summary: true,
      },
      context,
    );
    expect(result.results[0]).toMatchObject({
      url: 'https://arxiv.org/pdf/2307.06435.pdf',
      score: 0.4600165784358978,
    });
    expect(result.costDollars).toBe(0.005);
    const request = api.requests.at(-1)!;
    expect(request.headers['x-api-key']).toBe('exa-test-key');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toEqual({
      query: 'overview of large language models',
      type: 'auto',
      category: 'research paper',
      numResults: 3,
      contents: { text: { maxCharacters: 2000 }, summary: true },
    });
  });

  it('finds similar pages, reads contents (reporting failed URLs) and answers with citations', async () => {
    await run(toolkit, 'EXA_FIND_SIMILAR', { url: 'https://arxiv.org/abs/2307.06435', text: false }, context);
    expect(api.requests.at(-1)!.body).toEqual({
      url: 'https://arxiv.org/abs/2307.06435',
      excludeSourceDomain: true,
      numResults: 10,
      contents: {},
    });
    const contents = await run(
      toolkit,
      'EXA_GET_CONTENTS',
      { urls: ['https://arxiv.org/pdf/2307.06435.pdf', 'https://example.com/missing'] },
      context,
    );
    expect(contents.results).toHaveLength(1);
    expect(contents.failed).toEqual([{ url: 'https://example.com/missing', error: 'CRAWL_NOT_FOUND 404' }]);
    const answer = await run(toolkit, 'EXA_ANSWER', { query: 'What is NVIDIA’s stock price?' }, context);
    expect(answer.answer).toBe('$123.45 (as of October 8, 2024)');
    expect(answer.citations[0].title).toContain('NVIDIA');
  });
});

describe('exa errors', () => {
  it('401 asks for a reconnect', async () => {
    api.failNext({
      status: 401,
      body: { requestId: 'r1', error: 'Invalid API key', tag: 'INVALID_API_KEY' },
    });
    await expect(run(toolkit, 'EXA_SEARCH', { query: 'x' }, context)).rejects.toThrow(
      /Exa rejected the credentials \(401 Unauthorized: Invalid API key\)/,
    );
  });

  it('404 names what was not found', async () => {
    api.failNext({ status: 404, body: { requestId: 'r2', error: 'Not found' } });
    await expect(run(toolkit, 'EXA_FIND_SIMILAR', { url: 'https://example.com/a' }, context)).rejects.toThrow(
      /Exa found no pages similar to https:\/\/example\.com\/a \(404/,
    );
  });

  it('429 says when to retry', async () => {
    api.failNext({
      status: 429,
      headers: { 'retry-after': '45' },
      body: { requestId: 'r3', error: 'Rate limit exceeded' },
    });
    await expect(run(toolkit, 'EXA_ANSWER', { query: 'x' }, context)).rejects.toThrow(
      /Exa rate limit reached.*Retry after 45 seconds/,
    );
  });
});
