import { readFileSync } from 'node:fs';
import { ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinToolkits } from '../src/index.js';

/**
 * Search quality over the built-in catalog: realistic requests a user or agent makes, each with the
 * tool(s) that answer it, ranked by `session.search` (what TOOLMUX_SEARCH_TOOLS returns). Reports
 * recall@1, recall@5 and nDCG@10 (binary relevance).
 */

interface Query {
  query: string;
  relevant: string[];
}

const readQueries = (file: string) =>
  JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')) as Query[];
const queries = readQueries('search-queries.json');
/**
 * Plain, short phrasings of what a user asks ("list my repos", "remove star from repository"), each
 * with the tool an agent should run for it.
 */
const plainQueries = readQueries('plain-queries.json');
/**
 * Held out: requests of a verb and its object ("check my inbox", "archive the ticket", "see the
 * branches of the repo"), many of them naming the object by a toolkit's keyword, each with the tool(s)
 * that answer it. Written before the ranking change that weighs a request's object noun against its
 * verb, and never used to choose any ranking rule or weight: it only reports.
 */
const verbObjectQueries = readQueries('verb-object-queries.json');
/**
 * Requests that name what a toolkit handles by a word its tools' names and descriptions do not use, or
 * use less than another toolkit's tool does ("read my latest emails", "create a ticket", "find a note
 * in my wiki", "call an API"), each with the toolkit that must come first. Before toolkits declared
 * `keywords` 17 of them ranked another toolkit's tool first: SLACK_FIND_USER_BY_EMAIL, whose slug, name and description say "email",
 * came before every Gmail tool, GitHub's issue tools before Linear's for "ticket", and
 * GITHUB_LIST_RELEASES ("release notes") before Notion's; until a request's keyword word weighed down
 * the tools without it, "check my mail" ranked SLACK_ADD_REACTION first (its `white_check_mark`).
 */
const nounQueries = JSON.parse(readFileSync(new URL('./noun-queries.json', import.meta.url), 'utf8')) as {
  query: string;
  toolkit: string;
}[];

/**
 * Measured on this catalog: recall@1 0.82, recall@3 1.0, recall@5 1.0, nDCG@10 0.925 (78 queries;
 * before a request's keyword word weighed down the tools without it and named the toolkit's main
 * object: 0.82 / 1.0 / 1.0 / 0.923; before the toolkits' keywords: 0.81 / 1.0 / 1.0 / 0.92; before the verbs of one action (delete, trash, remove) were searched at full weight, recency words at
 * half and a query of a slug's words ranked that tool first: 0.78 / 1.0 / 1.0 / 0.91; before PR was read as pull request: 0.77 / 1.0 / 1.0 / 0.90; before the tool's action, the slug's verb, was a field of its own and nouns left the synonym groups
 * of verbs: 0.76 / 1.0 / 1.0 / 0.895;
 * before the tool descriptions were sharpened for the five queries missed then: 0.74 / – / 0.94 / 0.86;
 * before abbreviations were one word with the word, synonyms of a word counted once and parameters
 * weighed a quarter of a description word: 0.77 / 0.96 / 1.0 / 0.90). The floors sit below that so
 * ranking changes in core's search show up without making this test flaky.
 */
const RECALL_AT_5_FLOOR = 0.9;
const RECALL_AT_3_FLOOR = 0.95;
const RECALL_AT_1_FLOOR = 0.7;
/**
 * The plain phrasings: recall@1 0.96 and recall@3 0.99 (69 queries; nDCG@10 0.975, 0.971 before a
 * request's keyword word weighed down the tools without it); 0.94 and 0.99 before the toolkits'
 * keywords; 0.91 and 0.99 before the verbs of
 * one action, the recency words and the slug's words; 0.88 and 0.99 before the tool's
 * action and the nouns' synonym groups; 0.83 and 0.94 before the three changes above ("list my repos"
 * left GITHUB_LIST_MY_REPOSITORIES out of the top 5).
 */
const PLAIN_RECALL_AT_1_FLOOR = 0.85;
const PLAIN_RECALL_AT_3_FLOOR = 0.97;
/**
 * The held-out verb and object requests (see `verbObjectQueries`): recall@1 0.69, recall@3 0.87,
 * nDCG@10 0.83 (45 queries; one of them, "react to the chat message with a thumbs up", was reported
 * as a regression and its cause fixed: 0.67, 0.82 and 0.82 before); 0.64, 0.82 and 0.79 when they were
 * written, before a request's keyword word weighed down the tools without it and named the toolkit's
 * main object.
 */
const VERB_OBJECT_RECALL_AT_1_FLOOR = 0.55;
const VERB_OBJECT_RECALL_AT_3_FLOOR = 0.75;

/**
 * Requests a bug hunt found ranked wrong, with the tool that must come first: each stands for a
 * class of them (a verb that tools' descriptions use besides the one whose slug it is; a noun that
 * was in a verb's synonym group; PR, which was no abbreviation of pull request; a verb of the action
 * whose slug says another, trash for delete; a query of a slug's words, which a tool whose description
 * repeats them outranked; a toolkit's keyword that counted alike on each of its tools, so that "list
 * my tickets" ranked LINEAR_LIST_WORKFLOW_STATES first; a toolkit's keyword that stood for the main
 * object the request names itself, so "put a thumbs up on that chat message" ranked SLACK_DELETE_MESSAGE
 * first).
 */
const FIRST_FOR: Record<string, string> = {
  'post a message to a slack channel': 'SLACK_POST_MESSAGE',
  'post a message in the #engineering slack channel': 'SLACK_POST_MESSAGE',
  'get the contents of a file in a repo': 'GITHUB_GET_FILE_CONTENTS',
  'list my drafts': 'GMAIL_LIST_DRAFTS',
  'search my inbox': 'GMAIL_SEARCH_MESSAGES',
  'open a PR from my feature branch into main': 'GITHUB_CREATE_PULL_REQUEST',
  'merge this PR': 'GITHUB_MERGE_PULL_REQUEST',
  'delete an email': 'GMAIL_TRASH_MESSAGE',
  'remove this email': 'GMAIL_TRASH_MESSAGE',
  'delete a gmail message': 'GMAIL_TRASH_MESSAGE',
  'create a PR': 'GITHUB_CREATE_PULL_REQUEST',
  'create a pull request': 'GITHUB_CREATE_PULL_REQUEST',
  'list my tickets': 'LINEAR_LIST_ISSUES',
  // `chat` (Slack's keyword) stood for the message its tools act on although the request says
  // "message" itself: the message tools counted it twice over and outweighed the reaction
  'put a thumbs up on that chat message': 'SLACK_ADD_REACTION',
};

let mux: ToolMux;
const ranked = new Map<string, string[]>();

beforeAll(async () => {
  mux = new ToolMux({ toolkits: builtinToolkits, store: ':memory:' });
  const session = await mux.create('search_bench', {});
  for (const query of [...queries, ...plainQueries, ...verbObjectQueries, ...nounQueries]
    .map((labelled) => labelled.query)
    .concat(Object.keys(FIRST_FOR))) {
    const result = await session.search({ query, limit: 10 });
    ranked.set(
      query,
      result.results[0]!.tools.map((tool) => tool.tool_slug),
    );
  }
});

afterAll(() => mux.close());

/** Recall@1, recall@3 and nDCG@10 of `labelled`, and the requests whose first tool is not relevant. */
function quality(labelled: readonly Query[]) {
  let at1 = 0;
  let at3 = 0;
  let ndcg = 0;
  const notFirst: string[] = [];
  for (const { query, relevant } of labelled) {
    const slugs = ranked.get(query)!;
    if (relevant.includes(slugs[0]!)) at1++;
    else notFirst.push(`${query} → wanted ${relevant.join(' | ')}, got ${slugs.slice(0, 3).join(', ')}`);
    if (slugs.slice(0, 3).some((slug) => relevant.includes(slug))) at3++;
    ndcg += ndcgAt10(slugs, relevant);
  }
  const share = (count: number) => Number((count / labelled.length).toFixed(3));
  return {
    report: { queries: labelled.length, recallAt1: share(at1), recallAt3: share(at3), ndcgAt10: share(ndcg) },
    notFirst,
  };
}

function ndcgAt10(slugs: string[], relevant: string[]): number {
  const dcg = slugs
    .slice(0, 10)
    .reduce((sum, slug, index) => sum + (relevant.includes(slug) ? 1 / Math.log2(index + 2) : 0), 0);
  const ideal = relevant.slice(0, 10).reduce((sum, _slug, index) => sum + 1 / Math.log2(index + 2), 0);
  return dcg / ideal;
}

describe('search over builtinToolkits', () => {
  it('ranks first the tool whose action is the verb of the request, and reads nouns as nouns', () => {
    for (const [query, slug] of Object.entries(FIRST_FOR)) expect(ranked.get(query)![0], query).toBe(slug);
  });

  it("ranks first a tool of the toolkit whose objects a request names by a word of the toolkit's keywords", () => {
    const toolkits = new Set(builtinToolkits.map((toolkit) => toolkit.slug));
    // every built-in toolkit is named so by a few requests
    expect(new Set(nounQueries.map(({ toolkit }) => toolkit))).toEqual(toolkits);
    const wrong = nounQueries
      .map(({ query, toolkit }) => ({ query, toolkit, first: ranked.get(query)![0] }))
      .filter(({ toolkit, first }) => first === undefined || !first.startsWith(`${toolkit.toUpperCase()}_`))
      .map(({ query, toolkit, first }) => `${query} → wanted a ${toolkit} tool, got ${first}`);
    expect(wrong).toEqual([]);
  });

  it('has at least 60 queries whose expected tools exist', () => {
    expect(queries.length).toBeGreaterThanOrEqual(60);
    const slugs = new Set(builtinToolkits.flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)));
    for (const { relevant } of queries) for (const slug of relevant) expect(slugs, slug).toContain(slug);
  });

  it('has plain phrasings for every toolkit whose expected tools exist', () => {
    expect(plainQueries.length).toBeGreaterThanOrEqual(60);
    const slugs = new Set(builtinToolkits.flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)));
    for (const { relevant } of plainQueries) for (const slug of relevant) expect(slugs, slug).toContain(slug);
    const toolkits = new Set(
      plainQueries.flatMap(({ relevant }) => relevant.map((slug) => slug.split('_')[0])),
    );
    expect(toolkits.size).toBe(builtinToolkits.length);
  });

  it('finds the right tool for plain phrasings: first, and in the top 3, at rates above their floors', () => {
    const { report, notFirst } = quality(plainQueries);
    console.log([`plain phrasings: ${JSON.stringify(report)}`, 'not first:', ...notFirst].join('\n  '));
    expect(report.recallAt1).toBeGreaterThanOrEqual(PLAIN_RECALL_AT_1_FLOOR);
    expect(report.recallAt3).toBeGreaterThanOrEqual(PLAIN_RECALL_AT_3_FLOOR);
  });

  it('finds the right tool for held-out verb and object requests at rates above their floors', () => {
    const slugs = new Set(builtinToolkits.flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)));
    for (const { relevant } of verbObjectQueries)
      for (const slug of relevant) expect(slugs, slug).toContain(slug);
    expect(verbObjectQueries.length).toBeGreaterThanOrEqual(30);
    const { report, notFirst } = quality(verbObjectQueries);
    console.log(
      [`held-out verb and object requests: ${JSON.stringify(report)}`, 'not first:', ...notFirst].join(
        '\n  ',
      ),
    );
    expect(report.recallAt1).toBeGreaterThanOrEqual(VERB_OBJECT_RECALL_AT_1_FLOOR);
    expect(report.recallAt3).toBeGreaterThanOrEqual(VERB_OBJECT_RECALL_AT_3_FLOOR);
  });

  it('finds the right tool: recall@1, recall@3, recall@5 and nDCG@10 above their floors', () => {
    let at1 = 0;
    let at3 = 0;
    let at5 = 0;
    let ndcg = 0;
    const misses: string[] = [];
    const firstMisses: string[] = [];
    for (const { query, relevant } of queries) {
      const slugs = ranked.get(query)!;
      if (relevant.includes(slugs[0]!)) at1++;
      else firstMisses.push(`${query} → ${slugs[0]}`);
      if (slugs.slice(0, 3).some((slug) => relevant.includes(slug))) at3++;
      if (slugs.slice(0, 5).some((slug) => relevant.includes(slug))) at5++;
      else misses.push(`${query} → wanted ${relevant.join(' | ')}, got ${slugs.slice(0, 3).join(', ')}`);
      ndcg += ndcgAt10(slugs, relevant);
    }
    const report = {
      queries: queries.length,
      recallAt1: Number((at1 / queries.length).toFixed(3)),
      recallAt3: Number((at3 / queries.length).toFixed(3)),
      recallAt5: Number((at5 / queries.length).toFixed(3)),
      ndcgAt10: Number((ndcg / queries.length).toFixed(3)),
    };
    console.log(
      [
        `builtin search quality: ${JSON.stringify(report)}`,
        ...(misses.length ? ['missed in top 5:', ...misses] : []),
        ...(process.env.TOOLMUX_SEARCH_DETAIL ? ['not first:', ...firstMisses] : []),
      ].join('\n  '),
    );
    expect(report.recallAt5).toBeGreaterThanOrEqual(RECALL_AT_5_FLOOR);
    expect(report.recallAt3).toBeGreaterThanOrEqual(RECALL_AT_3_FLOOR);
    expect(report.recallAt1).toBeGreaterThanOrEqual(RECALL_AT_1_FLOOR);
  });
});
