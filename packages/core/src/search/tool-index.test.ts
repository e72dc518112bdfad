import { describe, expect, it } from 'vitest';
import { searchDocumentOf } from '../catalog/catalog.js';
import type { Tool } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { SearchDocument } from './tool-index.js';
import { MAX_FIELD_CHARS, MAX_QUERY_CHARS, ToolIndex } from './tool-index.js';

function tool(
  slug: string,
  name: string,
  description: string,
  parameters: SearchDocument['parameters'] = [],
): SearchDocument {
  const toolkit = slug.split('_')[0]!.toLowerCase();
  return { slug, name, description, toolkit, parameters };
}

const CATALOG: SearchDocument[] = [
  tool('GITHUB_STAR_REPO', 'Star repository', 'Star a repository for the authenticated user.', [
    { name: 'owner', description: 'The account owner of the repository.' },
    { name: 'repo', description: 'The name of the repository.' },
  ]),
  tool('GITHUB_CREATE_ISSUE', 'Create issue', 'Open a new issue in a repository.', [
    { name: 'title' },
    { name: 'body', description: 'The contents of the issue.' },
  ]),
  tool('GITHUB_LIST_ISSUES', 'List issues', 'List the issues of a repository, filtered by state and labels.'),
  tool('GMAIL_SEND_EMAIL', 'Send email', 'Send an email to one or more recipients.', [
    { name: 'recipient_email' },
    { name: 'subject' },
    { name: 'body' },
  ]),
  tool('GMAIL_CREATE_DRAFT', 'Create draft', 'Create an email draft without sending it.'),
  tool('GMAIL_DELETE_DRAFT', 'Delete draft', 'Delete an email draft.'),
  tool('SLACK_SEND_MESSAGE', 'Send message', 'Post a message to a Slack channel.', [{ name: 'channelId' }]),
  tool('SLACK_CREATE_CHANNEL', 'Create channel', 'Create a public or private channel.'),
  tool('GOOGLECALENDAR_CREATE_EVENT', 'Create event', 'Create an event in a Google Calendar.', [
    { name: 'start_time' },
    { name: 'attendees', description: 'Email addresses of the people to invite.' },
  ]),
  tool('NOTION_CREATE_PAGE', 'Create page', 'Create a page in a Notion workspace.'),
];

function slugs(results: readonly { slug: string }[]): string[] {
  return results.map((result) => result.slug);
}

describe('ToolIndex.search', () => {
  const index = new ToolIndex(CATALOG);

  it('ranks the tool that does what the query asks first', () => {
    expect(slugs(index.search('star a repository'))[0]).toBe('GITHUB_STAR_REPO');
    expect(slugs(index.search('send an email'))[0]).toBe('GMAIL_SEND_EMAIL');
    expect(slugs(index.search('post a message in the #general channel'))[0]).toBe('SLACK_SEND_MESSAGE');
    expect(slugs(index.search('file a bug as a new GitHub issue'))[0]).toBe('GITHUB_CREATE_ISSUE');
    expect(slugs(index.search('schedule a calendar event with attendees'))[0]).toBe(
      'GOOGLECALENDAR_CREATE_EVENT',
    );
  });

  it('returns results best first, each with a positive score', () => {
    const results = index.search('create', { limit: 10 });
    expect(results.length).toBeGreaterThan(3);
    for (const [position, result] of results.entries()) {
      expect(result.score).toBeGreaterThan(0);
      if (position > 0) expect(result.score).toBeLessThanOrEqual(results[position - 1]!.score);
    }
  });

  it('matches words inside parameter names and camelCase identifiers', () => {
    expect(slugs(index.search('id'))).toEqual(['SLACK_SEND_MESSAGE']);
    expect(slugs(index.search('channelId'))[0]).toBe('SLACK_SEND_MESSAGE');
    expect(slugs(index.search('recipient'))).toEqual(['GMAIL_SEND_EMAIL']);
  });

  it('expands query words with synonyms', () => {
    expect(slugs(index.search('erase a draft'))[0]).toBe('GMAIL_DELETE_DRAFT');
    expect(slugs(index.search('erase'))).toEqual(['GMAIL_DELETE_DRAFT']);
    // erase is a verb of delete's action (sameActions), searched at full weight
    expect(new ToolIndex(CATALOG, { synonyms: [] }).search('erase')).toHaveLength(1);
    expect(new ToolIndex(CATALOG, { synonyms: [], sameActions: [] }).search('erase')).toEqual([]);
  });

  it('finds a tool named for undoing an action (unstar, unsubscribe) by that action, before the one that does it', () => {
    const undoing = new ToolIndex([
      ...CATALOG,
      tool('GITHUB_UNSTAR_REPO', 'Unstar repository', 'Remove the star of the user from a repository.'),
      tool('LINEAR_ARCHIVE_ISSUE', 'Archive issue', 'Archive an issue.'),
      tool('SLACK_LEAVE_CHANNEL', 'Leave channel', 'Unsubscribe the user from a channel.'),
    ]);
    // "delete" is "remove" at a synonym's weight; before, the star tool came first, on "star" in its name
    expect(slugs(undoing.search('delete a star from a repository'))[0]).toBe('GITHUB_UNSTAR_REPO');
    expect(slugs(undoing.search('unstar a repo'))[0]).toBe('GITHUB_UNSTAR_REPO');
    expect(slugs(undoing.search('star a repository'))[0]).toBe('GITHUB_STAR_REPO');
    expect(slugs(undoing.search('subscribe to a channel'))).toContain('SLACK_LEAVE_CHANNEL');
    // a query's "un…" stays whole: it does not find what does the action
    expect(slugs(undoing.search('unarchive'))).toEqual([]);
  });

  it('completes partial words', () => {
    expect(
      slugs(index.search('githu'))
        .slice(0, 3)
        .every((slug) => slug.startsWith('GITHUB_')),
    ).toBe(true);
    expect(new ToolIndex(CATALOG, { ranking: { prefixWeight: 0 } }).search('githu')).toEqual([]);
  });

  it('respects the limit', () => {
    expect(index.search('create', { limit: 2 })).toHaveLength(2);
    expect(index.search('create', { limit: 0 })).toEqual([]);
    expect(index.search('create')).toHaveLength(Math.min(10, index.search('create', { limit: 100 }).length));
  });

  it('returns only tools the filter lets through, still up to the limit', () => {
    const results = index.search('create send', { limit: 3, filter: (slug) => !slug.startsWith('GMAIL_') });
    expect(results).toHaveLength(3);
    expect(slugs(results).some((slug) => slug.startsWith('GMAIL_'))).toBe(false);
    expect(index.search('send an email', { filter: () => false })).toEqual([]);
  });

  it('returns nothing for an empty query or one without searchable words', () => {
    expect(index.search('')).toEqual([]);
    expect(index.search('   ')).toEqual([]);
    expect(index.search('can you do it for me?')).toEqual([]);
    expect(index.search('xylophone')).toEqual([]);
  });

  it('gives the same results query after query, also after a filter threw', () => {
    const first = index.search('create a page');
    index.search('send an email');
    expect(() =>
      index.search('create', {
        filter: () => {
          throw new Error('filter failed');
        },
      }),
    ).toThrow('filter failed');
    expect(index.search('create a page')).toEqual(first);
  });
});

describe('ToolIndex: words that stand for one another', () => {
  /** Tools of other apps, so that words of the tools under test are rare, as in a catalog. */
  const OTHERS = ['SEND_EMAIL', 'CREATE_EVENT', 'POST_MESSAGE', 'DELETE_DRAFT', 'CREATE_PAGE', 'SCRAPE_PAGE']
    .concat(['SEARCH_WEB', 'GET_WEATHER', 'TRANSLATE_TEXT', 'CREATE_INVOICE', 'ADD_CONTACT', 'UPLOAD_FILE'])
    .map((what) => {
      const words = what.toLowerCase().replace('_', ' ');
      return tool(`APP_${what}`, words, `Does ${words}.`);
    });

  it('reads an abbreviation as the word it stands for, at full weight (repo is repository)', () => {
    const repoTools = ['BRANCHES', 'RELEASES', 'COMMITS', 'TAGS', 'FORKS'].map((what) =>
      tool(
        `GH_LIST_${what}`,
        `List ${what.toLowerCase()}`,
        `List the ${what.toLowerCase()} of a repository.`,
        [
          { name: 'owner', description: 'The owner of the repo.' },
          { name: 'repo', description: 'The repo name, without the owner.' },
        ],
      ),
    );
    const index = new ToolIndex([
      ...OTHERS,
      ...repoTools,
      tool(
        'GH_LIST_MY_REPOSITORIES',
        'List my repositories',
        'List the repositories the user can access, most recently updated first.',
        [{ name: 'visibility', description: 'Filter by visibility.' }, { name: 'page' }],
      ),
    ]);
    // before, `repos` matched `repositories` only as a synonym, and every `repo` parameter outweighed it
    expect(slugs(index.search('list my repos'))[0]).toBe('GH_LIST_MY_REPOSITORIES');
    expect(slugs(index.search('list my repositories'))[0]).toBe('GH_LIST_MY_REPOSITORIES');
  });

  it('reads PR as pull request, in queries and in slugs', () => {
    const pullTools = ['CREATE', 'MERGE', 'LIST'].map((verb) =>
      tool(`GH_${verb}_PULL_REQUEST`, `${verb.toLowerCase()} pull request`, `${verb} a pull request.`),
    );
    const index = new ToolIndex([
      ...OTHERS,
      ...pullTools,
      tool('GH_CREATE_ISSUE', 'Create issue', 'Open an issue.'),
      tool('GL_APPROVE_PR', 'Approve PR', 'Approve a merge.'),
    ]);
    // before, pr was a word of its own: "open a PR" found the issue tool, "approve a pull request" nothing of GL
    expect(slugs(index.search('merge a PR'))[0]).toBe('GH_MERGE_PULL_REQUEST');
    expect(slugs(index.search('list open PRs'))[0]).toBe('GH_LIST_PULL_REQUEST');
    expect(slugs(index.search('approve a pull request'))[0]).toBe('GL_APPROVE_PR');
  });

  it("counts a query word's synonyms as alternatives, the best of them, not one more match each", () => {
    const index = new ToolIndex([
      ...OTHERS,
      tool('FILES_OPEN', 'Open', 'Get, read, view, show and display files and fetch them.'),
      tool('FILES_BROWSE', 'Browse', 'List the files.'),
    ]);
    // before, get, read, view, show, display and fetch (each a synonym of list) added up past list itself
    expect(slugs(index.search('list files'))[0]).toBe('FILES_BROWSE');
    expect(slugs(index.search('read files'))[0]).toBe('FILES_OPEN');
  });

  it('keeps nouns out of the groups of verbs: "email" searches for mail, not for send or post', () => {
    const index = new ToolIndex([
      ...OTHERS,
      tool('CHAT_POST_REPLY', 'Post reply', 'Post a reply in a thread.'),
      tool('MAIL_TRASH_MESSAGE', 'Trash message', 'Move a message of the mailbox to the trash.'),
      tool('MAIL_LIST_INBOX', 'List inbox', 'List what is in the inbox.'),
    ]);
    // before, email was a synonym of send and post (and order of buy, plan of schedule)
    expect(slugs(index.search('email')).filter((slug) => slug.startsWith('CHAT_'))).toEqual([]);
    expect(slugs(index.search('email'))).not.toContain('APP_POST_MESSAGE');
    expect(slugs(index.search('my emails'))).toContain('MAIL_LIST_INBOX');
  });

  it('reads latest, recent and newest as synonyms', () => {
    const index = new ToolIndex([
      ...OTHERS,
      tool('MAIL_LIST_MESSAGES', 'List messages', 'List recent messages, newest first.'),
      tool('MAIL_GET_MESSAGE', 'Get message', 'Get one message by id.'),
    ]);
    expect(slugs(index.search('the latest messages'))[0]).toBe('MAIL_LIST_MESSAGES');
  });
});

describe('ToolIndex: the verbs of one action, and recency words', () => {
  /** Tools of two apps: a chat whose tools delete, and a mailbox whose tools trash, and say "email". */
  const APPS: SearchDocument[] = [
    tool(
      'CHAT_DELETE_MESSAGE',
      'Chat Delete Message',
      'Delete a message of a channel; deletes only your own.',
    ),
    tool('CHAT_POST_MESSAGE', 'Chat Post Message', 'Post a message to a channel.'),
    tool('CHAT_GET_HISTORY', 'Chat Get History', 'Read the latest messages of a channel, newest first.', [
      { name: 'latest', description: 'Only messages before this time.' },
    ]),
    tool('MAIL_TRASH_MESSAGE', 'Mail Trash Message', 'Move an email to the trash.'),
    tool('MAIL_LIST_MESSAGES', 'Mail List Messages', 'List the emails of the mailbox.'),
    tool('MAIL_SEND_EMAIL', 'Mail Send Email', 'Send an email.'),
    tool('WEB_DELETE', 'Web Delete', 'Delete a resource with an HTTP DELETE request; deletes it for good.'),
    tool('NEWS_GET_STORIES', 'News Get Stories', 'Get the latest stories, the current top ones of today.'),
  ];
  const index = new ToolIndex(APPS);

  it('searches the verbs of one action (delete, remove, trash, erase, discard, destroy) at full weight', () => {
    for (const verb of ['delete', 'remove', 'erase', 'discard', 'destroy']) {
      // before, the chat's and the web's delete came first, on the verb alone: trash weighed a synonym's 0.3
      expect(slugs(index.search(`${verb} an email`))[0], verb).toBe('MAIL_TRASH_MESSAGE');
    }
    expect(slugs(index.search('delete a chat message'))[0]).toBe('CHAT_DELETE_MESSAGE');
    expect(slugs(index.search('trash a chat message'))[0]).toBe('CHAT_DELETE_MESSAGE');
    // other verbs stay synonyms, at their lower weight
    expect(slugs(index.search('show the emails'))[0]).toBe('MAIL_LIST_MESSAGES');
    expect(slugs(new ToolIndex(APPS, { sameActions: [] }).search('delete an email'))[0]).not.toBe(
      'MAIL_TRASH_MESSAGE',
    );
  });

  it('weighs a recency word (latest, newest, recent, last, current, today) below the words that name a tool', () => {
    const firstThree = (ranker: ToolIndex, query: string) => slugs(ranker.search(query)).slice(0, 3);
    for (const word of ['latest', 'newest', 'most recent', 'last', 'current', "today's"]) {
      // before, the chat's history and the news, whose descriptions say latest, current and today, came
      // before tools of emails
      expect(firstThree(index, `my ${word} emails`).sort(), word).toEqual([
        'MAIL_LIST_MESSAGES',
        'MAIL_SEND_EMAIL',
        'MAIL_TRASH_MESSAGE',
      ]);
    }
    expect(slugs(index.search('the latest stories'))[0]).toBe('NEWS_GET_STORIES');
    const even = new ToolIndex(APPS, { ranking: { recencyWeight: 1 } });
    expect(firstThree(even, 'my latest emails')).toContain('CHAT_GET_HISTORY');
  });
});

describe("ToolIndex: the tool's action", () => {
  it("ranks first the tool whose slug's verb is the query's, before one whose description says it more", () => {
    const index = new ToolIndex([
      ...CATALOG,
      tool('NOTES_ARCHIVE_NOTE', 'Notes Archive Note', 'Move a note out of the list of active notes.'),
      tool(
        'NOTES_RESTORE_NOTE',
        'Notes Restore Note',
        'Restore a note that was archived; it stays archived until then.',
      ),
    ]);
    // before, "archived" twice in the description outweighed "archive" in the slug and the name
    expect(slugs(index.search('archive a note'))).toEqual(['NOTES_ARCHIVE_NOTE', 'NOTES_RESTORE_NOTE']);
    expect(slugs(index.search('restore a note'))[0]).toBe('NOTES_RESTORE_NOTE');
  });
});

/** Tools from slug → description, named by their slug's words, each with its toolkit's `keywords`. */
function keyedCatalog(
  descriptions: Record<string, string>,
  keywords: Record<string, string[]>,
): SearchDocument[] {
  return Object.entries(descriptions).map(([slug, description]) => {
    const document = tool(slug, slug.split('_').slice(1).join(' ').toLowerCase(), description);
    return { ...document, toolkitKeywords: keywords[document.toolkit] ?? [] };
  });
}

describe("ToolIndex: a toolkit's keywords", () => {
  /** Slug → description; the mailer's tools say "message", never "email", and have its keywords. */
  const descriptions: Record<string, string> = {
    MAILER_LIST_MESSAGES: 'List the newest messages of the mailbox.',
    MAILER_GET_MESSAGE: 'Read one message by id: headers and body.',
    MAILER_SEND_MESSAGE: 'Send a new message to one or more recipients.',
    CHAT_FIND_USER_BY_EMAIL: 'Find a chat user by their email address.',
    CHAT_POST_MESSAGE: 'Post a message to a chat channel.',
    TRACKER_LIST_ISSUES: 'List the issues of a project.',
  };
  const catalog = keyedCatalog(descriptions, { mailer: ['email', 'mail', 'inbox', 'correspondence'] });
  const index = new ToolIndex(catalog);

  it("finds a toolkit's tools by a word only its keywords say, before another toolkit's tool whose own text says it", () => {
    for (const query of ['read my latest emails', 'list my emails', 'check my inbox', 'any new mail?']) {
      expect(slugs(index.search(query))[0], query).toMatch(/^MAILER_/);
    }
    // a word no tool's own text has, nor any synonym of it: the toolkit's tools only, each scored
    const found = index.search('correspondence', { limit: 10 });
    expect(slugs(found).sort()).toEqual([
      'MAILER_GET_MESSAGE',
      'MAILER_LIST_MESSAGES',
      'MAILER_SEND_MESSAGE',
    ]);
    for (const { score } of found) expect(score).toBeGreaterThan(0);
  });

  it("weighs them below a tool's own words: the words of its name and action still come first", () => {
    expect(slugs(index.search('find a user by their email address'))[0]).toBe('CHAT_FIND_USER_BY_EMAIL');
    expect(slugs(index.search('post a message'))[0]).toBe('CHAT_POST_MESSAGE');
    expect(slugs(index.search('send an email'))[0]).toBe('MAILER_SEND_MESSAGE');
  });

  it('keeps them in an extended index and for added tools', () => {
    const extended = new ToolIndex(catalog.slice(3)).extend(catalog.slice(0, 3));
    expect(slugs(extended.search('read my latest emails'))[0]).toMatch(/^MAILER_/);
    expect(slugs(extended.search('correspondence', { limit: 10 }))).toHaveLength(3);
  });
});

describe("ToolIndex: a request's object decides the toolkit, its verb the tool", () => {
  /** Slug → description; the mailer's and the tracker's tools have keywords. */
  const descriptions: Record<string, string> = {
    MAILER_LIST_MESSAGES: 'List the newest messages of the mailbox.',
    MAILER_GET_MESSAGE: 'Read one message by id: headers and body.',
    MAILER_SEND_MESSAGE: 'Send a new message to one or more recipients.',
    MAILER_TRASH_MESSAGE: 'Move a message to the trash.',
    MAILER_LIST_LABELS: 'List the labels of the mailbox.',
    CHAT_ADD_REACTION: 'Add an emoji reaction to a message, e.g. "thumbsup" or "white_check_mark".',
    CHAT_POST_MESSAGE: 'Post a message to a chat channel.',
    CHAT_LIST_CHANNELS: 'List the channels of the workspace.',
    TRACKER_LIST_STATES: 'List the workflow states of a team, e.g. Todo, In Progress, Done.',
    TRACKER_LIST_LABELS: 'List the labels of a team.',
    TRACKER_LIST_ISSUES: 'List the issues of a team, newest first.',
    TRACKER_GET_ISSUE: 'Get one issue by its identifier.',
    TRACKER_CREATE_ISSUE: 'Create an issue in a team.',
    TRACKER_UPDATE_ISSUE: 'Change the title, state or assignee of an issue.',
  };
  const catalog = keyedCatalog(descriptions, { mailer: ['mail', 'inbox'], tracker: ['ticket', 'bug'] }).map(
    // of the mailer's tools "check my inbox" scores alike, the one that asks for nothing comes first
    (document) =>
      document.slug === 'MAILER_GET_MESSAGE'
        ? { ...document, parameters: [{ name: 'id', required: true }] }
        : document,
  );

  it("ranks the toolkit a keyword names before another toolkit's tool whose description holds the request's verb", () => {
    const index = new ToolIndex(catalog);
    // before, "check" (in two tools) outweighed "mail" (in every mailer tool): CHAT_ADD_REACTION came first
    expect(slugs(index.search('check my mail'))[0]).toMatch(/^MAILER_/);
    // a tool that holds the keyword word itself stays: the request's own words still decide
    expect(slugs(index.search('post a message'))[0]).toBe('CHAT_POST_MESSAGE');
    // withoutKeywordWeight 1 weighs the tools without the word as before
    const unweighed = new ToolIndex(catalog, { ranking: { withoutKeywordWeight: 1 } });
    expect(slugs(unweighed.search('check my mail'))[0]).toBe('CHAT_ADD_REACTION');
  });

  it("reads a keyword as the toolkit's main object: the tool for it comes first among the verb's tools", () => {
    const index = new ToolIndex(catalog);
    // before, every TRACKER_LIST_ tool held "list" and "ticket" alike, and the first added came first
    expect(slugs(index.search('list my tickets'))[0]).toBe('TRACKER_LIST_ISSUES');
    expect(slugs(index.search('check my inbox'))[0]).toBe('MAILER_LIST_MESSAGES');
    // the same when the toolkit's tools come to an index in one extend()
    const extended = new ToolIndex(catalog.filter((document) => document.toolkit !== 'tracker')).extend(
      catalog.filter((document) => document.toolkit === 'tracker'),
    );
    expect(slugs(extended.search('list my tickets'))[0]).toBe('TRACKER_LIST_ISSUES');
    // no main object in a toolkit whose objects tie or do not recur
    const tied = catalog.filter(
      (document) =>
        ![
          'TRACKER_GET_ISSUE',
          'TRACKER_CREATE_ISSUE',
          'TRACKER_UPDATE_ISSUE',
          'TRACKER_LIST_ISSUES',
        ].includes(document.slug),
    );
    const untied = new ToolIndex([
      ...tied,
      {
        ...tool('TRACKER_LIST_ISSUES', 'list issues', 'List the issues of a team.'),
        toolkitKeywords: ['ticket', 'bug'],
      },
      {
        ...tool('TRACKER_LIST_STATUSES', 'list statuses', 'List the statuses of a team.'),
        toolkitKeywords: ['ticket', 'bug'],
      },
    ]);
    // one tool acts on each of issues, states, labels, statuses: the keyword weighs the same on each
    const scores = untied.search('ticket', { limit: 10 }).map(({ score }) => score);
    expect(scores).toHaveLength(4);
    expect(new Set(scores).size).toBe(1);
  });
});

describe("ToolIndex: a toolkit's main object is the toolkit's, whatever batches its tools came in", () => {
  const keywords = { tracker: ['ticket', 'bug'], mailer: ['mail', 'inbox'] };
  const catalog = keyedCatalog(
    {
      TRACKER_LIST_STATES: 'List the workflow states of a team.',
      TRACKER_GET_STATE: 'Get one workflow state by its id.',
      MAILER_LIST_MESSAGES: 'List the newest messages of the mailbox.',
      MAILER_GET_MESSAGE: 'Read one message by id: headers and body.',
      TRACKER_LIST_ISSUES: 'List the issues of a team, newest first.',
      TRACKER_GET_ISSUE: 'Get one issue by its identifier.',
      TRACKER_CREATE_ISSUE: 'Create an issue in a team.',
    },
    keywords,
  );
  const queries = ['list my tickets', 'get a ticket', 'ticket', 'check my inbox', 'bug'];
  const whole = new ToolIndex(catalog);
  const rankings = (index: ToolIndex) => queries.map((query) => index.search(query, { limit: 10 }));

  it('ranks and scores alike when the tools come one add() at a time', () => {
    const oneByOne = new ToolIndex();
    for (const document of catalog) oneByOne.add([document]);
    // before, each add() read a main object from its own tools: one tool is none, so no tool's keywords counted twice
    expect(rankings(oneByOne)).toEqual(rankings(whole));
    expect(slugs(oneByOne.search('list my tickets'))[0]).toBe('TRACKER_LIST_ISSUES');
  });

  it("ranks and scores alike when a later extend() changes the toolkit's main object", () => {
    // the first batch's tracker tools act on states (two of them), the whole toolkit's on issues (three)
    const states = new ToolIndex(catalog.slice(0, 4));
    expect(slugs(states.search('list my tickets'))[0]).toBe('TRACKER_LIST_STATES');
    const before = rankings(states);
    const extended = states.extend(catalog.slice(4));
    // before, the states kept their keywords twice from the first batch and the issues got them twice from the second
    expect(rankings(extended)).toEqual(rankings(whole));
    // the base index is left as it was
    expect(rankings(states)).toEqual(before);
  });
});

describe('ToolIndex: tools the words score alike', () => {
  /** Mailer tools that "mail", a keyword of the mailer, alone finds: each scores the same for it. */
  const mailer = (
    slug: string,
    effect: { readOnly?: boolean; destructive?: boolean },
    required: string[],
    optional: string[] = [],
  ): SearchDocument => ({
    ...tool(slug, slug.split('_').slice(1).join(' ').toLowerCase(), 'Acts on one or more messages.', [
      ...required.map((name) => ({ name, required: true })),
      ...optional.map((name) => ({ name })),
    ]),
    ...effect,
    toolkitKeywords: ['mail'],
  });
  // in the order a toolkit might list them: the first added came first among tools of one score
  const tools = [
    mailer('MAILER_TRASH_MESSAGE', { destructive: true }, ['id']),
    mailer('MAILER_SEND_MESSAGE', {}, ['to', 'body']),
    mailer('MAILER_FORWARD_MESSAGE', {}, ['id']),
    mailer('MAILER_ARCHIVE_MESSAGE', {}, ['id']),
    mailer('MAILER_GET_MESSAGE', { readOnly: true }, ['id']),
    mailer('MAILER_LIST_MESSAGES', { readOnly: true }, [], ['label', 'page']),
  ];
  const expected = [
    'MAILER_LIST_MESSAGES',
    'MAILER_GET_MESSAGE',
    'MAILER_ARCHIVE_MESSAGE',
    'MAILER_FORWARD_MESSAGE',
    'MAILER_SEND_MESSAGE',
    'MAILER_TRASH_MESSAGE',
  ];

  it('come read-only first and destructive last, then by fewer required parameters, then by slug, in any order added', () => {
    for (const documents of [tools, [...tools].reverse()]) {
      const found = new ToolIndex(documents).search('check my mail', { limit: 10 });
      expect(new Set(found.map(({ score }) => score)).size).toBe(1);
      expect(slugs(found)).toEqual(expected);
    }
    // extended and filtered alike
    const extended = new ToolIndex(tools.slice(3)).extend(tools.slice(0, 3));
    expect(slugs(extended.search('check my mail', { limit: 10 }))).toEqual(expected);
    const filtered = extended.search('check my mail', { limit: 2, filter: (slug) => !slug.includes('GET') });
    expect(slugs(filtered)).toEqual(['MAILER_LIST_MESSAGES', 'MAILER_ARCHIVE_MESSAGE']);
  });

  it("reads a catalog tool's annotations and required parameters into its search document", () => {
    const trash = {
      slug: 'MAILER_TRASH_MESSAGE',
      name: 'Trash message',
      description: 'Move a message to the trash.',
      toolkit: 'mailer',
      tags: [],
      inputSchema: {
        type: 'object',
        properties: { id: { type: 'string', description: 'The message id' }, note: { type: 'string' } },
        required: ['id'],
      },
      annotations: { destructiveHint: true },
    } as unknown as Tool;
    expect(searchDocumentOf(trash, undefined)).toMatchObject({
      parameters: [
        { name: 'id', description: 'The message id', required: true },
        { name: 'note', required: false },
      ],
      readOnly: false,
      destructive: true,
    });
    const list = { ...trash, annotations: { readOnlyHint: true } } as Tool;
    expect(searchDocumentOf(list, undefined)).toMatchObject({ readOnly: true, destructive: false });
  });
});

describe("ToolIndex: another toolkit's tools that say a keyword handle what it names", () => {
  // `bug` is the tracker's keyword, but the code host's issues are bugs too: REPO_CREATE_ISSUE says so
  const catalog = [
    ...keyedCatalog(
      {
        TRACKER_LIST_ISSUES: 'List the issues of a team, newest first.',
        TRACKER_UPDATE_ISSUE: 'Change the title, state or assignee of an issue.',
        TRACKER_CREATE_COMMENT: 'Comment on an issue.',
        REPO_CREATE_ISSUE: 'Open a new issue in a repository. Use it to report a bug.',
        REPO_CLOSE_ISSUE: 'Close an issue of a repository.',
        REPO_COMMENT_ON_ISSUE: 'Comment on an issue of a repository.',
        REPO_CLOSE_MILESTONE: 'Close a milestone of a repository.',
        CHAT_SEARCH_MESSAGES: 'Search the messages of the workspace.',
      },
      { tracker: ['ticket', 'bug'] },
    ),
    // a parameter's example is not what a tool is about
    tool('CHAT_POST_MESSAGE', 'post message', 'Post a message to a channel.', [
      { name: 'text', description: 'The text, e.g. "found a bug"' },
    ]),
  ];
  const index = new ToolIndex(catalog);
  const unweighed = new ToolIndex(catalog, { ranking: { withoutKeywordWeight: 1 } });
  const scoreOf = (ranker: ToolIndex, query: string, slug: string) =>
    ranker.search(query, { limit: 20 }).find((result) => result.slug === slug)?.score;

  it('ranks the tools of that object by their own words, not weighed down for lacking the keyword; the others are', () => {
    // before, REPO_CLOSE_ISSUE and REPO_COMMENT_ON_ISSUE counted half: the tracker's tools came first
    expect(slugs(index.search('close the bug in the repository'))[0]).toBe('REPO_CLOSE_ISSUE');
    expect(slugs(index.search('comment on the bug in the repository'))[0]).toBe('REPO_COMMENT_ON_ISSUE');
    for (const slug of ['REPO_CLOSE_ISSUE', 'REPO_COMMENT_ON_ISSUE']) {
      expect(scoreOf(index, 'close the bug', slug), slug).toBe(scoreOf(unweighed, 'close the bug', slug));
    }
    // the keyword still decides where the request names nothing else
    expect(slugs(index.search('list the bugs'))[0]).toBe('TRACKER_LIST_ISSUES');
    // the toolkit's tools on other objects, and tools that say it in a parameter only, still count half
    // (CHAT_POST_MESSAGE itself holds it, so counts fully; the other tool on messages does not)
    for (const slug of ['REPO_CLOSE_MILESTONE', 'CHAT_SEARCH_MESSAGES']) {
      const query =
        slug === 'REPO_CLOSE_MILESTONE' ? 'close the bug' : 'post or search messages about the bug';
      expect(scoreOf(index, query, slug), slug).toBeCloseTo(scoreOf(unweighed, query, slug)! / 2, 10);
    }
  });
});

describe('ToolIndex: text from outside is read up to a bound, whatever its size', () => {
  // the words past the bound are never read: a megabyte of query or description costs no more than the bound
  const filler = (chars: number) => 'lorem '.repeat(Math.ceil(chars / 6)).slice(0, chars);
  const zebra = tool('ZOO_FEED', 'Feed', 'Feed an animal.');

  it(`reads a query up to ${MAX_QUERY_CHARS} characters`, async () => {
    const index = new ToolIndex([zebra]);
    expect(slugs(index.search(`feed ${filler(1_000_000)}`))).toEqual(['ZOO_FEED']);
    expect(slugs(index.search(`${filler(MAX_QUERY_CHARS - 10)} feed`))).toEqual(['ZOO_FEED']);
    expect(slugs(index.search(`${filler(MAX_QUERY_CHARS)} feed`))).toEqual([]);
    expect(slugs(await index.searchHybrid(`${filler(MAX_QUERY_CHARS)} feed`))).toEqual([]);
    // the query the embed function gets is cut the same way
    const queries: string[] = [];
    const embedded = new ToolIndex([zebra], {
      embed: async (texts) => {
        queries.push(...texts);
        return texts.map(() => [1, 0]);
      },
    });
    await embedded.searchHybrid(`feed ${filler(1_000_000)}`);
    expect(Math.max(...queries.map((text) => text.length))).toBeLessThanOrEqual(MAX_FIELD_CHARS + 100);
    expect(queries.at(-1)!.length).toBe(MAX_QUERY_CHARS);
  });

  it(`reads a tool's description, and its parameters and tags together, up to ${MAX_FIELD_CHARS} characters each`, () => {
    const index = new ToolIndex([
      tool('ZOO_EARLY', 'Early', `${filler(MAX_FIELD_CHARS - 10)} giraffe`),
      tool('ZOO_LATE', 'Late', `${filler(MAX_FIELD_CHARS)} zebra ${filler(1_000_000)}`),
      tool('ZOO_PARAMETERS', 'Parameters', 'Nothing.', [
        ...Array.from({ length: 100 }, (_, n) => ({ name: `p${n}`, description: filler(100) })),
        { name: 'okapi', description: 'an animal' },
      ]),
      { ...tool('ZOO_TAGS', 'Tags', 'Nothing.'), tags: [filler(MAX_FIELD_CHARS), 'tapir'] },
    ]);
    expect(slugs(index.search('giraffe'))).toEqual(['ZOO_EARLY']);
    expect(slugs(index.search('zebra'))).toEqual([]);
    expect(slugs(index.search('okapi'))).toEqual([]);
    expect(slugs(index.search('p3'))).toEqual(['ZOO_PARAMETERS']);
    expect(slugs(index.search('tapir'))).toEqual([]);
  });
});

describe('ToolIndex.add', () => {
  it('makes added tools searchable', () => {
    const index = new ToolIndex(CATALOG);
    expect(index.search('refund a payment')).toEqual([]);
    index.add([tool('STRIPE_REFUND_PAYMENT', 'Refund payment', 'Refund a payment to the customer.')]);
    expect(index.size).toBe(CATALOG.length + 1);
    expect(slugs(index.search('refund a payment'))).toEqual(['STRIPE_REFUND_PAYMENT']);
  });

  it('ranks the same as an index built with all tools at once', () => {
    const incremental = new ToolIndex(CATALOG.slice(0, 4));
    incremental.add(CATALOG.slice(4));
    const whole = new ToolIndex(CATALOG);
    for (const query of ['create', 'send an email', 'repository issues']) {
      expect(incremental.search(query)).toEqual(whole.search(query));
    }
  });

  it('rejects a slug that is already indexed and then adds nothing of the batch', () => {
    const index = new ToolIndex(CATALOG);
    const batch = [tool('NOTION_ARCHIVE_BLOCK', 'Archive block', 'Archive a block.'), CATALOG[0]!];
    expect(() => index.add(batch)).toThrow(ToolMuxError);
    expect(index.size).toBe(CATALOG.length);
    expect(index.search('archive block')).toEqual([]);
  });
});

/**
 * A fake embedding model that knows two concepts, money and mail: a text's vector counts its words
 * of each concept. Records every call.
 */
function conceptEmbedder() {
  const concepts = [
    ['money', 'cash', 'funds', 'payment'],
    ['email', 'mail', 'message'],
  ];
  const calls: string[][] = [];
  const embed = async (texts: string[]) => {
    calls.push(texts);
    return texts.map((text) => {
      const words = text.toLowerCase().split(/\W+/);
      return concepts.map((concept) => words.filter((word) => concept.includes(word)).length);
    });
  };
  return { embed, calls };
}

const MONEY_CATALOG: SearchDocument[] = [
  tool('MAIL_SEND', 'Send email', 'Send an email message to a friend.'),
  tool('BANK_SEND_MONEY', 'Send money', 'Send money from your account to another person.'),
  tool('WALLET_TOP_UP', 'Top up wallet', 'Add funds to the wallet.'),
];

describe('ToolIndex.searchHybrid', () => {
  it('is the lexical ranking when no embed function is given', async () => {
    const index = new ToolIndex(CATALOG);
    expect(await index.searchHybrid('send an email', { limit: 3 })).toEqual(
      index.search('send an email', { limit: 3 }),
    );
  });

  it('fuses the lexical and the embedding ranking', async () => {
    const { embed } = conceptEmbedder();
    const index = new ToolIndex(MONEY_CATALOG, { embed });
    // By words, the mail tool matches best ("send", "friend") and the wallet not at all;
    // by meaning, "cash" is about money.
    expect(slugs(index.search('send cash to a friend'))).toEqual(['MAIL_SEND', 'BANK_SEND_MONEY']);
    expect(slugs(await index.searchHybrid('send cash to a friend'))).toEqual([
      'BANK_SEND_MONEY',
      'MAIL_SEND',
      'WALLET_TOP_UP',
    ]);
  });

  it('respects filter and limit', async () => {
    const { embed } = conceptEmbedder();
    const index = new ToolIndex(MONEY_CATALOG, { embed });
    const results = await index.searchHybrid('send cash to a friend', {
      limit: 1,
      filter: (slug) => slug !== 'BANK_SEND_MONEY',
    });
    expect(slugs(results)).toEqual(['MAIL_SEND']);
    expect(await index.searchHybrid('', { limit: 5 })).toEqual([]);
  });

  it('embeds the documents once across queries, also concurrent ones', async () => {
    const { embed, calls } = conceptEmbedder();
    const index = new ToolIndex(MONEY_CATALOG, { embed });
    const queries = ['send cash', 'email a friend', 'top up', 'money transfer', 'mail'];
    await index.searchHybrid(queries[0]!);
    await index.searchHybrid(queries[1]!);
    await Promise.all(queries.slice(2).map((query) => index.searchHybrid(query)));
    const documentCalls = calls.filter((texts) => !queries.includes(texts[0]!));
    expect(documentCalls).toHaveLength(1);
    expect(documentCalls[0]).toHaveLength(MONEY_CATALOG.length);
    expect(calls).toHaveLength(1 + queries.length);
  });

  it('embeds in batches, and embeds only the tools added since', async () => {
    const { embed, calls } = conceptEmbedder();
    const index = new ToolIndex(MONEY_CATALOG, { embed, embedBatchSize: 2 });
    await index.searchHybrid('cash');
    expect(calls.map((texts) => texts.length)).toEqual([2, 1, 1]);
    index.add([tool('PAYPAL_REQUEST_PAYMENT', 'Request payment', 'Ask someone for money.')]);
    expect(slugs(await index.searchHybrid('cash'))).toContain('PAYPAL_REQUEST_PAYMENT');
    expect(calls.slice(3).map((texts) => texts.length)).toEqual([1, 1]);
  });

  it('rejects with a ToolMuxError when the embed function returns the wrong number of vectors', async () => {
    const index = new ToolIndex(MONEY_CATALOG, { embed: async () => [[1, 0]] });
    await expect(index.searchHybrid('send cash')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('rejects with a ToolMuxError when vectors differ in size, and ranks again after', async () => {
    // The documents (one call of three texts) get two dimensions; the query first gets three.
    let queryDimensions = 3;
    const embed = async (texts: string[]) =>
      texts.map(() => new Array(texts.length > 1 ? 2 : queryDimensions).fill(1));
    const index = new ToolIndex(MONEY_CATALOG, { embed });
    await expect(index.searchHybrid('send cash')).rejects.toBeInstanceOf(ToolMuxError);
    queryDimensions = 2;
    expect(await index.searchHybrid('send cash')).toHaveLength(MONEY_CATALOG.length);
  });
});

describe('ToolIndex.extend', () => {
  it('ranks like an index built with all tools, and leaves the extended index unchanged', () => {
    const base = new ToolIndex(CATALOG);
    const before = ['create a page', 'send an email', 'repository issues'].map((query) => base.search(query));
    const custom = [
      tool('CRM_CREATE_CONTACT', 'Create contact', 'Create a contact page in the CRM with an email address.'),
      tool('CRM_FIND_ISSUES', 'Find issues', 'Find support issues of a customer.'),
    ];
    const extended = base.extend(custom);
    const whole = new ToolIndex([...CATALOG, ...custom]);
    for (const query of ['create a page', 'send an email', 'repository issues', 'contact']) {
      expect(extended.search(query)).toEqual(whole.search(query));
    }
    expect(extended.size).toBe(CATALOG.length + 2);
    expect(base.size).toBe(CATALOG.length);
    // terms the custom tools share with the base ("create", "page", "email", "issues") kept their base postings
    expect(
      ['create a page', 'send an email', 'repository issues'].map((query) => base.search(query)),
    ).toEqual(before);
    expect(slugs(base.search('contact'))).toEqual([]);
  });

  it('embeds only the added tools; the base documents are embedded once for both indexes', async () => {
    const { embed, calls } = conceptEmbedder();
    const base = new ToolIndex(MONEY_CATALOG, { embed });
    const extended = base.extend([
      tool('PAYPAL_REQUEST_PAYMENT', 'Request payment', 'Ask someone for money.'),
    ]);
    expect(slugs(await extended.searchHybrid('cash'))).toContain('PAYPAL_REQUEST_PAYMENT');
    await base.searchHybrid('cash');
    const documentTexts = calls.filter((texts) => texts[0] !== 'cash').flat();
    expect(documentTexts).toHaveLength(MONEY_CATALOG.length + 1);
  });
});

describe('a query that names a tool exactly', () => {
  /** Tools whose slugs hold one another's words: by words alone, the longer one often wins. */
  const NESTED: SearchDocument[] = [
    ...CATALOG,
    tool(
      'GITHUB_CREATE_PULL_REQUEST_REVIEW',
      'Create pull request review',
      'Create a review of a pull request: comments on the pull request, create them in one go.',
    ),
    tool('GITHUB_CREATE_PULL_REQUEST', 'Create pull request', 'Open a PR from a branch.'),
    tool(
      'GITHUB_LIST_ISSUE_COMMENTS',
      'List comments',
      'List the comments on an issue: the issues comments.',
    ),
    tool('GITHUB_LIST_ALL_ISSUES', 'Issues', 'List the issues, all issues, of the issues list.'),
    tool('GITHUB_GET_ISSUE', 'Get issue', 'Get one issue.'),
  ];
  const index = new ToolIndex(NESTED);
  /** Expects each of `queries` to rank GITHUB_CREATE_PULL_REQUEST first. */
  const expectPullRequestFirst = (queries: readonly string[]) => {
    for (const query of queries) {
      expect(slugs(index.search(query))[0], query).toBe('GITHUB_CREATE_PULL_REQUEST');
    }
  };

  it('ranks the tool first by its slug or its name, in any case, with _, - and spaces alike', () => {
    expectPullRequestFirst([
      'GITHUB_CREATE_PULL_REQUEST',
      'github_create_pull_request',
      '  github-create-pull-request ',
      'GitHub create pull request',
    ]);
    // by words alone, the review (which repeats them) came first
    expect(slugs(index.search('create pull request'))[0]).toBe('GITHUB_CREATE_PULL_REQUEST');
    expect(slugs(index.search('Get issue'))[0]).toBe('GITHUB_GET_ISSUE');
    expect(slugs(index.search('get_issue'))[0]).toBe('GITHUB_GET_ISSUE');
    expect(slugs(index.search('github_get_issue'))[0]).toBe('GITHUB_GET_ISSUE');
  });

  it('folds full-width letters and signs and drops zero-width characters, as in the tools, before it compares', () => {
    expectPullRequestFirst([
      'ＧＩＴＨＵＢ＿ＣＲＥＡＴＥ＿ＰＵＬＬ＿ＲＥＱＵＥＳＴ',
      'GITHUB＿CREATE＿PULL＿REQUEST',
      'GITHUB_CREATE_PULL\u200b_REQUEST',
      'GITHUB_CREATE_PULL_RE\u00adQUEST\u200d',
      'ｃｒｅａｔｅ ｐｕｌｌ ｒｅｑｕｅｓｔ',
    ]);
    expect(
      slugs(index.search('run GITHUB＿CREATE＿PULL＿REQUEST, then ＧＭＡＩＬ＿ＳＥＮＤ＿ＥＭＡＩＬ')).slice(
        0,
        2,
      ),
    ).toEqual(['GITHUB_CREATE_PULL_REQUEST', 'GMAIL_SEND_EMAIL']);
    // words too: a full-width query finds what its plain letters find (nothing at all before)
    expect(slugs(index.search('ｓｅｎｄ ａｎ ｅｍａｉｌ'))).toEqual(slugs(index.search('send an email')));
    expect(slugs(index.search('ｓｅｎｄ ａｎ ｅｍａｉｌ'))[0]).toBe('GMAIL_SEND_EMAIL');
  });

  it("ranks first the tool whose slug's words the query is, in any order and form, abbreviations spelled out", () => {
    // before, the review, whose description says the words more often, came first
    expectPullRequestFirst([
      'create a PR',
      'Create pull requests',
      'a pull request: create',
      'please create the pull request',
      'create a GitHub PR',
      'create PRs on github',
    ]);
    expect(slugs(index.search('create a pull request review'))[0]).toBe('GITHUB_CREATE_PULL_REQUEST_REVIEW');
    // a word more is no longer the slug's words: ranked by words alone
    expect(slugs(index.search('create a PR review'))[0]).toBe('GITHUB_CREATE_PULL_REQUEST_REVIEW');
    // in an index extended with a tool of the same words, the base's tool first, then the new one
    const extended = index.extend([tool('CRM_CREATE_PULL_REQUEST', 'Crm Create Pull Request', 'Pull data.')]);
    expect(slugs(extended.search('create a PR')).slice(0, 2)).toEqual([
      'GITHUB_CREATE_PULL_REQUEST',
      'CRM_CREATE_PULL_REQUEST',
    ]);
    expect(slugs(extended.search('create a CRM pull request'))[0]).toBe('CRM_CREATE_PULL_REQUEST');
    expect(slugs(index.search('create a PR'))).not.toContain('CRM_CREATE_PULL_REQUEST');
  });

  it('ranks first a slug written as a word of the query, after a whole match', () => {
    expect(
      slugs(index.search('run `GITHUB_CREATE_PULL_REQUEST`, then GMAIL_SEND_EMAIL.')).slice(0, 2),
    ).toEqual(['GITHUB_CREATE_PULL_REQUEST', 'GMAIL_SEND_EMAIL']);
  });

  it('keeps the limit, the filter and the order best first, scores above the others', () => {
    const results = index.search('create pull request', { limit: 3 });
    expect(results).toHaveLength(3);
    expect(results[0]!.slug).toBe('GITHUB_CREATE_PULL_REQUEST');
    for (let at = 1; at < results.length; at++)
      expect(results[at]!.score).toBeLessThan(results[at - 1]!.score);
    expect(slugs(index.search('create pull request', { limit: 1 }))).toEqual(['GITHUB_CREATE_PULL_REQUEST']);
    const hidden = slugs(
      index.search('create pull request', { filter: (slug) => slug !== 'GITHUB_CREATE_PULL_REQUEST' }),
    );
    expect(hidden).not.toContain('GITHUB_CREATE_PULL_REQUEST');
    expect(hidden[0]).toBe('GITHUB_CREATE_PULL_REQUEST_REVIEW');
  });

  it('looks at the exact query when given one (a use case without its known fields)', () => {
    const results = index.search('create pull request owner: acme repo: web', {
      exactQuery: 'create pull request',
    });
    expect(slugs(results)[0]).toBe('GITHUB_CREATE_PULL_REQUEST');
  });

  it('in hybrid search too, and in an extended index, which leaves its base as it was', async () => {
    const { embed } = conceptEmbedder();
    const hybrid = new ToolIndex(NESTED, { embed });
    expect(slugs(await hybrid.searchHybrid('Create pull request'))[0]).toBe('GITHUB_CREATE_PULL_REQUEST');
    const base = new ToolIndex(NESTED);
    const extended = base.extend([
      tool('CRM_CREATE_PULL_REQUEST', 'Create pull request', 'Ask the CRM team to pull a request.'),
    ]);
    expect(slugs(extended.search('crm create pull request'))[0]).toBe('CRM_CREATE_PULL_REQUEST');
    expect(slugs(extended.search('Create pull request')).slice(0, 2)).toEqual([
      'GITHUB_CREATE_PULL_REQUEST',
      'CRM_CREATE_PULL_REQUEST',
    ]);
    expect(slugs(base.search('Create pull request'))).not.toContain('CRM_CREATE_PULL_REQUEST');
  });
});
