import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Composio, experimental_createTool, experimental_createToolkit, SessionPreset } from '@composio/core';
import { VercelProvider } from '@composio/vercel';
import { defineTool, defineToolkit } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { generateText, stepCountIs } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The real `@composio/core` client (and Composio's own Vercel provider) pointed at a live toolmux
 * server with `baseURL`: an application written for Composio's Tool Router runs unchanged.
 */

let api: Server;
let apiUrl: string;
let server: TestServer;
let sample: ReturnType<typeof createSampleToolkits>;
/** Every URL the Composio client fetched: none may leave the toolmux server. */
const fetched: string[] = [];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  // an API that echoes what it received, for proxyExecute
  api = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ method: request.method, url: request.url, key: request.headers['x-api-key'] }),
    );
  });
  await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  sample = createSampleToolkits();
  const echo = defineToolkit({
    slug: 'echo',
    name: 'Echo',
    description: 'An API that echoes requests.',
    baseUrl: apiUrl,
    auth: { type: 'api_key', fields: [{ name: 'apiKey' }], placement: { in: 'header', name: 'X-API-Key' } },
    tools: [
      defineTool({
        slug: 'ECHO_PING',
        description: 'Ping the echo API.',
        inputSchema: z.object({}),
        execute: () => ({ pong: true }),
      }),
    ],
  });
  server = await startTestServer({ toolkits: [...sample.toolkits, echo] });
  globalThis.fetch = (input, init) => {
    fetched.push(input instanceof Request ? input.url : String(input));
    return realFetch(input, init);
  };
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await server.close();
  await new Promise<void>((done) => api.close(() => done()));
});

/** Neither telemetry nor the version check follows baseURL: both are off for a self-hosted server. */
const SELF_HOSTED = { allowTracking: false, disableVersionCheck: true } as const;

function composio() {
  return new Composio({ apiKey: server.apiKey, baseURL: server.url, ...SELF_HOSTED });
}

/** Fills in and sends the hosted connect page's credentials form, as the user's browser would. */
async function submitConnectForm(redirectUrl: string, fields: Record<string, string>) {
  const page = await realFetch(redirectUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(action).toBeDefined();
  const response = await realFetch(new URL(action!, redirectUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  expect(response.status).toBe(303);
}

describe('@composio/core against toolmux serve', () => {
  it('runs a session: create, tools, execute, search, toolkits, authorize, proxy, update, delete', async () => {
    const mailConfig = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
    const echoConfig = await server.embedded.authConfigs.create('echo', { type: 'api_key' });
    const client = composio();
    const session = await client.create('user_composio', {
      toolkits: ['tasks', 'mail', 'echo'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
      tags: { disable: ['destructiveHint'] },
      authConfigs: { mail: mailConfig.id, echo: echoConfig.id },
      manageConnections: true,
    });
    expect(session.sessionId).toMatch(/^ses_/);
    const mcp = (session as unknown as { mcp: { url: string; headers: Record<string, string> } }).mcp;
    expect(mcp.url).toBe(`${server.url}/mcp/${session.sessionId}`);
    expect(mcp.headers).toEqual({ 'x-api-key': server.apiKey });
    expect(session.config).toMatchObject({
      user_id: 'user_composio',
      toolkits: { enabled: ['tasks', 'mail', 'echo'] },
      tools: { tasks: { disabled: ['TASKS_DELETE_TASK'] } },
      tags: { disabled: ['destructiveHint'] },
      auth_configs: { mail: mailConfig.id, echo: echoConfig.id },
      manage_connections: { enabled: true },
    });

    // the default provider (OpenAI function tools) over GET …/tools
    const tools = (await session.tools()) as Array<{ type: string; function: { name: string } }>;
    const names = tools.map((tool) => tool.function.name);
    expect(tools.every((tool) => tool.type === 'function')).toBe(true);
    expect(names.some((name) => name.endsWith('_SEARCH_TOOLS'))).toBe(true);
    expect(names.some((name) => name.endsWith('_MULTI_EXECUTE_TOOL'))).toBe(true);

    // execute an app tool: it runs in the server's process
    const created = await session.execute('TASKS_CREATE_TASK', { title: 'Buy milk' });
    expect(created.error).toBeNull();
    expect(created.logId).toMatch(/^log_/);
    expect(sample.calls.at(-1)).toMatchObject({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk' } });
    // a tool the filters leave out is not run
    const hidden = await session.execute('TASKS_DELETE_TASK', { taskId: 'task_1' });
    expect(hidden.error).toMatch(/TASKS_DELETE_TASK/);
    expect(sample.calls.some((call) => call.slug === 'TASKS_DELETE_TASK')).toBe(false);

    // search, validated by the client's own schema
    const found = await session.search({ query: 'create a task on my to-do list' });
    expect(found.success).toBe(true);
    expect(found.results[0]!.primaryToolSlugs).toContain('TASKS_CREATE_TASK');
    expect(found.toolSchemas.TASKS_CREATE_TASK).toMatchObject({
      toolSlug: 'TASKS_CREATE_TASK',
      toolkit: 'tasks',
    });
    expect(found.session.id).toBe(session.sessionId);
    // limited to toolkits: only their tools
    const query = 'email a reminder about a task';
    const everywhere = await session.search({ query });
    expect(everywhere.results[0]!.toolkits).toEqual(expect.arrayContaining(['tasks', 'mail']));
    const inMail = await session.search({ query, toolkits: ['mail'] });
    expect(inMail.results[0]!.primaryToolSlugs).toEqual(['MAIL_SEND_EMAIL']);
    // a toolkit the catalog lacks is refused naming it and the closest slug, as the toolkits route
    // refuses it (search answered no results, as if the toolkit had nothing for the query)
    for (const toolkits of [['mial'], ['mail', 'MIAL']]) {
      const searched = await session.search({ query, toolkits }).catch((error: Error) => error);
      const listed = await session.toolkits({ toolkits }).catch((error: Error) => error);
      expect(searched).toBeInstanceOf(Error);
      expect((searched as Error).message).toContain(
        'toolkits names "mial", a toolkit this catalog does not have',
      );
      expect((searched as Error).message).toContain('Did you mean "mail"?');
      expect((searched as Error).message).toBe((listed as Error).message);
    }

    // toolkits with their connection status
    const before = await session.toolkits();
    const mail = before.items.find((item) => item.slug === 'mail');
    expect(mail).toMatchObject({ name: 'Mail', isNoAuth: false, connection: { isActive: false } });
    expect(before.items.find((item) => item.slug === 'tasks')).toMatchObject({ isNoAuth: true });

    // authorize through the hosted connect page, then waitForConnection
    const request = await session.authorize('mail');
    expect(request.redirectUrl).toMatch(new RegExp(`^${server.url}/connect/cr_`));
    const waiting = request.waitForConnection(20_000);
    await submitConnectForm(request.redirectUrl!, { apiKey: 'sk_mail_user' });
    const account = await waiting;
    expect(account).toMatchObject({ status: 'ACTIVE', toolkit: { slug: 'mail' } });
    expect(account.id).toMatch(/^ca_/);
    expect(JSON.stringify(account)).not.toContain('sk_mail_user');
    const after = await session.toolkits({ toolkits: ['mail'] });
    expect(after.items).toHaveLength(1);
    expect(after.items[0]!.connection).toMatchObject({
      isActive: true,
      connectedAccount: { id: account.id, status: 'ACTIVE' },
      authConfig: { id: mailConfig.id, mode: 'API_KEY' },
    });
    const connected = await session.toolkits({ isConnected: true });
    // toolmux counts a toolkit without auth (tasks) as connected; echo is not connected yet
    expect(connected.items.map((item) => item.slug).sort()).toEqual(['mail', 'tasks']);
    const sent = await session.execute('MAIL_SEND_EMAIL', {
      to: 'a@example.com',
      subject: 'Hi',
      body: 'Hello',
    });
    expect(sent).toMatchObject({ error: null, data: { sent: true } });

    // proxyExecute with the user's account: the key goes to the API, never back to the client
    await server.embedded.connectedAccounts.create('user_composio', echoConfig.id, { apiKey: 'echo-secret' });
    const proxied = await session.proxyExecute({
      toolkit: 'echo',
      endpoint: '/things',
      method: 'GET',
      parameters: [{ in: 'query', name: 'page', value: 2 }],
    });
    expect(proxied.status).toBe(200);
    expect(proxied.data).toMatchObject({ method: 'GET', url: '/things?page=2' });
    expect(JSON.stringify(proxied)).not.toContain('echo-secret');

    // use() from another process, update(), delete()
    const again = await composio().use(session.sessionId);
    expect(again.sessionId).toBe(session.sessionId);
    expect(again.config).toMatchObject({ toolkits: { enabled: ['tasks', 'mail', 'echo'] } });
    const config = await again.update({ toolkits: ['tasks'], tags: [] });
    expect(config).toMatchObject({ toolkits: { enabled: ['tasks'] } });
    const refused = await session.execute('MAIL_SEND_EMAIL', {
      to: 'a@example.com',
      subject: 'Hi',
      body: 'x',
    });
    expect(refused.error).toMatch(/MAIL_SEND_EMAIL/);
    expect(await session.delete()).toEqual({ sessionId: session.sessionId, deleted: true });
    await expect(composio().use(session.sessionId)).rejects.toMatchObject({ status: 404 });

    // nothing went to Composio's servers (telemetry, version check): only to toolmux, and from
    // toolmux (the same process) to the proxied API
    expect(fetched.length).toBeGreaterThan(0);
    expect(fetched.filter((url) => !url.startsWith(server.url) && !url.startsWith(apiUrl))).toEqual([]);
  });

  it('runs a custom tool (experimental_createTool) in the client, with the session found by search', async () => {
    const add = experimental_createTool('ADD_NUMBERS', {
      name: 'Add numbers',
      description: 'Add two numbers together and return their sum.',
      inputParams: z.object({ a: z.number(), b: z.number() }),
      execute: async ({ a, b }) => ({ sum: a + b }),
    });
    const client = composio();
    const session = await client.create('user_custom', {
      toolkits: ['tasks'],
      experimental: { customTools: [add] },
    });
    expect(session.customTools().map((tool) => tool.slug)).toEqual(['LOCAL_ADD_NUMBERS']);
    expect(await session.execute('ADD_NUMBERS', { a: 2, b: 3 })).toMatchObject({
      data: { sum: 5 },
      error: null,
    });
    // the server knows the tool (search finds it) but never runs it
    const found = await session.search({ query: 'add two numbers' });
    expect(found.results[0]!.primaryToolSlugs).toContain('LOCAL_ADD_NUMBERS');

    // a custom toolkit: its tools are LOCAL_<TOOLKIT>_<SLUG>
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
    const withToolkit = await client.create('user_custom', {
      toolkits: ['tasks'],
      experimental: { customToolkits: [devTools] },
    });
    expect(withToolkit.customTools().map((tool) => tool.slug)).toEqual(['LOCAL_DEV_TOOLS_SHOUT']);
    expect(await withToolkit.execute('LOCAL_DEV_TOOLS_SHOUT', { text: 'hi' })).toMatchObject({
      data: { text: 'HI' },
    });
    const shout = await withToolkit.search({ query: 'upper-case a text' });
    expect(shout.results[0]!.primaryToolSlugs).toContain('LOCAL_DEV_TOOLS_SHOUT');

    // another process attaches the same tool to the stored session
    const attached = await composio().use(session.sessionId, { customTools: [add] });
    expect(await attached.execute('LOCAL_ADD_NUMBERS', { a: 4, b: 5 })).toMatchObject({ data: { sum: 9 } });
    // a tool the stored session never declared is refused by name, not half-attached
    const stranger = experimental_createTool('MULTIPLY_NUMBERS', {
      name: 'Multiply numbers',
      description: 'Multiply two numbers.',
      inputParams: z.object({ a: z.number(), b: z.number() }),
      execute: async ({ a, b }) => ({ product: a * b }),
    });
    const refused = await composio()
      .use(session.sessionId, { customTools: [stranger] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(String((refused as Error | undefined)?.message ?? refused)).toMatch(/LOCAL_MULTIPLY_NUMBERS/);
  });

  it('takes toolkit slugs in any case on every route, as Composio does, and answers them in lower case', async () => {
    const echoConfig = await server.embedded.authConfigs.create('echo', { type: 'api_key' });
    await server.embedded.connectedAccounts.create('user_toolkit_case', echoConfig.id, {
      apiKey: 'echo-key',
    });
    const session = await composio().create('user_toolkit_case', {
      toolkits: ['TASKS', 'Mail', 'ECHO'],
      tools: { TASKS: { disable: ['TASKS_DELETE_TASK'] } },
      authConfigs: { ECHO: echoConfig.id },
      manageConnections: true,
    });
    expect(session.config).toMatchObject({
      toolkits: { enabled: ['tasks', 'mail', 'echo'] },
      tools: { tasks: { disabled: ['TASKS_DELETE_TASK'] } },
      auth_configs: { echo: echoConfig.id },
    });
    expect((await session.toolkits({ toolkits: ['TASKS'] })).items.map((item) => item.slug)).toEqual([
      'tasks',
    ]);
    const found = await session.search({ query: 'send an email', toolkits: ['MAIL'] });
    expect(found.results[0]!.primaryToolSlugs).toEqual(['MAIL_SEND_EMAIL']);
    expect((await session.authorize('MAIL')).redirectUrl).toMatch(/\/connect\/cr_/);
    const proxied = await session.proxyExecute({ toolkit: 'ECHO', endpoint: '/things', method: 'GET' });
    expect(proxied.status).toBe(200);
    expect(await session.update({ toolkits: ['TASKS'] })).toMatchObject({ toolkits: { enabled: ['tasks'] } });
    // one toolkit twice in a map by toolkit: refused, naming both
    await expect(
      composio().create('user_toolkit_case', { authConfigs: { echo: echoConfig.id, ECHO: echoConfig.id } }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('"echo" twice') });
  });

  it('answers a failed workbench cell with its error (successful: false on the wire) and its logs kept in data; a cell that ended well with none', async () => {
    const session = await composio().create('user_failed_cell', { toolkits: ['tasks'] });
    const code = "console.log('before'); throw new Error('no such row')";
    const thrown = await session.execute('COMPOSIO_REMOTE_WORKBENCH', { code_to_execute: code });
    // (its error was null, so a client checking it took the failed cell for a result)
    expect(thrown.error).toMatch(/^WORKBENCH_CODE_ERROR: .*no such row/);
    expect(thrown.data).toMatchObject({ stdout: 'before', error: thrown.error });
    expect(thrown.logId).toMatch(/^log_/);
    const fine = await session.execute('COMPOSIO_REMOTE_WORKBENCH', { code_to_execute: 'return 6 * 7' });
    expect(fine).toMatchObject({ error: null, data: { results: 42, stdout: '' } });
    // the wire's own flag, which the client does not pass on
    const wire = await realFetch(
      `${server.url}/api/v3.1/tool_router/session/${session.sessionId}/execute_meta`,
      {
        method: 'POST',
        headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ slug: 'COMPOSIO_REMOTE_WORKBENCH', arguments: { code_to_execute: code } }),
      },
    );
    expect(wire.status).toBe(200);
    expect(await wire.json()).toMatchObject({
      successful: false,
      error: expect.stringMatching(/no such row/),
    });
  });

  it('numbers search results from 1 on the search route and in COMPOSIO_SEARCH_TOOLS alike', async () => {
    const session = await composio().create('user_search_index', { toolkits: ['tasks', 'mail'] });
    const queries = [{ use_case: 'create a task' }, { use_case: 'send an email' }];
    // the route session.search() calls, with two queries (the client sends one)
    const response = await realFetch(
      `${server.url}/api/v3.1/tool_router/session/${session.sessionId}/search`,
      {
        method: 'POST',
        headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ queries }),
      },
    );
    const routed = (await response.json()) as { results: Array<{ index: number }> };
    expect(routed.results.map((result) => result.index)).toEqual([1, 2]);
    expect((await session.search({ query: 'create a task' })).results[0]!.index).toBe(1);
    // the meta-tool the agent calls: the same numbers
    const meta = await session.execute('COMPOSIO_SEARCH_TOOLS', { queries });
    expect(
      (meta.data as { results: Array<{ index: number }> }).results.map((result) => result.index),
    ).toEqual([1, 2]);
    // and COMPOSIO_MULTI_EXECUTE_TOOL numbers its calls so too, in its results and in a refused entry
    const multi = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }, 7],
    });
    const { results } = multi.data as { results: Array<{ index: number; error?: string }> };
    expect(results.map((result) => result.index)).toEqual([1, 2]);
    expect(results[1]!.error).toMatch(/^Call 2 of tools is number 7, not a call\./);
  });

  it("takes Composio's direct-tools preset: every allowed tool directly, no meta-tools", async () => {
    const session = await composio().create('user_direct', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['notes'],
    });
    const tools = (await session.tools()) as Array<{ function: { name: string } }>;
    expect(tools.map((tool) => tool.function.name).sort()).toEqual([
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
    ]);
    expect(session.config).toMatchObject({
      search: { enable: false },
      execute: { enable_multi_execute: false },
    });
    expect(await session.execute('NOTES_CREATE_NOTE', { text: 'A note' })).toMatchObject({ error: null });
  });

  it('refuses options toolmux does not have with a 400 naming them', async () => {
    const client = composio();
    await expect(
      client.create('user_refused', { experimental: { assistivePrompt: { userTimezone: 'Europe/Paris' } } }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('experimental.assistive_prompt_config'),
    });
    await expect(
      client.create('user_refused', { sandbox: { enable: true, sandboxSize: 'large' } }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('workbench.sandbox_size') });
    const bad = new Composio({
      apiKey: 'not-the-key-0123456789',
      baseURL: server.url,
      allowTracking: false,
      disableVersionCheck: true,
    });
    await expect(bad.create('user_refused')).rejects.toMatchObject({ status: 401 });
  });
});

describe('@composio/vercel against toolmux serve', () => {
  it("runs Composio's own Vercel provider inside generateText", async () => {
    const client = new Composio({
      apiKey: server.apiKey,
      baseURL: server.url,
      provider: new VercelProvider(),
      ...SELF_HOSTED,
    });
    const session = await client.create('user_vercel', { toolkits: ['tasks'] });
    const tools = await session.tools();
    const multiExecute = Object.keys(tools).find((name) => name.endsWith('_MULTI_EXECUTE_TOOL'))!;
    const search = Object.keys(tools).find((name) => name.endsWith('_SEARCH_TOOLS'))!;
    expect(multiExecute).toBeDefined();
    let step = 0;
    const model = new MockLanguageModelV4({
      doGenerate: async () => {
        step += 1;
        const usage = {
          inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: 5, text: 5, reasoning: undefined },
        };
        if (step === 1) {
          return {
            content: [
              {
                type: 'tool-call' as const,
                toolCallId: 'call_search',
                toolName: search,
                input: JSON.stringify({ queries: [{ use_case: 'create a task' }] }),
              },
            ],
            finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
            usage,
            warnings: [],
          };
        }
        if (step === 2) {
          return {
            content: [
              {
                type: 'tool-call' as const,
                toolCallId: 'call_multi',
                toolName: multiExecute,
                input: JSON.stringify({
                  tools: [
                    { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'From the Vercel provider' } },
                  ],
                }),
              },
            ],
            finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
            usage,
            warnings: [],
          };
        }
        return {
          content: [{ type: 'text' as const, text: 'Created.' }],
          finishReason: { unified: 'stop' as const, raw: 'stop' },
          usage,
          warnings: [],
        };
      },
    });
    const result = await generateText({ model, tools, prompt: 'Add a task', stopWhen: stepCountIs(5) });
    expect(result.text).toBe('Created.');
    const outputs = result.steps.flatMap((s) => s.toolResults);
    expect(JSON.stringify(outputs[0]!.output)).toContain('TASKS_CREATE_TASK');
    expect(sample.calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      input: { title: 'From the Vercel provider' },
    });
    expect(JSON.stringify(outputs[1]!.output)).toContain('successful');
  });
});
