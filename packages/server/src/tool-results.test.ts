import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineTool, defineToolkit, type Session } from '@toolmux/core';
import { recordingLogger } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { composioClientOf } from './test-composio.js';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * A tool's result that JSON cannot represent (a BigInt, a cycle, a toJSON or getter that throws, a
 * Map, a forgotten await, nesting deeper than 128 levels) is a failed result the model can read,
 * with the code TOOL_RESULT_INVALID and the place in the result, on every surface: never a 500.
 * A result JSON can represent is the same value everywhere: what JSON makes of it.
 */

function nested(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < levels; level++) value = { inner: value };
  return value;
}

class Point {
  x = 1;
  y = 2;
  get norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

/** What the tool returns, by the `kind` it is asked for. */
const results: Record<string, () => unknown> = {
  bigint: () => ({ total: 12n }),
  nestedBigint: () => ({ rows: [{ id: 1 }, { id: 2, size: 3n }] }),
  topBigint: () => 5n,
  cycle: () => {
    const node: Record<string, unknown> = { name: 'a' };
    node.self = node;
    return { node };
  },
  throwingToJSON: () => ({
    when: {
      toJSON() {
        throw new Error('no clock');
      },
    },
  }),
  throwingGetter: () => ({
    get total(): number {
      throw new Error('not counted yet');
    },
  }),
  map: () => ({ byId: new Map([['a', 1]]) }),
  promise: () => ({ items: Promise.resolve([1]) }),
  deep: () => nested(200),
  sparse: () => {
    // an id used as an index: JSON writes 123,456,789 nulls before it
    const rows: unknown[] = [];
    rows[123_456_789] = { id: 123_456_789 };
    return { rows };
  },
  plain: () => ({ total: 3, items: ['a', 'b'], nested: nested(100) }),
  normalized: () => ({
    at: new Date(0),
    gone: undefined,
    call() {
      return 1;
    },
    ratio: Number.NaN,
    far: Number.POSITIVE_INFINITY,
    zero: -0,
    list: [undefined, () => 1, Symbol('s'), -0],
    point: new Point(),
    bytes: Buffer.from('hi'),
    boxed: new String('boxed'),
    lone: 'half \ud83d of a pair',
  }),
};

/** What JSON makes of the `normalized` result. */
const normalizedJson = {
  at: '1970-01-01T00:00:00.000Z',
  ratio: null,
  far: null,
  zero: 0,
  list: [null, null, null, 0],
  point: { x: 1, y: 2 },
  bytes: { type: 'Buffer', data: [104, 105] },
  boxed: 'boxed',
  lone: 'half \ud83d of a pair',
};

/** The failures, each with the words its message must have. */
const failures: Array<[kind: string, ...words: string[]]> = [
  ['bigint', 'BigInt', 'data.total'],
  ['nestedBigint', 'BigInt', 'data.rows[1].size'],
  ['topBigint', 'BigInt'],
  ['cycle', 'cycle', 'data.node.self'],
  ['throwingToJSON', 'toJSON', 'data.when', 'no clock'],
  ['throwingGetter', 'data.total', 'not counted yet'],
  ['map', 'Map', 'data.byId'],
  ['promise', 'Promise', 'data.items', 'await'],
  ['deep', '128 levels'],
  ['sparse', 'data.rows is a sparse array', 'holes'],
];

const odd = defineToolkit({
  slug: 'odd',
  description: 'A tool whose results JSON may not represent',
  tools: [
    defineTool({
      slug: 'ODD_RESULT',
      description: 'Return an odd result',
      inputSchema: z.object({ kind: z.string() }),
      execute: async ({ kind }) => results[kind]!(),
    }),
    defineTool({
      slug: 'ODD_RECORD',
      description: 'Return an odd result, with an output schema (MCP structuredContent)',
      inputSchema: z.object({ kind: z.string() }),
      outputSchema: z.object({ at: z.string() }).passthrough(),
      // what the schema says once JSON has written it (a Date as its ISO string)
      execute: async ({ kind }) => results[kind]!() as { at: string },
    }),
  ],
});

const logger = recordingLogger();
let server: TestServer;
let session: Session;
/** The tools as MCP tools of their own (tools/list names them, with output schemas). */
let direct: Session;

beforeAll(async () => {
  server = await startTestServer({ toolkits: [odd], logger });
  session = await server.embedded.create('user_odd', { toolkits: ['odd'], workbench: {} });
  direct = await server.embedded.create('user_odd', { toolkits: ['odd'], sessionPreset: 'DIRECT_TOOLS' });
});
afterAll(() => server.close());

async function rest(kind: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/api/v1/sessions/${session.sessionId}/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool_slug: 'ODD_RESULT', arguments: { kind } }),
  });
  return { status: response.status, json: JSON.parse(await response.text()) };
}

const clients = new Map<Session, Client>();
async function mcpCall(name: string, args: Record<string, unknown>, of = session): Promise<CallToolResult> {
  let client = clients.get(of);
  if (!client) {
    client = new Client({ name: 'toolmux-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${of.sessionId}`), {
        requestInit: { headers: of.mcp.headers },
      }),
    );
    await client.listTools();
    clients.set(of, client);
  }
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}
afterAll(() => Promise.all([...clients.values()].map((client) => client.close())));

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

function composioSession() {
  const composio = composioClientOf(server);
  return composio.use(session.sessionId);
}

describe('a result JSON cannot represent', () => {
  it.each(failures)('%s: a failed result from session.execute, logged', async (kind, ...words) => {
    const warned = logger.warnings.length;
    const result = await session.execute('ODD_RESULT', { kind });
    expect(result).toMatchObject({ successful: false, data: null, code: 'TOOL_RESULT_INVALID' });
    for (const word of words) expect(result.error).toContain(word);
    expect(result.error).toContain('ODD_RESULT');
    const [entry] = (await session.logs({ limit: 1 })).items;
    expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: 'TOOL_RESULT_INVALID' });
    expect(logger.warnings.slice(warned).join('\n')).toContain('TOOL_RESULT_INVALID');
  });

  it.each(failures)('%s: REST answers 200 with the failed result', async (kind, ...words) => {
    const answer = await rest(kind);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ successful: false, data: null, code: 'TOOL_RESULT_INVALID' });
    for (const word of words) expect(answer.json.error).toContain(word);
  });

  it.each(failures)('%s: MCP tools/call answers isError with the message', async (kind, ...words) => {
    for (const [name, of] of [
      ['ODD_RESULT', session],
      ['ODD_RECORD', direct],
    ] as const) {
      const result = await mcpCall(name, { kind }, of);
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(text(result)).toContain('TOOL_RESULT_INVALID');
      for (const word of words) expect(text(result)).toContain(word);
    }
  });

  it.each(failures)('%s: the Composio client gets the error', async (kind, ...words) => {
    const result = await (await composioSession()).execute('ODD_RESULT', { kind });
    expect(result.data).toEqual({});
    for (const word of words) expect(result.error).toContain(word);
  });

  it('workbench code gets the failed result from toolmux.execute', async () => {
    for (const [kind, ...words] of failures) {
      const result = await mcpCall('TOOLMUX_WORKBENCH', {
        code: `return await toolmux.execute('ODD_RESULT', { kind: ${JSON.stringify(kind)} });`,
      });
      expect(result.isError, kind).toBeFalsy();
      const answer = JSON.parse(text(result)).result;
      expect(answer, kind).toMatchObject({ successful: false, data: null });
      for (const word of words) expect(answer.error, kind).toContain(word);
    }
  });
});

describe('a result JSON can represent', () => {
  it('is what JSON makes of it, on every surface', async () => {
    const embedded = await session.execute('ODD_RESULT', { kind: 'normalized' });
    expect(embedded).toMatchObject({ successful: true, error: null });
    expect(embedded.data).toEqual(normalizedJson);
    expect(Object.keys(embedded.data as object)).toEqual(Object.keys(normalizedJson));
    expect(Object.is((embedded.data as { zero: number }).zero, 0)).toBe(true);
    expect(Object.getPrototypeOf((embedded.data as { point: object }).point)).toBe(Object.prototype);

    const answer = await rest('normalized');
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ successful: true, data: normalizedJson });

    const called = await mcpCall('ODD_RESULT', { kind: 'normalized' });
    expect(called.isError).toBeFalsy();
    expect(JSON.parse(text(called))).toEqual(normalizedJson);
    const structured = await mcpCall('ODD_RECORD', { kind: 'normalized' }, direct);
    expect(structured.isError).toBeFalsy();
    expect(structured.structuredContent).toEqual(normalizedJson);
    expect(JSON.parse(text(structured))).toEqual(normalizedJson);

    const viaComposio = await (await composioSession()).execute('ODD_RESULT', { kind: 'normalized' });
    expect(viaComposio).toMatchObject({ data: normalizedJson, error: null });

    const cell = await mcpCall('TOOLMUX_WORKBENCH', {
      code: `return (await toolmux.execute('ODD_RESULT', { kind: 'normalized' })).data;`,
    });
    expect(JSON.parse(text(cell)).result).toEqual(normalizedJson);

    const [entry] = (await session.logs({ limit: 1 })).items;
    expect(entry!.status).toBe('success');
  });

  it('a plain result (100 levels deep) comes back as it was', async () => {
    const value = results.plain!();
    expect((await session.execute('ODD_RESULT', { kind: 'plain' })).data).toEqual(value);
    expect((await rest('plain')).json).toMatchObject({ successful: true, data: value });
  });
});
