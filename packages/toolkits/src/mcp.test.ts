import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Server as McpLowLevelServer } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { type PlainTool, SessionPreset, ToolMux } from '@toolmux/core';
import { longestTurn, turnReport } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolContext } from '../test/api-server.js';
import { builtinToolkits } from './index.js';
import { type McpToolkit, mcpToolkit } from './mcp.js';

const require = createRequire(import.meta.url);
const SECRET = 'TOOLMUX_TEST_SECRET_SHOULD_NOT_LEAK';

/** The bin script of an npm package, run with this Node (no npx, works offline). */
function binOf(name: string): string {
  const manifest = require(`${name}/package.json`) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin)[0]!;
  return join(dirname(require.resolve(`${name}/package.json`)), bin);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A stateless Streamable HTTP MCP server on loopback: a low-level SDK server per request, given its
 * handlers by `handle` (which lists raw JSON Schemas as a server sends them). `intercept`, when given,
 * sees each request's parsed body first and answers it itself by returning true.
 */
async function statelessMcpServer(
  name: string,
  handle: (mcp: McpLowLevelServer) => void,
  intercept?: (
    request: IncomingMessage,
    response: ServerResponse,
    body: { method?: string } | undefined,
  ) => boolean,
): Promise<Server> {
  const server = createServer(async (request, response) => {
    let body: { method?: string } | undefined;
    if (intercept) {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      if (intercept(request, response, body)) return;
    }
    const mcp = new McpLowLevelServer({ name, version: '1.0.0' }, { capabilities: { tools: {} } });
    handle(mcp);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await mcp.connect(transport);
    await transport.handleRequest(request, response, body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

beforeAll(() => {
  process.env[SECRET] = 'hunter2';
});
afterAll(() => {
  delete process.env[SECRET];
});

describe('stdio: @modelcontextprotocol/server-everything', () => {
  let everything: McpToolkit;
  let mux: ToolMux;

  beforeAll(async () => {
    everything = await mcpToolkit({
      slug: 'everything',
      command: process.execPath,
      args: [binOf('@modelcontextprotocol/server-everything'), 'stdio'],
      env: { GREETING: 'hello' },
    });
    mux = new ToolMux({ toolkits: [...builtinToolkits, everything], store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux.close();
    await everything.close();
  });

  it('lists the server’s tools as catalog tools with upper-snake slugs, schemas and annotations', () => {
    expect(everything.server.name).toBe('mcp-servers/everything');
    const slugs = everything.tools.map((tool) => tool.slug);
    expect(slugs).toEqual(
      expect.arrayContaining([
        'EVERYTHING_ECHO',
        'EVERYTHING_GET_SUM',
        'EVERYTHING_GET_ENV',
        'EVERYTHING_GET_TINY_IMAGE',
      ]),
    );
    const sum = everything.tools.find((tool) => tool.slug === 'EVERYTHING_GET_SUM')!;
    expect(sum.description).toBe('Returns the sum of two numbers');
    expect(sum.inputSchema).toMatchObject({
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    });
    expect(sum.annotations).toEqual({
      title: 'Get Sum Tool',
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: false,
    });
  });

  it('is searchable, scoped by the session, validated and logged like any tool', async () => {
    const session = await mux.create('user_mcp', { toolkits: ['everything', 'github'] });
    const found = await session.search({ query: 'add two numbers together' });
    expect(found.results[0]!.tools[0]!.tool_slug).toBe('EVERYTHING_GET_SUM');

    expect(await session.execute('EVERYTHING_GET_SUM', { a: 2, b: 40 })).toMatchObject({
      successful: true,
      data: 'The sum of 2 and 40 is 42.',
    });
    const invalid = await session.execute('EVERYTHING_GET_SUM', { a: 'two' });
    expect(invalid).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });

    const scoped = await mux.create('user_mcp', { toolkits: ['github'] });
    expect((await scoped.execute('EVERYTHING_ECHO', { message: 'hi' })).code).toBe('TOOL_NOT_IN_SESSION');

    const logs = await session.logs();
    expect(logs.items.map((log) => log.toolSlug)).toEqual(['EVERYTHING_GET_SUM', 'EVERYTHING_GET_SUM']);
  });

  it('runs through a provider (PlainProvider, direct tools)', async () => {
    const session = await mux.create('user_mcp', {
      toolkits: ['everything'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    const tools = (await session.tools()) as PlainTool[];
    const echo = tools.find((tool) => tool.name === 'EVERYTHING_ECHO')!;
    expect(echo.inputSchema).toMatchObject({ properties: { message: { type: 'string' } } });
    expect(await echo.execute({ message: 'through the provider' })).toMatchObject({
      successful: true,
      data: 'Echo: through the provider',
    });
  });

  it('starts the server with only PATH and the given env: the host’s secrets stay out', async () => {
    const session = await mux.create('user_mcp', { toolkits: ['everything'] });
    const result = await session.execute('EVERYTHING_GET_ENV', {});
    const seen = JSON.parse(result.data as string) as Record<string, string>;
    expect(Object.keys(seen).sort()).toEqual(['GREETING', 'PATH']);
    expect(seen.GREETING).toBe('hello');
    expect(JSON.stringify(seen)).not.toContain('hunter2');
    expect(process.env[SECRET]).toBe('hunter2');
  });
});

describe('stdio: a probe server (env, isError, reconnect, defaults)', () => {
  let probe: McpToolkit;
  let mux: ToolMux;
  const probeScript = join(dirname(fileURLToPath(import.meta.url)), '../test/mcp-probe-server.mjs');

  beforeAll(async () => {
    probe = await mcpToolkit({
      slug: 'probe',
      command: process.execPath,
      args: [probeScript],
      env: { ONLY_THIS: '1' },
      keywords: ['diagnostics'],
    });
    mux = new ToolMux({ toolkits: [probe], store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux.close();
    await probe.close();
  });

  it('the child sees PATH and the given env only (not HOME, USER, SHELL or the test’s secret)', async () => {
    const session = await mux.create('user_probe', {});
    const result = await session.execute('PROBE_ENV_KEYS', {});
    expect((result.data as { keys: string[] }).keys).toEqual(['ONLY_THIS', 'PATH']);
  });

  it("gives search its keywords: a word only they say finds the server's tools", async () => {
    expect(probe.keywords).toEqual(['diagnostics']);
    const session = await mux.create('user_probe', {});
    const found = (await session.search({ query: 'run diagnostics', limit: 50 })).results[0]!.tools;
    expect(found.length).toBe(probe.tools.length);
    for (const tool of found) expect(tool.toolkit).toBe('probe');
  });

  it('an isError result fails the call with the tool’s message', async () => {
    const session = await mux.create('user_probe', {});
    const result = await session.execute('PROBE_FAIL_WITH', { message: 'quota of 10 files exceeded' });
    expect(result).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
    expect(result.error).toBe('PROBE_FAIL_WITH failed: quota of 10 files exceeded');
  });

  it('missing annotations take MCP’s cautious defaults (destructive, open world)', () => {
    const fail = probe.tools.find((tool) => tool.slug === 'PROBE_FAIL_WITH')!;
    expect(fail.annotations).toEqual({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    });
  });

  it('reconnects (a new process) after the server exited', async () => {
    const session = await mux.create('user_probe', {});
    const before = (await session.execute('PROBE_ENV_KEYS', {})).data as { pid: number };
    expect((await session.execute('PROBE_EXIT_PROCESS', {})).data).toBe('bye');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await session.execute('PROBE_ENV_KEYS', {});
    expect(after.successful).toBe(true);
    expect((after.data as { pid: number }).pid).not.toBe(before.pid);
  });

  it('reports a server that cannot start, with its stderr', async () => {
    await expect(
      mcpToolkit({
        slug: 'broken',
        command: process.execPath,
        args: ['-e', 'console.error("missing config file /etc/x.json"); process.exit(3)'],
      }),
    ).rejects.toThrow(/Could not connect to the MCP server "broken".*\n.*missing config file \/etc\/x\.json/);
  });
});

describe('stdio: a server that quotes its environment in a result', () => {
  it('masks the values whose names say they are secrets and the secret of any URL with credentials (its password, or a token as its user), and shows the rest', async () => {
    const probeScript = join(dirname(fileURLToPath(import.meta.url)), '../test/mcp-probe-server.mjs');
    const env = {
      DATABASE_URL: 'postgres://app:Sup3r%40secretPw@db.internal:5432/app',
      REDIS_URL: 'redis://:r3disPassw0rd@cache:6379',
      GH_PAT: 'ghp_0123456789abcdefghij',
      SENTRY_DSN: 'https://0123456789abcdef@o1.ingest.example.io/42',
      // a token as a URL's user, under a name that says nothing
      GIT_REMOTE: 'https://ghs_tokenAsUser0123@github.com/acme/app.git',
      SERVICE_JWT: 'eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl',
      // not secrets: shown as they are
      API_BASE_URL: 'https://api.example.com/v1',
      PATH_PREFIX: '/srv/patterns',
      SHORT_URL: 'https://u:pw@short.example',
      // the password decoded, as a server that parsed its connection string may quote it
      PARSED: 'user=app password=Sup3r@secretPw',
    };
    const probe = await mcpToolkit({ slug: 'probe', command: process.execPath, args: [probeScript], env });
    const mux = new ToolMux({ toolkits: [probe], store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_probe', {});
      const result = await session.execute('PROBE_ENV_VALUES', {});
      expect(result.successful).toBe(true);
      const values = (result.data as { values: Record<string, string> }).values;
      expect(values).toEqual({
        DATABASE_URL: 'postgres://app:[REDACTED]@db.internal:5432/app',
        REDIS_URL: 'redis://:[REDACTED]@cache:6379',
        GH_PAT: '[REDACTED]',
        SENTRY_DSN: '[REDACTED]',
        SERVICE_JWT: '[REDACTED]',
        GIT_REMOTE: 'https://[REDACTED]@github.com/acme/app.git',
        API_BASE_URL: 'https://api.example.com/v1',
        PATH_PREFIX: '/srv/patterns',
        // a password under 8 characters is not searched for (it would mask every "pw" of a result)
        SHORT_URL: 'https://u:pw@short.example',
        PARSED: 'user=app password=[REDACTED]',
      });
    } finally {
      await mux.close();
      await probe.close();
    }
  });
});

describe("stdio: a server's stderr quoted in a failure to connect", () => {
  const TOKEN = 'svc_9f8e7d6c5b4a3f2e1d0c';
  const probeScript = join(dirname(fileURLToPath(import.meta.url)), '../test/mcp-probe-server.mjs');

  it('masks the values of the env it was given, at mcpToolkit() and when a call reconnects, also one the kept tail starts in', async () => {
    const refused = await mcpToolkit({
      slug: 'leaky',
      command: process.execPath,
      args: [
        '-e',
        `console.error('x'.repeat(1990) + process.env.SERVICE_TOKEN + ' is not a valid token'); process.exit(3)`,
      ],
      env: { SERVICE_TOKEN: TOKEN },
    }).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(refused).toContain('[REDACTED] is not a valid token');
    expect(refused).not.toMatch(/svc_|0c is not/);

    // starts once; started again (after it exited) it fails, quoting its token: the model reads that
    const directory = await mkdtemp(join(tmpdir(), 'toolmux-mcp-stderr-'));
    const marker = join(directory, 'started');
    const script = `import { existsSync, writeFileSync } from 'node:fs';
if (existsSync(${JSON.stringify(marker)})) { console.error('auth failed for ' + process.env.SERVICE_TOKEN); process.exit(2); }
writeFileSync(${JSON.stringify(marker)}, '');
await import(${JSON.stringify(pathToFileURL(probeScript).href)});`;
    const once = await mcpToolkit({
      slug: 'once',
      command: process.execPath,
      args: ['--input-type=module', '-e', script],
      env: { SERVICE_TOKEN: TOKEN },
    });
    const mux = new ToolMux({ toolkits: [once], store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_stderr', {});
      expect((await session.execute('ONCE_EXIT_PROCESS', {})).data).toBe('bye');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const failed = await session.execute('ONCE_ENV_KEYS', {});
      expect(failed.successful).toBe(false);
      expect(failed.error).toContain('auth failed for [REDACTED]');
      expect(JSON.stringify([failed, await session.logs()])).not.toContain(TOKEN);
    } finally {
      await mux.close();
      await once.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('Streamable HTTP: a server that quotes the headers it was sent in its errors', () => {
  const OPERATOR_KEY = 'op_live_5a4b3c2d1e0f9a8b';
  const USER_KEY = 'usr_7c6b5a4d3e2f1a0b';
  let server: Server;
  let refuseInitialize = false;

  beforeAll(async () => {
    server = await statelessMcpServer(
      'quoting',
      (mcp) => {
        mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
          tools: [{ name: 'lookup', description: 'Look up.', inputSchema: { type: 'object' } }],
        }));
      },
      (request, response, body) => {
        const sent = `${request.headers['x-operator-key']} / ${request.headers['x-user-key'] ?? 'no user key'}`;
        if (body?.method !== 'tools/call' && !(refuseInitialize && body?.method === 'initialize'))
          return false;
        response
          .writeHead(403, { 'content-type': 'text/plain' })
          .end(`keys ${sent} may not do ${body?.method}`);
        return true;
      },
    );
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("masks the operator's header values and the user's credential in a failed call and a failure to connect", async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const quoting = await mcpToolkit({
      slug: 'quoting',
      url,
      headers: { 'X-Operator-Key': OPERATOR_KEY },
      credentialHeader: 'X-User-Key',
    });
    try {
      const failed = await quoting.tools[0]!.execute({}, toolContext({ apiKey: USER_KEY })).then(
        () => 'ran',
        (error: Error) => error.message,
      );
      expect(failed).toContain('keys [REDACTED] / [REDACTED] may not do tools/call');
    } finally {
      await quoting.close();
    }
    refuseInitialize = true;
    const refused = await mcpToolkit({
      slug: 'quoting',
      url,
      headers: { 'X-Operator-Key': OPERATOR_KEY },
    }).then(
      () => 'connected',
      (error: Error) => error.message,
    );
    expect(refused).toContain('keys [REDACTED] / no user key may not do initialize');
    expect(refused).not.toContain(OPERATOR_KEY);
  });
});

describe('Streamable HTTP: a server that echoes the headers it was sent in a result', () => {
  it("masks the operator's secret headers (and the user's credential) in the result; other headers stay", async () => {
    const operatorKey = 'op_echo_5a4b3c2d1e0f';
    const bearer = 'op_bearer_9f8e7d6c5b4a';
    const userKey = 'usr_echo_0a1b2c3d4e5f';
    let sent: Record<string, unknown> = {};
    const server = await statelessMcpServer(
      'echoing',
      (mcp) => {
        mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
          tools: [{ name: 'whoami', description: 'Who am I.', inputSchema: { type: 'object' } }],
        }));
        mcp.setRequestHandler(CallToolRequestSchema, async () => ({
          content: [{ type: 'text', text: `you sent ${JSON.stringify(sent)}` }],
        }));
      },
      (request) => {
        sent = {
          operator: request.headers['x-operator-key'],
          authorization: request.headers.authorization,
          user: request.headers['x-user-key'],
          trace: request.headers['x-trace-id'],
        };
        return false;
      },
    );
    const echoing = await mcpToolkit({
      slug: 'echoing',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
      headers: {
        'X-Operator-Key': operatorKey,
        Authorization: `Bearer ${bearer}`,
        'X-Trace-Id': 'trace-0123456789',
      },
      credentialHeader: 'X-User-Key',
    });
    try {
      const data = await echoing.tools[0]!.execute({}, toolContext({ apiKey: userKey }));
      expect(JSON.stringify(data)).toContain(
        'you sent {\\"operator\\":\\"[REDACTED]\\",\\"authorization\\":\\"[REDACTED]\\"',
      );
      expect(JSON.stringify(data)).toContain('trace-0123456789');
      for (const secret of [operatorKey, bearer]) expect(JSON.stringify(data)).not.toContain(secret);
      // through a session the user's credential is masked as well
      const mux = new ToolMux({
        toolkits: [echoing],
        store: ':memory:',
        logger: quiet,
        secretKey: Buffer.alloc(32, 7).toString('base64'),
      });
      try {
        const config = await mux.authConfigs.create('echoing', { type: 'api_key' });
        const account = await mux.connectedAccounts.create('user_echo', config.id, { apiKey: userKey });
        const session = await mux.create('user_echo', {
          toolkits: ['echoing'],
          connectedAccounts: { echoing: account.id },
        });
        const result = await session.execute('ECHOING_WHOAMI', {});
        expect(result.successful).toBe(true);
        const shown = JSON.stringify([result, await session.logs()]);
        for (const secret of [operatorKey, bearer, userKey]) expect(shown).not.toContain(secret);
        expect(shown).toContain('trace-0123456789');
      } finally {
        await mux.close();
      }
    } finally {
      await echoing.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('Streamable HTTP: a server that drops a call without answering it', () => {
  let server: Server;
  let mode: 'stream cut' | 'stream ended' | 'json cut' = 'stream cut';
  let calls = 0;

  beforeAll(async () => {
    server = await statelessMcpServer(
      'dropping',
      (mcp) => {
        mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
          tools: [
            { name: 'send', description: 'Send.', inputSchema: { type: 'object' } },
            {
              name: 'read',
              description: 'Read.',
              inputSchema: { type: 'object' },
              annotations: { readOnlyHint: true },
            },
          ],
        }));
      },
      (request, response, body) => {
        if (body?.method === 'tools/call') {
          calls++;
          if (mode === 'json cut') {
            response.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
            response.write('{"jsonrpc":"2.0","id":');
          } else {
            // an event stream without event ids: the SDK's client cannot resume it
            response.writeHead(200, { 'content-type': 'text/event-stream' });
            response.write(
              ': working on it\n\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"half"}}\n\ndata: {"jsonrpc"',
            );
            if (mode === 'stream ended') {
              response.end();
              return true;
            }
          }
          setTimeout(() => response.destroy(), 20);
          return true;
        }
        if (request.method === 'POST') return false;
        response.writeHead(405).end();
        return true;
      },
    );
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('fails the call at once saying the tool may or may not have run, not with "Request timed out" at timeoutMs nor "terminated"', async () => {
    const dropping = await mcpToolkit({
      slug: 'dropping',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
      timeoutMs: 10_000,
    });
    const failureOf = (slug: string) =>
      dropping.tools
        .find((tool) => tool.slug === slug)!
        .execute({}, toolContext())
        .then(
          () => 'answered',
          (error: Error) => error.message,
        );
    try {
      for (const next of ['stream cut', 'stream ended'] as const) {
        mode = next;
        expect(await failureOf('DROPPING_SEND'), next).toContain(
          'The MCP server "dropping" closed the call\'s event stream before answering it, and gave no event id to resume it by: the tool may or may not have run',
        );
      }
      mode = 'json cut';
      calls = 0;
      expect(await failureOf('DROPPING_SEND')).toMatch(
        /connection to the MCP server "dropping" was lost during the call; the tool may or may not have run/,
      );
      expect(calls).toBe(1);
      // a read-only tool is called once more on a new connection
      expect(await failureOf('DROPPING_READ')).toMatch(/was lost during the call\. The next call reconnects/);
      expect(calls).toBe(3);
    } finally {
      await dropping.close();
    }
  }, 60_000);
});

describe('stdio: @modelcontextprotocol/server-filesystem on a temporary directory', () => {
  let directory: string;
  let files: McpToolkit;
  let mux: ToolMux;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'toolmux-fs-'));
    await writeFile(join(directory, 'notes.txt'), 'buy milk\ncall mom\n');
    files = await mcpToolkit({
      slug: 'filesystem',
      command: process.execPath,
      args: [binOf('@modelcontextprotocol/server-filesystem'), directory],
    });
    mux = new ToolMux({ toolkits: [...builtinToolkits, files], store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux.close();
    await files.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('finds, reads, writes and lists files through a session', async () => {
    const session = await mux.create('user_fs', { toolkits: ['filesystem'] });
    const found = await session.search({ query: 'read the text of a file' });
    expect(found.results[0]!.tools.map((tool) => tool.tool_slug)).toContain('FILESYSTEM_READ_TEXT_FILE');

    const read = await session.execute('FILESYSTEM_READ_TEXT_FILE', { path: join(directory, 'notes.txt') });
    expect(read.successful).toBe(true);
    expect(JSON.stringify(read.data)).toContain('buy milk');

    const written = await session.execute('FILESYSTEM_WRITE_FILE', {
      path: join(directory, 'todo.md'),
      content: '# Todo\n- ship it\n',
    });
    expect(written.successful).toBe(true);
    expect(await readFile(join(directory, 'todo.md'), 'utf8')).toBe('# Todo\n- ship it\n');

    const listed = await session.execute('FILESYSTEM_LIST_DIRECTORY', { path: directory });
    expect(JSON.stringify(listed.data)).toMatch(/notes\.txt.*todo\.md|todo\.md.*notes\.txt/s);
  });

  it('a path outside the allowed directory comes back as the server’s error', async () => {
    const session = await mux.create('user_fs', { toolkits: ['filesystem'] });
    const result = await session.execute('FILESYSTEM_READ_TEXT_FILE', { path: '/etc/hostname' });
    expect(result.successful).toBe(false);
    expect(result.error).toMatch(/FILESYSTEM_READ_TEXT_FILE failed: .*(denied|outside allowed)/i);
  });
});

describe('stdio: @modelcontextprotocol/server-memory', () => {
  let directory: string;
  let memory: McpToolkit;
  let mux: ToolMux;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'toolmux-memory-'));
    memory = await mcpToolkit({
      slug: 'memory',
      command: process.execPath,
      args: [binOf('@modelcontextprotocol/server-memory')],
      env: { MEMORY_FILE_PATH: join(directory, 'memory.jsonl') },
    });
    mux = new ToolMux({ toolkits: [memory], store: ':memory:', logger: quiet });
  });
  afterAll(async () => {
    await mux.close();
    await memory.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('creates and searches a knowledge graph through the provider’s tools', async () => {
    const session = await mux.create('user_memory', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = new Map(((await session.tools()) as PlainTool[]).map((tool) => [tool.name, tool]));
    const created = await tools.get('MEMORY_CREATE_ENTITIES')!.execute({
      entities: [{ name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] }],
    });
    expect(created.successful).toBe(true);
    const searched = await tools.get('MEMORY_SEARCH_NODES')!.execute({ query: 'Ada' });
    expect(JSON.stringify(searched.data)).toContain('wrote the first program');
    expect(await readFile(join(directory, 'memory.jsonl'), 'utf8')).toContain('Ada Lovelace');
  });
});

describe('Streamable HTTP: an MCP server on loopback, with per-user credentials', () => {
  let server: Server;
  let url: string;
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const initializedWith: string[] = [];
  let remote: McpToolkit;

  beforeAll(async () => {
    server = createServer(async (request, response) => {
      if (request.headers.authorization === 'Bearer revoked-key') {
        response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
        response.end(JSON.stringify({ error: 'invalid_token' }));
        return;
      }
      const sessionId = request.headers['mcp-session-id'] as string | undefined;
      let transport = sessionId ? sessions.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) {
          response.writeHead(404, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32001, message: 'Session not found' },
              id: null,
            }),
          );
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            sessions.set(id, created);
          },
        });
        transport = created;
        initializedWith.push(String(request.headers.authorization ?? 'anonymous'));
        const mcp = new McpServer(
          { name: 'remote-tools', version: '2.0.0' },
          { instructions: 'Tools of a remote test service.' },
        );
        mcp.registerTool(
          'whoami',
          {
            description: 'Tell which credential and operator header the request carried.',
            annotations: { readOnlyHint: true },
          },
          async (extra) => ({
            content: [{ type: 'text', text: 'see structured content' }],
            // whose credential, not the credential: a result has the credentials sent masked
            structuredContent: {
              authorization: String(extra.requestInfo?.headers.authorization ?? 'anonymous').replace(
                /^(\S+ )?(\w+)-\w+$/,
                "$1$2's",
              ),
              operator: String(extra.requestInfo?.headers['x-operator'] ?? ''),
            },
          }),
        );
        await mcp.connect(transport);
      }
      await transport.handleRequest(request, response);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    remote = await mcpToolkit({
      slug: 'remote',
      url,
      headers: { 'X-Operator': 'ops-key' },
      credentialHeader: 'Authorization',
    });
  });
  afterAll(async () => {
    await remote.close();
    server.closeAllConnections();
    server.close();
  });

  it('mounts the remote server (listing with the operator headers) as a toolkit that needs an account', () => {
    expect(remote.tools.map((tool) => tool.slug)).toEqual(['REMOTE_WHOAMI']);
    expect(remote.description).toBe('Tools of a remote test service.');
    expect(remote.noAuth).toBe(false);
    expect(remote.auth).toEqual([expect.objectContaining({ type: 'api_key' })]);
    expect(initializedWith).toEqual(['anonymous']);
  });

  it('sends each user’s credential on that user’s own client, reused across calls', async () => {
    const whoami = remote.tools[0]!;
    const alice = await whoami.execute({}, toolContext({ accessToken: 'alice-token' }));
    const bob = await whoami.execute({}, toolContext({ apiKey: 'bob-key' }));
    const aliceAgain = await whoami.execute({}, toolContext({ accessToken: 'alice-token' }));
    expect(alice).toEqual({ authorization: "Bearer alice's", operator: 'ops-key' });
    expect(bob).toEqual({ authorization: "Bearer bob's", operator: 'ops-key' });
    expect(aliceAgain).toEqual(alice);
    expect(initializedWith).toEqual(['anonymous', 'Bearer alice-token', 'Bearer bob-key']);
  });

  it('through a session: the connected account’s API key reaches the server', async () => {
    const mux = new ToolMux({ toolkits: [remote], store: ':memory:', logger: quiet });
    const config = await mux.authConfigs.create('remote', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('carol', config.id, { apiKey: 'carol-key' });
    const session = await mux.create('carol', { connectedAccounts: { remote: account.id } });
    const result = await session.execute('REMOTE_WHOAMI', {});
    expect(result).toMatchObject({ successful: true, data: { authorization: "Bearer carol's" } });
    const [log] = (await session.logs()).items;
    expect(log).toMatchObject({ toolSlug: 'REMOTE_WHOAMI', connectedAccountId: account.id });
    expect(log!.output).not.toContain('carol-key');
    await mux.close();
  });

  it('a credential the server refuses (401) is CREDENTIALS_REJECTED; through a session the account becomes EXPIRED', async () => {
    const refused = await rejectionOf(remote.tools[0]!.execute({}, toolContext({ apiKey: 'revoked-key' })));
    expect(refused).toMatchObject({ code: 'CREDENTIALS_REJECTED' });
    expect(String((refused as Error).message)).not.toContain('revoked-key');

    const mux = new ToolMux({ toolkits: [remote], store: ':memory:', logger: quiet });
    const config = await mux.authConfigs.create('remote', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('dave', config.id, { apiKey: 'revoked-key' });
    const session = await mux.create('dave', { authConfigs: { remote: config.id } });
    const result = await session.execute('REMOTE_WHOAMI', {});
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED' });
    expect((await mux.connectedAccounts.get(account.id)).status).toBe('EXPIRED');
    await mux.close();
  });

  it('opens a new MCP session when the server lost the old one (read-only calls are retried)', async () => {
    sessions.clear();
    const result = await remote.tools[0]!.execute({}, toolContext({ accessToken: 'alice-token' }));
    expect(result).toEqual({ authorization: "Bearer alice's", operator: 'ops-key' });
    expect(initializedWith.at(-1)).toBe('Bearer alice-token');
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('Streamable HTTP: maxClients 1 with per-user credentials', () => {
  it("a user's call runs to its end when another user's call evicts its client", async () => {
    const { promise: slowReleased, resolve: releaseSlow } = Promise.withResolvers<void>();
    const { promise: slowRunning, resolve: slowStarted } = Promise.withResolvers<void>();
    const initializedBy: string[] = [];
    const server = await statelessMcpServer(
      'turns',
      (mcp) => {
        mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
          tools: [
            { name: 'slow', description: 'Waits for the test.', inputSchema: { type: 'object' } },
            { name: 'quick', description: 'Answers at once.', inputSchema: { type: 'object' } },
          ],
        }));
        mcp.setRequestHandler(CallToolRequestSchema, async (request) => {
          if (request.params.name === 'slow') {
            slowStarted();
            await slowReleased;
          }
          return { content: [{ type: 'text', text: `${request.params.name} done` }] };
        });
      },
      (request, _response, body) => {
        if (body?.method === 'initialize')
          initializedBy.push(String(request.headers['x-user-key'] ?? 'shared'));
        return false;
      },
    );
    const turns = await mcpToolkit({
      slug: 'turns',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
      credentialHeader: 'X-User-Key',
      maxClients: 1,
    });
    const [slow, quick] = turns.tools as unknown as [PlainTool, PlainTool];
    try {
      const alice = slow.execute({}, toolContext({ apiKey: 'alice-key' }));
      await slowRunning;
      // bob's client evicts alice's, whose call is running
      expect(await quick.execute({}, toolContext({ apiKey: 'bob-key' }))).toEqual('quick done');
      releaseSlow();
      expect(await alice).toEqual('slow done');
      // alice's client was evicted: her next call connects again
      expect(await quick.execute({}, toolContext({ apiKey: 'alice-key' }))).toEqual('quick done');
      expect(initializedBy).toEqual(['shared', 'alice-key', 'bob-key', 'alice-key']);
    } finally {
      releaseSlow();
      await turns.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('a server that offers tools toolmux refuses to define', () => {
  let server: Server;
  let odd: McpToolkit | undefined;
  const warnings: string[] = [];

  /** An object schema nested `depth` levels (past toolmux's 128). */
  const deepSchema = (depth: number) => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let level = 0; level < depth; level++) schema = { type: 'object', properties: { a: schema } };
    return schema;
  };

  const doublingRefs = (levels: number): Record<string, unknown> => {
    const $defs: Record<string, unknown> = { L0: { type: 'string' } };
    for (let level = 1; level <= levels; level++) {
      $defs[`L${level}`] = { anyOf: [{ $ref: `#/$defs/L${level - 1}` }, { $ref: `#/$defs/L${level - 1}` }] };
    }
    return { type: 'object', properties: { x: { $ref: `#/$defs/L${levels}` } }, $defs };
  };

  const wideSchema = (lastType: string): Record<string, unknown> => ({
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: 100 }, (_, index) => [`f${index}`, { type: index === 99 ? lastType : 'string' }]),
    ),
  });

  beforeAll(async () => {
    server = await statelessMcpServer('odd-tools', (mcp) => {
      mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [
          {
            name: 'lookup',
            description: 'Look a word up.',
            inputSchema: { type: 'object', properties: { word: { type: 'string' } } },
          },
          {
            name: 'older_draft',
            description: "Draft-04's boolean exclusive bound and a draft-07 tuple: kept, read as 2020-12.",
            inputSchema: {
              type: 'object',
              properties: {
                n: { type: 'number', minimum: 0, exclusiveMinimum: true },
                pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }] },
              },
            } as never,
          },
          { name: 'too_deep', description: 'Nested too deep.', inputSchema: deepSchema(200) as never },
          {
            name: 'not_a_schema',
            description: 'Its schema names a type that does not exist.',
            inputSchema: { type: 'object', properties: { word: { type: 'strang' } } },
          },
          {
            name: 'doubling_refs',
            description:
              'Each level of its definitions refers twice to the one before (2^40 leaves inlined).',
            inputSchema: doublingRefs(40) as never,
          },
          // wide: compiled in the validation thread (more than 48 subschemas), valid or not
          { name: 'wide', description: 'Many fields.', inputSchema: wideSchema('string') as never },
          {
            name: 'wide_broken',
            description: 'Many fields, one of a type that does not exist.',
            inputSchema: wideSchema('strang') as never,
          },
          {
            name: 'deep_arrays',
            description: 'Nested too deep, in arrays.',
            inputSchema: {
              type: 'object',
              properties: {
                a: JSON.parse(`${'{"type":"array","items":'.repeat(150)}{"type":"string"}${'}'.repeat(150)}`),
              },
            },
          },
        ],
      }));
      mcp.setRequestHandler(CallToolRequestSchema, async (call) => ({
        content: [{ type: 'text', text: `${call.params.name}: ${JSON.stringify(call.params.arguments)}` }],
      }));
    });
  });
  afterAll(async () => {
    await odd?.close();
    server.closeAllConnections();
    server.close();
  });

  it('leaves those out, says which and why, and serves the others', async () => {
    odd = await mcpToolkit({
      slug: 'odd',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
      logger: { warn: (message) => warnings.push(message) },
    });
    expect(odd.tools.map((tool) => tool.slug)).toEqual(['ODD_LOOKUP', 'ODD_OLDER_DRAFT', 'ODD_WIDE']);
    expect(odd.skippedTools.map((tool) => tool.name)).toEqual([
      'too_deep',
      'not_a_schema',
      'doubling_refs',
      'wide_broken',
      'deep_arrays',
    ]);
    expect(odd.skippedTools[0]!.reason).toContain('more than 128 levels deep');
    expect(odd.skippedTools[1]!.reason).toContain('is not valid JSON Schema');
    expect(odd.skippedTools[2]!.reason).toContain('more than 10,000 once its $refs are inlined');
    expect(odd.skippedTools[3]!.reason).toContain('is not valid JSON Schema');
    expect(odd.skippedTools[4]!.reason).toContain('more than 128 levels deep');
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toContain('offers tool "too_deep", which is left out');

    const mux = new ToolMux({ toolkits: [odd], store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { toolkits: ['odd'] });
    expect(await session.execute('ODD_LOOKUP', { word: 'toolmux' })).toMatchObject({
      successful: true,
      data: 'lookup: {"word":"toolmux"}',
    });
    // left out before: "exclusiveMinimum must be number"
    expect(odd.tools[1]!.inputSchema.properties).toEqual({
      n: { type: 'number', exclusiveMinimum: 0 },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] },
    });
    expect(await session.execute('ODD_OLDER_DRAFT', { n: 0 })).toMatchObject({
      successful: false,
      code: 'TOOL_ARGUMENTS_INVALID',
      error: 'Invalid arguments for ODD_OLDER_DRAFT: n: is too small: send a number greater than 0',
    });
    expect(await session.execute('ODD_OLDER_DRAFT', { n: 0.5, pair: ['a', 1] })).toMatchObject({
      successful: true,
      data: 'older_draft: {"n":0.5,"pair":["a",1]}',
    });
    expect(await session.execute('ODD_WIDE', { f0: 'a' })).toMatchObject({
      successful: true,
      data: 'wide: {"f0":"a"}',
    });
    expect(await session.execute('ODD_WIDE', { f1: 2 })).toMatchObject({
      successful: false,
      code: 'TOOL_ARGUMENTS_INVALID',
      error: 'Invalid arguments for ODD_WIDE: f1: is a number: send a string',
    });
    await mux.close();
  });
});

describe('a server whose tools/list never ends, or lists one name twice', () => {
  let server: Server;
  let url: string;
  let mode: 'same cursor' | 'new cursors' | 'many tools' | 'twice' = 'same cursor';
  let pages = 0;

  beforeAll(async () => {
    server = await statelessMcpServer('endless', (mcp) => {
      mcp.setRequestHandler(ListToolsRequestSchema, async (request) => {
        pages++;
        const tool = (name: string) => ({
          name,
          description: `Tool ${name}.`,
          inputSchema: { type: 'object' as const },
        });
        const page = Number(request.params?.cursor ?? 0);
        if (mode === 'same cursor') return { tools: [tool('lookup')], nextCursor: 'again' };
        if (mode === 'new cursors') return { tools: [], nextCursor: String(page + 1) };
        if (mode === 'many tools') {
          return {
            tools: Array.from({ length: 600 }, (_, index) => tool(`t${page}_${index}`)),
            nextCursor: String(page + 1),
          };
        }
        return { tools: [tool('lookup'), tool('other'), tool('lookup')] };
      });
      mcp.setRequestHandler(CallToolRequestSchema, async (call) => ({
        content: [{ type: 'text', text: `${call.params.name} ran` }],
      }));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  async function failureOf(nextMode: typeof mode): Promise<string> {
    mode = nextMode;
    pages = 0;
    const error = await mcpToolkit({ slug: 'endless', url }).then(
      async (toolkit) => {
        await toolkit.close();
        return undefined;
      },
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }

  it('fails mcpToolkit() naming the cause instead of listing for ever: a nextCursor answered twice, more than 1,000 pages, more than 10,000 tools', async () => {
    const repeated = await failureOf('same cursor');
    expect(repeated).toContain('could not list its tools');
    expect(repeated).toContain('answered the nextCursor "again" a second time');
    expect(pages).toBe(2);

    expect(await failureOf('new cursors')).toContain('more than 1,000 pages of tools/list');
    expect(pages).toBe(1_000);

    expect(await failureOf('many tools')).toContain('more than 10,000 tools');
    expect(pages).toBe(17);
    // a thousand round trips to a loopback server: seconds on a loaded machine, not a test's 20 s
  }, 90_000);

  it('leaves out the second tool of a name the server lists twice, saying so, instead of making two tools that call one', async () => {
    mode = 'twice';
    const warnings: string[] = [];
    const toolkit = await mcpToolkit({
      slug: 'endless',
      url,
      logger: { warn: (message) => warnings.push(message) },
    });
    expect(toolkit.tools.map((tool) => tool.slug)).toEqual(['ENDLESS_LOOKUP', 'ENDLESS_OTHER']);
    expect(toolkit.skippedTools).toEqual([
      { name: 'lookup', reason: expect.stringContaining('another tool named "lookup" before it') },
    ]);
    expect(warnings).toEqual([expect.stringContaining('offers tool "lookup" twice')]);
    await toolkit.close();
  });
});

describe('an MCP server whose output schema has a pattern that backtracks for ever', () => {
  let server: Server;
  let echo: McpToolkit | undefined;
  const patterns = { plain: '^(a+)+$', lookahead: '^(?=a)(a+)+$' };

  beforeAll(async () => {
    // a result that repeats its argument (text the model chose) under the server's output schema
    server = await statelessMcpServer('echo', (mcp) => {
      mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: Object.entries(patterns).map(([name, pattern]) => ({
          name,
          description: `Echo a word under an output schema with ${pattern}.`,
          inputSchema: { type: 'object', properties: { word: { type: 'string' } } },
          outputSchema: { type: 'object', properties: { word: { type: 'string', pattern } } },
        })),
      }));
      mcp.setRequestHandler(CallToolRequestSchema, async (call) => ({
        content: [{ type: 'text', text: JSON.stringify(call.params.arguments) }],
        structuredContent: { word: (call.params.arguments as { word: string }).word },
      }));
    });
  });
  afterAll(async () => {
    await echo?.close();
    server.closeAllConnections();
    server.close();
  });

  it("checks the result with core's patterns (linear, or within a budget), not RegExp on the event loop", async () => {
    echo = await mcpToolkit({
      slug: 'echo',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    });
    const mux = new ToolMux({ toolkits: [echo], store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_1', { toolkits: ['echo'] });
      for (const [slug, pattern] of [
        ['ECHO_PLAIN', patterns.plain],
        ['ECHO_LOOKAHEAD', patterns.lookahead],
      ] as const) {
        expect(await session.execute(slug, { word: 'aaa' }), slug).toMatchObject({
          successful: true,
          data: { word: 'aaa' },
        });
        // the longest gap between the ticks of a 1 ms interval while the call runs
        let last = performance.now();
        let gap = 0;
        const timer = setInterval(() => {
          gap = Math.max(gap, performance.now() - last);
          last = performance.now();
        }, 1);
        // 2^27 steps of a backtracking engine: 1.5 s of the event loop before
        const result = await session.execute(slug, { word: `${'a'.repeat(27)}!` });
        await new Promise((resolve) => setTimeout(resolve, 3));
        clearInterval(timer);
        expect(result, slug).toMatchObject({ successful: false });
        expect(result.error).toContain("does not match the tool's output schema");
        expect(result.error).toContain(pattern);
        expect(gap, slug).toBeLessThanOrEqual(150);
      }
    } finally {
      await mux.close();
    }
  });
});

describe('an MCP server whose tools have large output schemas', () => {
  let server: Server;
  const toolkits: McpToolkit[] = [];
  let listings = 0;

  /** `width` properties, named apart for each listing (`salt`): each toolkit compiles a schema not seen before. */
  const wideOutput = (width: number, salt: string, broken = false): Record<string, unknown> => ({
    type: 'object',
    properties: {
      ...Object.fromEntries(
        Array.from({ length: width }, (_, index) => [
          `${salt}_${index}`,
          index % 2
            ? { type: 'integer', minimum: 0 }
            : { type: 'object', properties: { a: { type: 'string' } } },
        ]),
      ),
      ...(broken ? { x: { $ref: '#/$defs/missing' } } : {}),
    },
    required: [`${salt}_1`],
  });

  beforeAll(async () => {
    server = await statelessMcpServer('wide', (mcp) => {
      // each listing (a toolkit's creation) has schemas of its own; the calls after it answer under them
      mcp.setRequestHandler(ListToolsRequestSchema, async () => {
        const salt = `l${listings++}`;
        return {
          tools: [
            {
              name: 'report',
              description: 'A report of 2,000 fields.',
              inputSchema: { type: 'object', properties: { count: { type: 'integer' } } },
              outputSchema: wideOutput(2_000, salt) as never,
            },
            {
              name: 'broken_report',
              description: 'A report whose large output schema refers to a definition it lacks.',
              inputSchema: { type: 'object', properties: {} },
              outputSchema: wideOutput(60, salt, true) as never,
            },
          ],
        };
      });
      mcp.setRequestHandler(CallToolRequestSchema, async (call) => {
        const count = (call.params.arguments as { count?: number }).count ?? 1;
        const structured = { [`l${listings - 1}_1`]: count };
        return {
          content: [{ type: 'text', text: JSON.stringify(structured) }],
          structuredContent: structured,
        };
      });
    });
  });
  afterAll(async () => {
    for (const toolkit of toolkits) await toolkit.close();
    server.closeAllConnections();
    server.close();
  });

  const connect = async (warnings: string[] = [], credentialHeader?: string) => {
    const toolkit = await mcpToolkit({
      slug: 'wide',
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
      logger: { warn: (message) => warnings.push(message) },
      credentialHeader,
    });
    toolkits.push(toolkit);
    return toolkit;
  };

  it('compile and check them without holding the event loop: at creation and at the first call', async () => {
    const measured = await longestTurn(async () => {
      const wide = await connect();
      const mux = new ToolMux({ toolkits: [wide], store: ':memory:', logger: quiet });
      try {
        const session = await mux.create('user_1', { toolkits: ['wide'] });
        return [
          await session.execute('WIDE_REPORT', { count: 3 }),
          await session.execute('WIDE_REPORT', { count: -1 }),
        ];
      } finally {
        await mux.close();
      }
    }, 60);
    const [good, bad] = measured.value;
    expect(good).toMatchObject({ successful: true, data: { [`l${listings - 1}_1`]: 3 } });
    // the answer of the check as before: the result breaks the schema, the call fails saying how
    expect(bad).toMatchObject({ successful: false });
    expect(bad!.error).toContain("does not match the tool's output schema");
    expect(bad!.error).toContain(
      `l${listings - 1}_1: is too small where the output schema asks for an integer of at least 0`,
    );
    // compiled on the main thread at the first call: one turn of 0.3 s
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(60);
  }, 60_000);

  it('name the tool and its toolkit when one cannot be compiled, and leave its results unchecked', async () => {
    const warnings: string[] = [];
    const wide = await connect(warnings);
    expect(wide.tools.map((tool) => tool.slug)).toEqual(['WIDE_REPORT', 'WIDE_BROKEN_REPORT']);
    expect(warnings).toEqual([
      expect.stringContaining(
        'toolmux: the MCP server wide of toolkit "wide" offers tool "broken_report" (WIDE_BROKEN_REPORT) with an output schema toolmux cannot compile',
      ),
    ]);
    expect(warnings[0]).toContain('Tool WIDE_BROKEN_REPORT: its output schema is not valid JSON Schema');
    const mux = new ToolMux({ toolkits: [wide], store: ':memory:', logger: quiet });
    try {
      const session = await mux.create('user_1', { toolkits: ['wide'] });
      const result = await session.execute('WIDE_BROKEN_REPORT', {});
      // before: the call failed, "Failed to validate structured content: Tool MCP_TOOL: …"
      expect(result).toMatchObject({ successful: true, data: { [`l${listings - 1}_1`]: 1 } });
      expect(JSON.stringify(result)).not.toContain('MCP_TOOL');
    } finally {
      await mux.close();
    }
  });

  it('check the results of every connection, not only of the one that listed the tools', async () => {
    const wide = await connect([], 'authorization');
    const report = wide.tools.find((tool) => tool.slug === 'WIDE_REPORT')!;
    // a user's own connection (and MCP session), opened at this call: it never listed the tools, and
    // the SDK checked only the results of a connection that had
    expect(await report.execute({ count: 2 }, toolContext({ accessToken: 'alice-token' }))).toEqual({
      [`l${listings - 1}_1`]: 2,
    });
    const refused = await rejectionOf(
      report.execute({ count: -1 }, toolContext({ accessToken: 'alice-token' })),
    );
    expect((refused as Error).message).toBe(
      `The MCP server "wide" answered report with structured content that does not match the tool's output schema: l${listings - 1}_1: is too small where the output schema asks for an integer of at least 0.`,
    );
  });
});
