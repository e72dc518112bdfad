import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { createApi, type RequestContext, readingAnswers, requireToken } from './http.js';
import { notionLanguage } from './notion-languages.js';

export interface NotionToolkitOptions {
  /** @default 'https://api.notion.com/v1' */
  baseUrl?: string;
}

type Json = Record<string, any>;

/** The Notion API version these tools are written against. */
const NOTION_VERSION = '2022-06-28';
/** Notion takes at most 100 blocks per request and 2,000 characters per text object. */
const BLOCKS_PER_REQUEST = 100;
const TEXT_MAX = 2000;

const pageId = z
  .string()
  .min(1)
  .describe('Notion page id (32 hex characters, with or without dashes) or page URL');
const pageSize = z.number().int().min(1).max(100).default(25).describe('Results per page (1-100)');
const startCursor = z.string().optional().describe('next_cursor of the previous page');
const content = z
  .string()
  .describe(
    'Page content as text; lines starting with "# ", "## ", "### ", "- ", "1. ", "[ ] ", "[x] ", "> " become headings, bullets, numbered items, to-dos and quotes, ``` fences become code blocks',
  );

const pageOut = z.object({
  id: z.string(),
  url: z.string().nullable(),
  title: z.string(),
  parent: z.record(z.string(), z.unknown()),
  properties: z.record(z.string(), z.unknown()),
  archived: z.boolean(),
  created_time: z.string(),
  last_edited_time: z.string(),
});

/**
 * A page id from an id or a notion.so URL, as one path segment: anything else is percent-encoded, so
 * a `?`, `#` or `/` in it cannot add a query, cut the path or reach another route (`abc?x=1` made
 * `/pages/abc?x=1`).
 */
function idOf(value: string): string {
  if (/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(value)) return value;
  const match = value.match(/([0-9a-f]{32})(?:[?#].*)?$/i);
  return match ? match[1]! : encodeURIComponent(value);
}

const plain = (richText: Json[] | undefined) =>
  (richText ?? []).map((part) => part.plain_text ?? part.text?.content ?? '').join('');

/** A property's value as plain JSON: text, number, names, dates. */
function propertyValue(property: Json): unknown {
  switch (property.type) {
    case 'title':
    case 'rich_text':
      return plain(property[property.type]);
    case 'select':
    case 'status':
      return property[property.type]?.name ?? null;
    case 'multi_select':
      return property.multi_select.map((option: Json) => option.name);
    case 'date':
      return property.date ? [property.date.start, property.date.end].filter(Boolean).join(' → ') : null;
    case 'people':
      return property.people.map((person: Json) => person.name ?? person.id);
    case 'relation':
      return property.relation.map((relation: Json) => relation.id);
    case 'formula':
      return property.formula?.[property.formula.type] ?? null;
    case 'rollup':
      return property.rollup?.[property.rollup.type] ?? null;
    case 'files':
      return property.files.map((file: Json) => file.name);
    case 'created_by':
    case 'last_edited_by':
      return property[property.type]?.name ?? property[property.type]?.id ?? null;
    case 'unique_id':
      return [property.unique_id?.prefix, property.unique_id?.number]
        .filter((part) => part !== null && part !== undefined)
        .join('-');
    default:
      return property[property.type] ?? null;
  }
}

function toPage(page: Json): z.infer<typeof pageOut> {
  const properties: Record<string, unknown> = {};
  let title = '';
  const isDatabase = page.object === 'database';
  for (const [name, property] of Object.entries<Json>(page.properties ?? {})) {
    // A database's properties are its column definitions, not values.
    properties[name] = isDatabase ? property.type : propertyValue(property);
    if (!isDatabase && property.type === 'title') title = plain(property.title);
  }
  if (isDatabase) title = plain(page.title);
  return {
    id: page.id,
    url: page.url ?? null,
    title,
    parent: page.parent ?? {},
    properties,
    archived: page.archived ?? page.in_trash ?? false,
    created_time: page.created_time,
    last_edited_time: page.last_edited_time,
  };
}

const richText = (text: string): Json[] => {
  const parts: Json[] = [];
  for (let index = 0; index < text.length || parts.length === 0; index += TEXT_MAX) {
    parts.push({ type: 'text', text: { content: text.slice(index, index + TEXT_MAX) } });
  }
  return parts;
};

/** Line prefixes that make a block other than a paragraph, in the order they are tried. */
const LINE_RULES: Array<{
  pattern: RegExp;
  block: (match: RegExpMatchArray) => { type: string; text: string; extra?: Json };
}> = [
  { pattern: /^(#{1,3}) (.*)$/, block: (m) => ({ type: `heading_${m[1]!.length}`, text: m[2]! }) },
  {
    pattern: /^(?:[-*] )?\[( |x)\] (.*)$/i,
    block: (m) => ({ type: 'to_do', text: m[2]!, extra: { checked: m[1]!.toLowerCase() === 'x' } }),
  },
  { pattern: /^[-*] (.*)$/, block: (m) => ({ type: 'bulleted_list_item', text: m[1]! }) },
  { pattern: /^\d+[.)] (.*)$/, block: (m) => ({ type: 'numbered_list_item', text: m[1]! }) },
  { pattern: /^> ?(.*)$/, block: (m) => ({ type: 'quote', text: m[1]! }) },
];

/**
 * A line that opens a fenced code block as CommonMark reads it: three or more backticks or tildes
 * (indented up to three spaces), then any info string (```` ```c++ ````, ```` ```ts title="a" ````; a
 * backtick fence's has no backtick). Its closing line is a fence of the same character, at least as
 * long, and nothing else. Only ```` ```word ```` opened one before: the closing fence of a ```` ```c++ ````
 * block opened another, which took the rest of the document as code.
 */
function openingFence(line: string): { info: string; closedBy: (line: string) => boolean } | undefined {
  const match = line.match(/^ {0,3}(`{3,}|~{3,})(.*)$/);
  if (!match) return undefined;
  const [, marks, info] = match as unknown as [string, string, string];
  if (marks[0] === '`' && info.includes('`')) return undefined;
  const closing = new RegExp(`^ {0,3}${marks[0] === '`' ? '`' : '~'}{${marks.length},}\\s*$`);
  return { info, closedBy: (candidate) => closing.test(candidate) };
}

/** Text lines to Notion blocks (a small markdown subset). */
export function textToBlocks(text: string): Json[] {
  const blocks: Json[] = [];
  const block = (type: string, line: string, extra: Json = {}) =>
    blocks.push({ object: 'block', type, [type]: { rich_text: richText(line), ...extra } });
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const fence = openingFence(line);
    if (fence) {
      const code: string[] = [];
      while (++index < lines.length && !fence.closedBy(lines[index]!)) code.push(lines[index]!);
      block('code', code.join('\n'), { language: notionLanguage(fence.info) });
      continue;
    }
    if (line.trim() === '') continue;
    const rule = LINE_RULES.find(({ pattern }) => pattern.test(line));
    if (!rule) {
      block('paragraph', line);
      continue;
    }
    const match = line.match(rule.pattern)!;
    const { type, text: content, extra } = rule.block(match);
    block(type, content, extra);
  }
  return blocks;
}

/** A block as one line of text, the way it would read in markdown. */
function blockText(block: Json): string {
  const value = block[block.type] ?? {};
  const text = plain(value.rich_text);
  switch (block.type) {
    case 'heading_1':
      return `# ${text}`;
    case 'heading_2':
      return `## ${text}`;
    case 'heading_3':
      return `### ${text}`;
    case 'bulleted_list_item':
      return `- ${text}`;
    case 'numbered_list_item':
      return `1. ${text}`;
    case 'to_do':
      return `[${value.checked ? 'x' : ' '}] ${text}`;
    case 'quote':
      return `> ${text}`;
    case 'code':
      return `\`\`\`${value.language ?? ''}\n${text}\n\`\`\``;
    case 'child_page':
      return `[page] ${value.title ?? ''}`;
    case 'child_database':
      return `[database] ${value.title ?? ''}`;
    case 'divider':
      return '---';
    default:
      return text;
  }
}

/** The options of createNotionToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const NOTION_OPTION_NAMES = everyKeyOf<NotionToolkitOptions>()(['baseUrl']);

/** Notion: search, read and write pages, query databases, append content and comment. */
export function createNotionToolkit(options: NotionToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createNotionToolkit()', NOTION_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://api.notion.com/v1';
  const api = createApi({
    service: 'Notion',
    baseUrl,
    headers: (credentials) => ({
      Authorization: `Bearer ${requireToken(credentials, 'Notion')}`,
      'Notion-Version': NOTION_VERSION,
    }),
  });
  const appendBlocks = async (context: RequestContext, blockId: string, blocks: Json[]) => {
    let appended = 0;
    for (let index = 0; index < blocks.length; index += BLOCKS_PER_REQUEST) {
      const result = await api.request(context, {
        method: 'PATCH',
        path: `/blocks/${blockId}/children`,
        body: { children: blocks.slice(index, index + BLOCKS_PER_REQUEST) },
        resource: `page or block ${blockId}`,
      });
      appended += result.results?.length ?? 0;
    }
    return appended;
  };

  const tools = [
    defineTool({
      slug: 'NOTION_SEARCH',
      description:
        'Search the Notion workspace for pages and databases by title. Use it to find a page or database id before reading or editing it.',
      inputSchema: z.object({
        query: z.string().default('').describe('Words in the title; empty lists recently edited items'),
        filter: z.enum(['page', 'database']).optional().describe('Only pages or only databases'),
        page_size: pageSize,
        start_cursor: startCursor,
      }),
      outputSchema: z.object({
        results: z.array(
          z.object({
            id: z.string(),
            object: z.string(),
            title: z.string(),
            url: z.string().nullable(),
            last_edited_time: z.string(),
          }),
        ),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async ({ query, filter, page_size, start_cursor }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: '/search',
          body: {
            query,
            page_size,
            start_cursor,
            ...(filter ? { filter: { property: 'object', value: filter } } : {}),
            sort: { direction: 'descending', timestamp: 'last_edited_time' },
          },
          resource: 'search results',
        });
        return {
          results: (result.results ?? []).map((item: Json) => ({
            id: item.id,
            object: item.object,
            title: toPage(item).title,
            url: item.url ?? null,
            last_edited_time: item.last_edited_time,
          })),
          next_cursor: result.next_cursor ?? null,
        };
      },
    }),
    defineTool({
      slug: 'NOTION_GET_PAGE',
      description:
        'Get a Notion page’s title, properties (database fields) and parent. Read its text with NOTION_GET_PAGE_CONTENT.',
      inputSchema: z.object({ page_id: pageId }),
      outputSchema: pageOut,
      annotations: READ,
      execute: async ({ page_id }, context) =>
        toPage(await api.request(context, { path: `/pages/${idOf(page_id)}`, resource: `page ${page_id}` })),
    }),
    defineTool({
      slug: 'NOTION_GET_PAGE_CONTENT',
      description:
        'Read the content (blocks) of a Notion page as text: paragraphs, headings, lists, to-dos, code.',
      inputSchema: z.object({
        page_id: pageId.describe('Id of the page (or of a block with children)'),
        page_size: pageSize.default(100),
        start_cursor: startCursor,
      }),
      outputSchema: z.object({
        text: z.string(),
        blocks: z.array(
          z.object({ id: z.string(), type: z.string(), text: z.string(), has_children: z.boolean() }),
        ),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async ({ page_id, page_size, start_cursor }, context) => {
        const result = await api.request(context, {
          path: `/blocks/${idOf(page_id)}/children`,
          query: { page_size, start_cursor },
          resource: `page ${page_id}`,
        });
        const blocks = (result.results ?? []).map((block: Json) => ({
          id: block.id,
          type: block.type,
          text: blockText(block),
          has_children: block.has_children ?? false,
        }));
        return {
          text: blocks.map((block: { text: string }) => block.text).join('\n'),
          blocks,
          next_cursor: result.next_cursor ?? null,
        };
      },
    }),
    defineTool({
      slug: 'NOTION_CREATE_PAGE',
      description:
        'Create a Notion page with a title and text content, inside a parent page or as a new row of a database (then set its fields with properties).',
      inputSchema: z.object({
        parent_page_id: z.string().optional().describe('Create the page inside this page'),
        parent_database_id: z.string().optional().describe('Create the page as a row of this database'),
        title: z.string().min(1).describe('Page title'),
        title_property: z
          .string()
          .default('Name')
          .describe('Name of the database’s title column (databases only; usually "Name")'),
        content: content.optional(),
        properties: z
          .record(z.string(), z.unknown())
          .optional()
          .describe(
            'Database fields in Notion property-value JSON, e.g. {"Status": {"status": {"name": "Done"}}}',
          ),
      }),
      outputSchema: pageOut,
      annotations: CREATE,
      execute: async (input, context) => {
        if (!input.parent_page_id === !input.parent_database_id) {
          throw new Error('Give exactly one of parent_page_id or parent_database_id.');
        }
        const titleKey = input.parent_database_id ? input.title_property : 'title';
        const blocks = input.content ? textToBlocks(input.content) : [];
        const page = await api.request(context, {
          method: 'POST',
          path: '/pages',
          body: {
            parent: input.parent_database_id
              ? { database_id: idOf(input.parent_database_id) }
              : { page_id: idOf(input.parent_page_id!) },
            properties: { ...input.properties, [titleKey]: { title: richText(input.title) } },
            children: blocks.slice(0, BLOCKS_PER_REQUEST),
          },
          resource: input.parent_database_id
            ? `database ${input.parent_database_id}`
            : `page ${input.parent_page_id}`,
        });
        if (blocks.length > BLOCKS_PER_REQUEST)
          await appendBlocks(context, page.id, blocks.slice(BLOCKS_PER_REQUEST));
        return toPage(page);
      },
    }),
    defineTool({
      slug: 'NOTION_UPDATE_PAGE',
      description:
        'Change a Notion page’s title or database fields (properties). Fields left out stay unchanged.',
      inputSchema: z.object({
        page_id: pageId,
        title: z.string().optional().describe('New title'),
        title_property: z
          .string()
          .default('title')
          .describe('Name of the title property ("Name" in most databases)'),
        properties: z
          .record(z.string(), z.unknown())
          .optional()
          .describe('Fields to change, in Notion property-value JSON, e.g. {"Done": {"checkbox": true}}'),
      }),
      outputSchema: pageOut,
      annotations: { ...UPDATE, destructiveHint: true },
      execute: async ({ page_id, title, title_property, properties }, context) =>
        toPage(
          await api.request(context, {
            method: 'PATCH',
            path: `/pages/${idOf(page_id)}`,
            body: {
              properties: {
                ...properties,
                ...(title ? { [title_property]: { title: richText(title) } } : {}),
              },
            },
            resource: `page ${page_id}`,
          }),
        ),
    }),
    defineTool({
      slug: 'NOTION_ARCHIVE_PAGE',
      description: 'Move a Notion page to the trash (archive it). It can be restored from Notion’s trash.',
      inputSchema: z.object({ page_id: pageId }),
      outputSchema: pageOut,
      annotations: DESTROY,
      execute: async ({ page_id }, context) =>
        toPage(
          await api.request(context, {
            method: 'PATCH',
            path: `/pages/${idOf(page_id)}`,
            body: { archived: true },
            resource: `page ${page_id}`,
          }),
        ),
    }),
    defineTool({
      slug: 'NOTION_APPEND_BLOCKS',
      description:
        'Add text content to the end of a Notion page: paragraphs, headings, bullet lists, to-dos, quotes, code.',
      inputSchema: z.object({ page_id: pageId.describe('Id of the page (or block) to append to'), content }),
      outputSchema: z.object({ appended: z.number() }),
      annotations: CREATE,
      execute: async ({ page_id, content }, context) => ({
        appended: await appendBlocks(context, idOf(page_id), textToBlocks(content)),
      }),
    }),
    defineTool({
      slug: 'NOTION_QUERY_DATABASE',
      description:
        'Get rows (pages) of a Notion database, optionally filtered and sorted, with their field values. Use NOTION_GET_DATABASE to learn the field names first.',
      inputSchema: z.object({
        database_id: z.string().min(1).describe('Database id or URL'),
        filter: z
          .record(z.string(), z.unknown())
          .optional()
          .describe('Notion filter JSON, e.g. {"property": "Status", "status": {"equals": "Done"}}'),
        sorts: z
          .array(z.record(z.string(), z.unknown()))
          .optional()
          .describe('Notion sorts JSON, e.g. [{"property": "Due", "direction": "ascending"}]'),
        page_size: pageSize,
        start_cursor: startCursor,
      }),
      outputSchema: z.object({
        rows: z.array(pageOut),
        has_more: z.boolean(),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async ({ database_id, ...body }, context) => {
        const result = await api.request(context, {
          method: 'POST',
          path: `/databases/${idOf(database_id)}/query`,
          body,
          resource: `database ${database_id}`,
        });
        return {
          rows: (result.results ?? []).map(toPage),
          has_more: result.has_more ?? false,
          next_cursor: result.next_cursor ?? null,
        };
      },
    }),
    defineTool({
      slug: 'NOTION_GET_DATABASE',
      description:
        'Get a Notion database’s title and its fields (columns) with their types and select options.',
      inputSchema: z.object({ database_id: z.string().min(1).describe('Database id or URL') }),
      outputSchema: z.object({
        id: z.string(),
        title: z.string(),
        url: z.string().nullable(),
        properties: z.array(
          z.object({ name: z.string(), type: z.string(), options: z.array(z.string()).optional() }),
        ),
      }),
      annotations: READ,
      execute: async ({ database_id }, context) => {
        const database = await api.request(context, {
          path: `/databases/${idOf(database_id)}`,
          resource: `database ${database_id}`,
        });
        return {
          id: database.id,
          title: plain(database.title),
          url: database.url ?? null,
          properties: Object.entries<Json>(database.properties ?? {}).map(([name, property]) => {
            const options = property[property.type]?.options;
            return {
              name,
              type: property.type,
              ...(Array.isArray(options) ? { options: options.map((option: Json) => option.name) } : {}),
            };
          }),
        };
      },
    }),
    defineTool({
      slug: 'NOTION_ADD_COMMENT',
      description: 'Add a comment to a Notion page.',
      inputSchema: z.object({ page_id: pageId, text: z.string().min(1).describe('Comment text') }),
      outputSchema: z.object({ id: z.string(), discussion_id: z.string(), created_time: z.string() }),
      annotations: CREATE,
      execute: async ({ page_id, text }, context) => {
        const comment = await api.request(context, {
          method: 'POST',
          path: '/comments',
          body: { parent: { page_id: idOf(page_id) }, rich_text: richText(text) },
          resource: `page ${page_id}`,
        });
        return { id: comment.id, discussion_id: comment.discussion_id, created_time: comment.created_time };
      },
    }),
    defineTool({
      slug: 'NOTION_LIST_USERS',
      description:
        'List the people (and bots) of the Notion workspace with their ids, e.g. to assign a page to someone.',
      inputSchema: z.object({ page_size: pageSize, start_cursor: startCursor }),
      outputSchema: z.object({
        users: z.array(
          z.object({
            id: z.string(),
            type: z.string(),
            name: z.string().nullable(),
            email: z.string().nullable(),
          }),
        ),
        next_cursor: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, { path: '/users', query, resource: 'users' });
        return {
          users: (result.results ?? []).map((user: Json) => ({
            id: user.id,
            type: user.type,
            name: user.name ?? null,
            email: user.person?.email ?? null,
          })),
          next_cursor: result.next_cursor ?? null,
        };
      },
    }),
  ];

  return defineToolkit({
    slug: 'notion',
    name: 'Notion',
    description:
      'Notion workspace: search, read and write pages, query and inspect databases, append content, comment.',
    categories: ['productivity', 'documents', 'notes'],
    keywords: ['note', 'doc', 'wiki', 'knowledge'],
    baseUrl,
    auth: [
      {
        type: 'oauth2',
        authorizationUrl: 'https://api.notion.com/v1/oauth/authorize',
        tokenUrl: 'https://api.notion.com/v1/oauth/token',
        scopes: [],
        // Notion asks who installs the integration; `user` lets each person share their own pages.
        authorizationParams: { owner: 'user' },
      },
      {
        type: 'api_key',
        fields: [
          {
            name: 'apiKey',
            label: 'Internal integration secret',
            description: 'From notion.so/my-integrations; share the pages with the integration.',
          },
        ],
      },
    ],
    tools: readingAnswers(api.service, tools),
  });
}

/** Notion against api.notion.com. */
export const notion: Toolkit = createNotionToolkit();
