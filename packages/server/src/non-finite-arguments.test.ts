import { defineTool, defineToolkit, type Session } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * A JSON number too large for a double (`1e999`, `-1e999`) reads as ±Infinity, and a caller in
 * JavaScript may pass NaN or ±Infinity: JSON has no number for them, so the execution log (JSON)
 * would store `null` where the tool had Infinity, and Ajv's `number` takes them. Every entry point
 * refuses them alike, before the tool runs, TOOL_ARGUMENTS_INVALID naming the path: REST (a session's
 * execute, `/tools/execute`, a multi-execute), MCP `tools/call`, workbench `toolmux.execute` (whose
 * JSON wrote them as null, so the tool ran without them), a remote-mode session, and a remote-mode
 * custom tool run in the client.
 */

/** What the tools received. */
const received: unknown[] = [];

function probeToolkit(slug: string) {
  return defineToolkit({
    slug,
    description: 'Probe',
    tools: [
      defineTool({
        slug: `${slug.toUpperCase()}_NUMBER`,
        description: 'Takes a number (JSON Schema: Ajv takes Infinity for it)',
        inputSchema: {
          type: 'object',
          properties: { n: { type: 'number' }, rows: { type: 'array' } },
          additionalProperties: false,
        },
        execute: async (input) => {
          received.push(input);
          return { ok: true };
        },
      }),
    ],
  });
}

let server: TestServer;
let session: Session;
let remote: Session;

beforeAll(async () => {
  server = await startTestServer({ toolkits: [probeToolkit('probe')] });
  session = await server.embedded.create('user_1', { toolkits: ['probe'], workbench: {} });
  remote = await server.remote().create('user_1', {
    toolkits: ['probe', 'local'],
    experimental: { customToolkits: [probeToolkit('local')] },
  });
});
afterAll(() => server?.close());

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, json: (await response.json()) as any };
}

const refusal = (path: string, value: string) =>
  `The arguments of PROBE_NUMBER are not JSON data: ${path} is ${value}, which JSON has no number for`;

describe('non-finite numbers in tool arguments', () => {
  it('REST: 1e999 and -1e999 in a body, small or large, are refused naming the path', async () => {
    // past 64 KB a body is parsed a slice at a time: the same number
    const padding = JSON.stringify('x'.repeat(70_000));
    for (const [number, shown] of [
      ['1e999', 'Infinity'],
      ['-1e999', '-Infinity'],
    ] as const) {
      for (const rows of ['[]', `[${padding}]`]) {
        received.length = 0;
        const run = await post(
          `/api/v1/sessions/${session.sessionId}/execute`,
          `{"tool_slug":"PROBE_NUMBER","arguments":{"rows":${rows},"n":${number}}}`,
        );
        expect(run.status).toBe(200);
        expect(run.json).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
        expect(run.json.error).toContain(refusal('arguments.n', shown));
        const direct = await post(
          '/api/v1/tools/execute',
          `{"user_id":"user_1","tool_slug":"PROBE_NUMBER","arguments":{"rows":[[${number}]]}}`,
        );
        expect(direct.json).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
        expect(direct.json.error).toContain(refusal('arguments.rows[0][0]', shown));
        const multi = await post(
          `/api/v1/sessions/${session.sessionId}/execute`,
          `{"tool_slug":"TOOLMUX_MULTI_EXECUTE_TOOL","arguments":{"tools":[{"tool_slug":"PROBE_NUMBER","arguments":{"n":${number}}}]}}`,
        );
        expect(multi.json).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
        expect(multi.json.error).toContain(`arguments.tools[0].arguments.n is ${shown}`);
        expect(received).toEqual([]);
      }
    }
    // a number field of the API's own schema (not a tool's arguments) is a 400 naming it
    const created = await post(
      '/api/v1/sessions',
      '{"user_id":"user_1","config":{"workbench":{"timeoutMs":1e999}}}',
    );
    expect(created.status).toBe(400);
    expect(created.json.error.code).toBe('INVALID_REQUEST');
    expect(created.json.error.message).toContain('timeoutMs');
  });

  it('MCP tools/call: refused as a failed result naming the path', async () => {
    received.length = 0;
    const response = await fetch(`${server.url}/mcp/${session.sessionId}`, {
      method: 'POST',
      headers: {
        ...session.mcp.headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"PROBE_NUMBER","arguments":{"n":-1e999}}}',
    });
    const text = await response.text();
    expect(text).toContain('"isError":true');
    expect(text).toContain(refusal('arguments.n', '-Infinity'));
    expect(received).toEqual([]);
  });

  it('workbench toolmux.execute: refused naming the path, not run with null for it', async () => {
    received.length = 0;
    for (const [value, shown] of [
      ['Infinity', 'Infinity'],
      ['-Infinity', '-Infinity'],
      ['NaN', 'NaN'],
    ] as const) {
      const cell = await session.execute('TOOLMUX_WORKBENCH', {
        code: `const r = await toolmux.execute('PROBE_NUMBER', { rows: [1, { deep: [${value}] }] });
               return { successful: r.successful, error: r.error };`,
      });
      expect(cell.successful, JSON.stringify(cell)).toBe(true);
      const { result } = cell.data as { result: { successful: boolean; error: string } };
      expect(result.successful).toBe(false);
      expect(result.error).toContain(`arguments.rows[1].deep[0] is ${shown}`);
    }
    // with options (the other form of the call) and past a toJSON, a shared object and a null before it
    const shared = await session.execute('TOOLMUX_WORKBENCH', {
      code: `const point = { at: 1 };
             const r = await toolmux.execute('PROBE_NUMBER', { rows: [null, point, point, { toJSON: () => [2, -Infinity] }] }, { account: 'nobody' });
             return r.error;`,
    });
    expect((shared.data as { result: string }).result).toContain('arguments.rows[3][1] is -Infinity');
    // a cell whose arguments only write null where they had null still runs the tool
    const plain = await session.execute('TOOLMUX_WORKBENCH', {
      code: `return (await toolmux.execute('PROBE_NUMBER', { rows: [null, 'null', 1] })).successful;`,
    });
    expect(plain.data).toMatchObject({ result: true });
    expect(received).toEqual([{ rows: [null, 'null', 1] }]);
  });

  it('remote mode: a server tool and a custom tool run in the client refuse them alike', async () => {
    received.length = 0;
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const onServer = await remote.execute('PROBE_NUMBER', { rows: [{ n: value }] });
      expect(onServer).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(onServer.error).toContain(refusal('arguments.rows[0].n', String(value)));
      const local = await remote.execute('LOCAL_NUMBER', { n: value });
      expect(local).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(local.error).toContain(`arguments.n is ${String(value)}`);
    }
    expect(received).toEqual([]);
  });

  it('remote mode: a BigInt, which JSON cannot write, is refused as embedded and logged, not "server unreachable"', async () => {
    // the request's JSON threw, and the call was answered SERVER_UNREACHABLE ("Check baseUrl and
    // that the server runs"), with no log entry
    received.length = 0;
    const big = 12345678901234567890n;
    const embedded = await session.execute('PROBE_NUMBER', { rows: [{ n: big }] });
    const onServer = await remote.execute('PROBE_NUMBER', { rows: [{ n: big }] });
    for (const result of [embedded, onServer]) {
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(result.error).toContain(
        'The arguments of PROBE_NUMBER are not JSON data: arguments.rows[0].n is a BigInt (12345678901234567890n), which JSON cannot carry',
      );
    }
    const logged = await remote.logs({ limit: 5 });
    expect(logged.items.find((item) => item.id === onServer.logId)).toMatchObject({
      errorCode: 'TOOL_ARGUMENTS_INVALID',
    });
    const local = await remote.execute('LOCAL_NUMBER', { n: 1n });
    expect(local).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(local.error).toContain('arguments.n is a BigInt (1n)');
    expect(received).toEqual([]);
  });
});
