import { experimental_createTool, experimental_createToolkit } from '@composio/core';
import { declaredTool } from '@toolmux/core/internal';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A custom tool of `@composio/core` that extends a toolkit (`extendsToolkit`) joins the session
 * beside its filters: it never opens the session to the other tools of that toolkit.
 */

let server: TestServer;
let sample: ReturnType<typeof createSampleToolkits>;

beforeAll(async () => {
  sample = createSampleToolkits();
  server = await startTestServer({ toolkits: sample.toolkits });
});
afterAll(() => server.close());

const composio = () => composioClientOf(server);

const summary = experimental_createTool('SUMMARY', {
  name: 'Task summary',
  description: 'Summarise the open to-do items into one line.',
  extendsToolkit: 'tasks',
  inputParams: z.object({}),
  execute: async () => ({ summary: 'nothing to do' }),
});

describe('a custom tool that extends a toolkit the session leaves out', () => {
  it('is in the session, and the rest of that toolkit stays out', async () => {
    const session = await composio().create('user_extends', {
      toolkits: ['notes'],
      experimental: { customTools: [summary] },
    });
    expect(session.customTools().map((tool) => tool.slug)).toEqual(['LOCAL_TASKS_SUMMARY']);
    expect(await session.execute('LOCAL_TASKS_SUMMARY', {})).toMatchObject({
      data: { summary: 'nothing to do' },
      error: null,
    });
    const found = await session.search({ query: 'summarise my open to-do items' });
    expect(found.results[0]!.primaryToolSlugs).toContain('LOCAL_TASKS_SUMMARY');

    // the tasks toolkit's own tools are not the session's
    expect(JSON.stringify(session.config.toolkits)).not.toContain('tasks');
    const deleted = await session.execute('TASKS_DELETE_TASK', { taskId: 'task_1' });
    expect(deleted.error).toMatch(/TASKS_DELETE_TASK/);
    expect(sample.calls.some((call) => call.slug === 'TASKS_DELETE_TASK')).toBe(false);
    const search = await session.search({ query: 'delete a task' });
    expect(search.results[0]!.primaryToolSlugs.filter((slug) => slug.startsWith('TASKS_'))).toEqual([]);
    expect((await session.toolkits()).items.map((item) => item.slug)).not.toContain('tasks');

    // nor after an update of the toolkits, or of the tool filters alone
    await session.update({ toolkits: ['notes'] });
    await session.update({ tools: { notes: ['NOTES_SEARCH_NOTES'] } });
    expect((await session.execute('TASKS_DELETE_TASK', { taskId: 'task_1' })).error).toMatch(
      /TASKS_DELETE_TASK/,
    );
    expect(sample.calls.some((call) => call.slug === 'TASKS_DELETE_TASK')).toBe(false);
    expect(
      (await session.search({ query: 'summarise my open to-do items' })).results[0]!.primaryToolSlugs,
    ).toContain('LOCAL_TASKS_SUMMARY');
  });

  it('with the direct-tools preset: the custom tool beside the allowed tools, no other tool of its toolkit', async () => {
    const session = await composio().create('user_extends', {
      sessionPreset: 'direct_tools' as never,
      toolkits: ['notes'],
      experimental: { customTools: [summary] },
    });
    const names = ((await session.tools()) as Array<{ function: { name: string } }>).map(
      (tool) => tool.function.name,
    );
    expect(names.filter((name) => name.startsWith('TASKS_'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['NOTES_SEARCH_NOTES', 'NOTES_CREATE_NOTE']));
  });

  it('extends a toolkit that needs an account: the tool runs in the client, with no credentials', async () => {
    const digest = experimental_createTool('DIGEST', {
      name: 'Mail digest',
      description: 'Write a digest of the mails to send.',
      extendsToolkit: 'mail',
      inputParams: z.object({}),
      execute: async () => ({ digest: 'no mail' }),
    });
    const session = await composio().create('user_extends', {
      toolkits: ['notes'],
      experimental: { customTools: [digest] },
    });
    expect(await session.execute('DIGEST', {})).toMatchObject({ data: { digest: 'no mail' }, error: null });
    const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 'Hi', body: 'x' });
    expect(sent.error).toMatch(/MAIL_SEND_EMAIL/);
    expect(sample.calls.some((call) => call.slug === 'MAIL_SEND_EMAIL')).toBe(false);
  });

  it('search limited to toolkits finds custom tools by the toolkit the client named them under', async () => {
    const devTools = experimental_createToolkit('DEV_TOOLS', {
      name: 'Dev tools',
      description: 'Tools for developers.',
      tools: [
        experimental_createTool('SHOUT', {
          name: 'Shout',
          description: 'Upper-case a text.',
          inputParams: z.object({ text: z.string() }),
          execute: async ({ text }) => ({ text: text.toUpperCase() }),
        }),
      ],
    });
    const session = await composio().create('user_extends', {
      toolkits: ['notes'],
      experimental: { customTools: [summary], customToolkits: [devTools] },
    });
    const shout = await session.search({ query: 'upper-case a text', toolkits: ['DEV_TOOLS'] });
    expect(shout.results[0]!.primaryToolSlugs).toEqual(['LOCAL_DEV_TOOLS_SHOUT']);
    const tasks = await session.search({ query: 'summarise my open to-do items', toolkits: ['tasks'] });
    expect(tasks.results[0]!.primaryToolSlugs).toEqual(['LOCAL_TASKS_SUMMARY']);
    // a filter of other toolkits leaves them out
    const notes = await session.search({ query: 'upper-case a text', toolkits: ['notes'] });
    expect(notes.results[0]!.primaryToolSlugs.filter((slug) => slug.startsWith('LOCAL_'))).toEqual([]);
    // a toolkit neither the catalog nor the session's own tools are filed under is refused
    await expect(session.search({ query: 'upper-case a text', toolkits: ['DEV_TOOL'] })).rejects.toThrow(
      'toolkits names "dev_tool", a toolkit this catalog does not have',
    );
  });

  it('search limited to a toolkit the catalog lacks finds the custom tools that extend it', async () => {
    const session = await composio().create('user_extends', {
      toolkits: ['notes'],
      experimental: {
        customTools: [
          experimental_createTool('STAR', {
            name: 'Star a repository',
            description: 'Star a GitHub repository.',
            extendsToolkit: 'github',
            inputParams: z.object({ repo: z.string() }),
            execute: async () => ({ starred: true }),
          }),
        ],
      },
    });
    const found = await session.search({ query: 'star a repository', toolkits: ['GITHUB'] });
    expect(found.results[0]!.primaryToolSlugs).toEqual(['LOCAL_GITHUB_STAR']);
    await expect(session.search({ query: 'star a repository', toolkits: ['gitlab'] })).rejects.toThrow(
      'toolkits names "gitlab"',
    );
  });

  it('an update of a session stored with the custom tool filed under the catalog toolkit does not let that toolkit in', async () => {
    // how sessions made before were stored: the tool filed under `tasks`, and `tasks` let in
    const stored = await server.embedded.create('user_extends', {
      toolkits: ['notes', 'tasks'],
      metaToolNames: 'composio',
      experimental: {
        customTools: [
          declaredTool({
            slug: 'LOCAL_TASKS_SUMMARY',
            name: 'Task summary',
            description: 'Summarise the open to-do items into one line.',
            toolkit: 'tasks',
            inputSchema: { type: 'object', properties: {} },
            annotations: {},
            tags: [],
          }),
        ],
      },
    });
    const session = await composio().use(stored.sessionId, { customTools: [summary] });
    await session.update({ toolkits: ['notes'] });
    expect(JSON.stringify(session.config.toolkits)).not.toContain('tasks');
    expect((await session.execute('TASKS_DELETE_TASK', { taskId: 'task_1' })).error).toMatch(
      /TASKS_DELETE_TASK/,
    );
    expect(sample.calls.some((call) => call.slug === 'TASKS_DELETE_TASK')).toBe(false);
  });
});
