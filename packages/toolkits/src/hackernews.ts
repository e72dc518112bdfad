import { defineTool, defineToolkit, type Tool, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { READ } from './annotations.js';
import { type Api, ApiError, createApi, providerError, type RequestContext, readingAnswers } from './http.js';

export interface HackernewsToolkitOptions {
  /** The official Firebase API. @default 'https://hacker-news.firebaseio.com/v0' */
  baseUrl?: string;
  /** The Algolia search API. @default 'https://hn.algolia.com/api/v1' */
  searchBaseUrl?: string;
}

type Json = Record<string, any>;

const ITEM_PAGE = 'https://news.ycombinator.com/item?id=';

const storyOut = z.object({
  id: z.number(),
  type: z.string(),
  title: z.string().nullable(),
  url: z.string().nullable(),
  text: z.string().nullable(),
  by: z.string().nullable(),
  score: z.number().nullable(),
  comments: z.number().nullable(),
  time: z.string().nullable(),
  hn_url: z.string(),
});
const itemOut = storyOut.extend({
  parent: z.number().nullable(),
  kids: z.array(z.number()),
  dead: z.boolean(),
  deleted: z.boolean(),
});
const limit = z.number().int().min(1).max(50).default(10).describe('How many stories to return (1-50)');

/**
 * HN text fields are HTML; the model reads plain text better. One pass, in time linear in the text:
 * `<p>` is a paragraph break, a link `<a … href="URL" …>text</a>` is its URL, any other tag goes and
 * entities are decoded. (Regular expressions did this before, scanning the rest of the text again at
 * every `<a ` or `<` with no `>` after it: 30 KB of `<a ` took a quarter of a second, 60 KB several.)
 */
export function htmlToText(html: string | null | undefined): string | null {
  if (!html) return null;
  // paragraph breaks first, as the tags below are read in what is left
  html = html.replace(/<p>/gi, '\n\n');
  let text = '';
  let position = 0;
  while (position < html.length) {
    const open = html.indexOf('<', position);
    if (open === -1) break;
    // no tag ends after the last `>`: the rest is text
    const close = html.indexOf('>', open + 1);
    if (close === -1) break;
    text += html.slice(position, open);
    if (close === open + 1) {
      // `<>` is no tag
      text += '<';
      position = open + 1;
      continue;
    }
    // `<a ` and at least one more character before the `>`: perhaps a link (no copy of the tag)
    const link =
      close - open > 3 && (html[open + 1] === 'a' || html[open + 1] === 'A') && html[open + 2] === ' '
        ? linkAt(html, open, close)
        : undefined;
    if (link) {
      text += link.href;
      position = link.end;
      continue;
    }
    position = close + 1;
  }
  return decodeEntities(text + html.slice(position)).trim();
}

/**
 * The link whose `<a ` opens at `open` (its first `>` at `close`): its URL and where its `</a>` ends,
 * if it has an `href="…"` (the last one before that `>`), then only text up to `</a>`.
 * Every character is read once here and once more by the caller at most.
 */
function linkAt(html: string, open: number, close: number): { href: string; end: number } | undefined {
  const attributes = html.slice(open + 3, close).toLowerCase();
  const at = attributes.lastIndexOf('href="');
  if (at === -1) return undefined;
  const valueStart = open + 3 + at + 'href="'.length;
  // the URL may hold a `>`: the tag then ends at the first `>` after its closing quote
  const quote = html.indexOf('"', valueStart);
  if (quote === -1) return undefined;
  const tagEnd = html.indexOf('>', quote + 1);
  if (tagEnd === -1) return undefined;
  const next = html.indexOf('<', tagEnd + 1);
  if (next === -1 || html.slice(next, next + 4).toLowerCase() !== '</a>') return undefined;
  return { href: html.slice(valueStart, quote), end: next + 4 };
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&#x2F;/g, '/')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&');
}

const isoTime = (seconds: number | undefined) => (seconds ? new Date(seconds * 1000).toISOString() : null);

const toItem = (item: Json): z.infer<typeof itemOut> => ({
  id: item.id,
  type: item.type ?? 'story',
  title: item.title ?? null,
  url: item.url ?? null,
  text: htmlToText(item.text),
  by: item.by ?? null,
  score: item.score ?? null,
  comments: item.descendants ?? null,
  time: isoTime(item.time),
  hn_url: `${ITEM_PAGE}${item.id}`,
  parent: item.parent ?? null,
  kids: item.kids ?? [],
  dead: item.dead ?? false,
  deleted: item.deleted ?? false,
});

async function getItem(api: Api, context: RequestContext, id: number): Promise<Json> {
  const item = await api.request(context, {
    path: `/item/${id}.json`,
    resource: `item ${id}`,
    nullAnswer: true,
  });
  // The Firebase API answers `null` (200) for an id that does not exist.
  if (item === null)
    throw providerError({
      service: 'Hacker News',
      status: 404,
      statusText: 'Not Found',
      resource: `item ${id}`,
      hasAccount: false,
    });
  return item;
}

interface CommentNode {
  id: number;
  by: string | null;
  text: string | null;
  time: string | null;
  depth: number;
  parent: number | null;
  /** The comment was deleted: listed because its replies follow it. */
  deleted: boolean;
}

/** The comment tree of an Algolia item, depth first, up to `max` comments and `maxDepth` levels. */
function flattenComments(root: Json, max: number, maxDepth: number): CommentNode[] {
  const out: CommentNode[] = [];
  const walk = (node: Json, depth: number) => {
    for (const child of node.children ?? []) {
      if (out.length >= max) return;
      // a deleted comment (no text, no author) is listed only for its replies, which stay in the tree
      const deleted = child.text == null && !child.author;
      if (deleted && (depth >= maxDepth || !(child.children?.length > 0))) continue;
      out.push({
        id: child.id,
        by: child.author ?? null,
        text: htmlToText(child.text),
        time: child.created_at ?? null,
        depth,
        parent: child.parent_id ?? null,
        deleted,
      });
      if (depth < maxDepth) walk(child, depth + 1);
    }
  };
  walk(root, 1);
  return out;
}

/** The options of createHackernewsToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const HACKERNEWS_OPTION_NAMES = everyKeyOf<HackernewsToolkitOptions>()(['baseUrl', 'searchBaseUrl']);

/** Hacker News: front page lists, items, users and full-text search. No account needed. */
export function createHackernewsToolkit(options: HackernewsToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createHackernewsToolkit()', HACKERNEWS_OPTION_NAMES, {
    code: 'TOOL_DEFINITION_INVALID',
  });
  const baseUrl = options.baseUrl ?? 'https://hacker-news.firebaseio.com/v0';
  const api = createApi({ service: 'Hacker News', baseUrl, hasAccount: false });
  const search = createApi({
    service: 'Hacker News search',
    baseUrl: options.searchBaseUrl ?? 'https://hn.algolia.com/api/v1',
    hasAccount: false,
  });

  const storyList = (slug: string, list: string, description: string): Tool =>
    defineTool({
      slug,
      description,
      inputSchema: z.object({ limit }),
      outputSchema: z.object({
        stories: z.array(storyOut),
        unreadable: z
          .array(z.object({ id: z.number(), error: z.string() }))
          .optional()
          .describe('Stories of the list that Hacker News did not give, and why (only when some failed)'),
      }),
      annotations: READ,
      execute: async ({ limit }, context) => {
        const ids: number[] = await api.request(context, { path: `/${list}.json`, resource: `${list} list` });
        const wanted = ids.slice(0, limit);
        const items = await Promise.allSettled(wanted.map((id) => getItem(api, context, id)));
        const unreadable = items.flatMap((item, index) =>
          item.status === 'rejected' ? [{ id: wanted[index]!, reason: item.reason as unknown }] : [],
        );
        context.signal.throwIfAborted();
        // an ApiError is worded for the model; anything else is not a provider's answer
        const stray = unreadable.find(({ reason }) => !(reason instanceof ApiError));
        if (stray) throw stray.reason;
        const failed = unreadable[0]?.reason as ApiError | undefined;
        // an outage is a failure with its retry time, not an empty list
        if (failed && unreadable.length === wanted.length) {
          throw new ApiError(
            failed.service,
            failed.status,
            `None of the ${wanted.length} stories of the ${list} list could be read: ${failed.message}`,
            failed.retryAfterSeconds,
          );
        }
        const stories = items
          .flatMap((item) => (item.status === 'fulfilled' ? [item.value] : []))
          .filter((item) => !item.deleted && !item.dead)
          .map((item) => {
            const { parent: _parent, kids: _kids, dead: _dead, deleted: _deleted, ...story } = toItem(item);
            return story;
          });
        if (unreadable.length === 0) return { stories };
        return {
          stories,
          unreadable: unreadable.map(({ id, reason }) => ({ id, error: (reason as ApiError).message })),
        };
      },
    });

  const tools = [
    storyList(
      'HACKERNEWS_GET_TOP_STORIES',
      'topstories',
      'Get the current top stories on the Hacker News front page, with title, link, points and comment count.',
    ),
    storyList('HACKERNEWS_GET_NEW_STORIES', 'newstories', 'Get the newest stories submitted to Hacker News.'),
    storyList(
      'HACKERNEWS_GET_BEST_STORIES',
      'beststories',
      'Get the best (highest voted recent) Hacker News stories.',
    ),
    storyList(
      'HACKERNEWS_GET_ASK_STORIES',
      'askstories',
      'Get the latest "Ask HN" questions posted to Hacker News.',
    ),
    storyList(
      'HACKERNEWS_GET_SHOW_STORIES',
      'showstories',
      'Get the latest "Show HN" project launches on Hacker News.',
    ),
    storyList(
      'HACKERNEWS_GET_JOB_STORIES',
      'jobstories',
      'Get the latest job postings on Hacker News (YC startups hiring).',
    ),
    defineTool({
      slug: 'HACKERNEWS_GET_ITEM',
      description:
        'Get one Hacker News item by id: a story, comment, job or poll, with its text, author, score and the ids of its replies.',
      inputSchema: z.object({
        id: z.number().int().min(1).describe('The item id, as in news.ycombinator.com/item?id=…'),
      }),
      outputSchema: itemOut,
      annotations: READ,
      execute: async ({ id }, context) => toItem(await getItem(api, context, id)),
    }),
    defineTool({
      slug: 'HACKERNEWS_GET_COMMENTS',
      description:
        'Read what people are saying about a Hacker News story: its discussion (comment tree), flattened with the depth of each comment.',
      inputSchema: z.object({
        id: z.number().int().min(1).describe('Id of the story'),
        maxComments: z.number().int().min(1).max(500).default(50).describe('Most comments to return'),
        maxDepth: z.number().int().min(1).max(20).default(3).describe('How deep into reply chains to go'),
      }),
      outputSchema: z.object({
        story: z.object({
          id: z.number(),
          title: z.string().nullable(),
          url: z.string().nullable(),
          points: z.number().nullable(),
        }),
        comments: z.array(
          z.object({
            id: z.number(),
            by: z.string().nullable(),
            text: z.string().nullable(),
            time: z.string().nullable(),
            depth: z.number(),
            parent: z.number().nullable(),
            deleted: z.boolean().describe('Deleted: no author or text, listed for its replies'),
          }),
        ),
      }),
      annotations: READ,
      execute: async ({ id, maxComments, maxDepth }, context) => {
        const tree = await search.request(context, { path: `/items/${id}`, resource: `item ${id}` });
        return {
          story: {
            id: tree.id,
            title: tree.title ?? null,
            url: tree.url ?? null,
            points: tree.points ?? null,
          },
          comments: flattenComments(tree, maxComments, maxDepth),
        };
      },
    }),
    defineTool({
      slug: 'HACKERNEWS_GET_USER',
      description:
        'Get a Hacker News user’s profile: karma, account age, about text and number of submissions.',
      inputSchema: z.object({ username: z.string().min(1).describe('The HN username (case-sensitive)') }),
      outputSchema: z.object({
        id: z.string(),
        karma: z.number(),
        created: z.string().nullable(),
        about: z.string().nullable(),
        submissions: z.number(),
      }),
      annotations: READ,
      execute: async ({ username }, context) => {
        const user = await api.request(context, {
          path: `/user/${encodeURIComponent(username)}.json`,
          resource: `user "${username}"`,
          nullAnswer: true,
        });
        if (user === null) {
          throw providerError({
            service: 'Hacker News',
            status: 404,
            statusText: 'Not Found',
            resource: `user "${username}" (names are case-sensitive)`,
            hasAccount: false,
          });
        }
        return {
          id: user.id,
          karma: user.karma ?? 0,
          created: isoTime(user.created),
          about: htmlToText(user.about),
          submissions: (user.submitted ?? []).length,
        };
      },
    }),
    defineTool({
      slug: 'HACKERNEWS_SEARCH',
      description:
        'Full-text search of Hacker News stories and comments (by relevance or date), e.g. to find discussions about a product, library or company.',
      inputSchema: z.object({
        query: z.string().describe('Words to search for'),
        tags: z
          .string()
          .default('story')
          .describe(
            'Filter: story, comment, ask_hn, show_hn, job, poll, author_USERNAME, story_ID; comma = AND',
          ),
        sortBy: z
          .enum(['relevance', 'date'])
          .default('relevance')
          .describe('Sort by relevance or newest first'),
        minPoints: z.number().int().min(0).optional().describe('Only items with at least this many points'),
        createdAfter: z.string().optional().describe('Only items created after this ISO 8601 date'),
        hitsPerPage: z.number().int().min(1).max(100).default(20).describe('Results per page'),
        page: z.number().int().min(0).default(0).describe('Page number, starting at 0'),
      }),
      outputSchema: z.object({
        total: z.number(),
        hits: z.array(
          z.object({
            id: z.number(),
            title: z.string().nullable(),
            url: z.string().nullable(),
            author: z.string().nullable(),
            points: z.number().nullable(),
            comments: z.number().nullable(),
            created_at: z.string().nullable(),
            text: z.string().nullable(),
            hn_url: z.string(),
          }),
        ),
      }),
      annotations: READ,
      execute: async ({ query, tags, sortBy, minPoints, createdAfter, hitsPerPage, page }, context) => {
        const numericFilters = [
          minPoints !== undefined ? `points>=${minPoints}` : undefined,
          createdAfter ? `created_at_i>=${Math.floor(Date.parse(createdAfter) / 1000)}` : undefined,
        ].filter(Boolean);
        const result = await search.request(context, {
          path: sortBy === 'date' ? '/search_by_date' : '/search',
          query: {
            query,
            tags,
            hitsPerPage,
            page,
            numericFilters: numericFilters.length > 0 ? numericFilters.join(',') : undefined,
          },
          resource: 'search results',
        });
        return {
          total: result.nbHits ?? 0,
          hits: (result.hits ?? []).map((hit: Json) => ({
            id: Number(hit.objectID),
            title: hit.title ?? hit.story_title ?? null,
            url: hit.url ?? hit.story_url ?? null,
            author: hit.author ?? null,
            points: hit.points ?? null,
            comments: hit.num_comments ?? null,
            created_at: hit.created_at ?? null,
            text: htmlToText(hit.comment_text ?? hit.story_text),
            hn_url: `${ITEM_PAGE}${hit.objectID}`,
          })),
        };
      },
    }),
  ];

  return defineToolkit({
    slug: 'hackernews',
    name: 'Hacker News',
    description:
      'Hacker News (news.ycombinator.com): top, new, best, Ask HN and Show HN stories, items, comments, users and search. No account needed.',
    categories: ['news', 'social'],
    keywords: ['tech news', 'HN', 'startup', 'forum'],
    baseUrl,
    tools: readingAnswers(api.service, tools),
  });
}

/** Hacker News against the official Firebase API and Algolia search. */
export const hackernews: Toolkit = createHackernewsToolkit();
