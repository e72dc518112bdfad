import { request as httpRequest } from 'node:http';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { SLICED_PARSE_FROM } from '@toolmux/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_BODY_DEPTH } from '../read-body.js';
import { createServer, type ToolMuxServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

/**
 * Large bodies are parsed a slice at a time and large answers serialised a slice at a time (issue
 * "Hardening", item 2): over HTTP, what the tool receives is what JSON.parse makes of the body, the
 * answer is what JSON.stringify makes of the result, and broken or too deep JSON is refused as before.
 */

/** The arguments a tool received, by call. */
const received: unknown[] = [];

function echoToolkit() {
  return defineToolkit({
    slug: 'echo',
    description: 'Echo',
    tools: [
      defineTool({
        slug: 'ECHO_PAYLOAD',
        description: 'Returns its payload',
        inputSchema: z.object({ payload: z.unknown() }),
        execute: async ({ payload }) => {
          received.push(payload);
          return { echoed: payload };
        },
      }),
    ],
  });
}

/**
 * JSON text of an object of 26,000 keys (about 1 MB) with what a parser can get wrong: `__proto__`,
 * a repeated key, escapes of every kind (a lone surrogate too), -0, numbers past double precision
 * and integer-like keys, which objects order first.
 */
function wideText(): string {
  const members = Array.from(
    { length: 26_000 },
    (_, index) => `"author_${index}_x":"auth value ${index} \\u00e9\\ud800\\n\\"q\\" \\/ 😀"`,
  );
  members.splice(100, 0, '"__proto__":{"polluted":true}', '"-0":-0', '"big":12345678901234567890123');
  members.splice(
    5_000,
    0,
    '"author_3_x":"repeated: the last value wins"',
    '"7":1.5e-400',
    '"42":[1e308,-1e-7]',
  );
  return `{${members.join(',')}}`;
}

/** The same JSON value to the last detail: -0, prototypes, key order, own data properties. */
function identical(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keysA = Reflect.ownKeys(a);
  const keysB = Reflect.ownKeys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every(
      (key, index) =>
        key === keysB[index] &&
        identical(
          Object.getOwnPropertyDescriptor(a, key)?.value,
          Object.getOwnPropertyDescriptor(b, key)?.value,
        ),
    )
  );
}

describe('large JSON bodies and answers', () => {
  let server: ToolMuxServer;
  let mux: ToolMux;
  let sessionId: string;
  let mcpAuthorization: string;
  const logger = recordingLogger();

  beforeAll(async () => {
    mux = new ToolMux({ toolkits: [echoToolkit()], store: ':memory:', logger });
    server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger, bodyLimit: 8 * 1024 * 1024 });
    const created = await post(
      '/api/v1/sessions',
      JSON.stringify({ user_id: 'user_1', config: { toolkits: ['echo'] } }),
    );
    sessionId = created.json.session_id;
    mcpAuthorization = created.json.mcp.headers.Authorization;
  });
  afterAll(() => mux.close());

  async function post(path: string, body: string, headers: Record<string, string> = {}) {
    const response = await server.fetch(
      new Request(`http://localhost${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
        body,
      }),
    );
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  }

  function mcp(body: string) {
    return post(`/mcp/${sessionId}`, body, {
      accept: 'application/json, text/event-stream',
      authorization: mcpAuthorization,
    });
  }

  it('a 1 MB REST body of 26,000 keys reaches the tool as JSON.parse makes it, and comes back as JSON.stringify writes it', async () => {
    const wide = wideText();
    const body = `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide}}}`;
    expect(body.length).toBeGreaterThan(Math.max(SLICED_PARSE_FROM, 1_000_000));
    received.length = 0;
    const answer = await post(`/api/v1/sessions/${sessionId}/execute`, body);
    expect(answer.status).toBe(200);
    const expected = JSON.parse(wide);
    expect(received).toHaveLength(1);
    expect(identical(received[0], expected)).toBe(true);
    expect(Object.getPrototypeOf(received[0])).toBe(Object.prototype);
    expect(Object.hasOwn(received[0] as object, '__proto__')).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    const result = JSON.parse(answer.text);
    expect(answer.text).toBe(
      JSON.stringify({ successful: true, data: { echoed: expected }, error: null, log_id: result.log_id }),
    );
  });

  it('a 1 MB MCP tools/call reaches the tool as JSON.parse makes it', async () => {
    const wide = wideText();
    received.length = 0;
    const answer = await mcp(
      `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ECHO_PAYLOAD","arguments":{"payload":${wide}}}}`,
    );
    expect(answer.status).toBe(200);
    const expected = JSON.parse(wide);
    expect(identical(received[0], expected)).toBe(true);
    expect(answer.json.id).toBe(7);
    expect(answer.json.result.content[0].text).toBe(JSON.stringify({ echoed: expected }));
  });

  it('broken large JSON is still a 400 INVALID_REQUEST (REST) and a parse error (MCP), wherever it breaks', async () => {
    const wide = wideText();
    const broken = [
      `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide}}`, // cut short
      `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide.slice(0, -1)},}}}`, // trailing comma
      `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide.replace('"author_20000_x"', 'author_20000_x')}}}`,
      `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide.replace('\\n', '\n')}}}`, // raw control character
      `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${wide}}} x`,
    ];
    for (const body of broken) {
      expect(() => JSON.parse(body)).toThrow(SyntaxError);
      const rest = await post(`/api/v1/sessions/${sessionId}/execute`, body);
      expect(rest.status).toBe(400);
      expect(rest.json.error.code).toBe('INVALID_REQUEST');
      expect(rest.json.error.message).toMatch(/^The request body is not valid JSON \(/);
      const overMcp = await mcp(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${body}}`);
      expect(overMcp.status).toBe(400);
      expect(overMcp.json.error.code).toBe(-32700);
    }
    expect(logger.errors).toEqual([]);
  });

  it('a large body sent over HTTP in pieces cut inside UTF-8 characters is decoded whole, with or without a Content-Length; over the limit it is a 413', async () => {
    const running = await createServer({
      toolmux: mux,
      apiKey: TEST_API_KEY,
      logger,
      bodyLimit: 2 * 1024 * 1024,
    }).serve({ port: 0, hostname: '127.0.0.1' });
    try {
      const send = (bytes: Buffer, chunked: boolean) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const request = httpRequest(`${running.url}/api/v1/sessions/${sessionId}/execute`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TEST_API_KEY}`,
              'content-type': 'application/json',
              ...(chunked ? {} : { 'content-length': String(bytes.length) }),
            },
          });
          request.on('response', (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (piece: string) => {
              text += piece;
            });
            response.on('end', () => resolve({ status: response.statusCode!, text }));
          });
          request.on('error', reject);
          // pieces of 7 KB and 3 bytes: most end inside a character of 2, 3 or 4 bytes
          for (let at = 0; at < bytes.length; at += 7 * 1024 + 3)
            request.write(bytes.subarray(at, at + 7 * 1024 + 3));
          request.end();
        });
      // over a megabyte: decoded in several pieces of 512 KB, which end inside characters too
      const payload = {
        text: 'é€😀 "q" \\ \n'.repeat(70_000),
        list: Array.from({ length: 2_000 }, (_, i) => `ü${i}`),
      };
      const bytes = Buffer.from(JSON.stringify({ tool_slug: 'ECHO_PAYLOAD', arguments: { payload } }));
      expect(bytes.length).toBeGreaterThan(SLICED_PARSE_FROM);
      for (const chunked of [false, true]) {
        received.length = 0;
        const answer = await send(bytes, chunked);
        expect(answer.status, answer.text.slice(0, 200)).toBe(200);
        expect(received).toEqual([payload]);
        expect(JSON.parse(answer.text).data).toEqual({ echoed: payload });
      }
      expect(bytes.length).toBeGreaterThan(1024 * 1024);
      const over = Buffer.concat([bytes, Buffer.alloc(2 * 1024 * 1024, ' ')]);
      for (const chunked of [false, true]) {
        const answer = await send(over, chunked);
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.text).error.code).toBe('REQUEST_TOO_LARGE');
      }
    } finally {
      await running.close();
    }
  });

  it('large JSON nested past the limit is refused while parsing with its code, REST and MCP', async () => {
    const padding = `"padding":"${'x'.repeat(SLICED_PARSE_FROM)}"`;
    for (const depth of [MAX_BODY_DEPTH, 5_000, 200_000]) {
      const deep = `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
      const body = `{${padding},"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":${deep}}}`;
      const rest = await post(`/api/v1/sessions/${sessionId}/execute`, body);
      expect(rest.status).toBe(400);
      expect(rest.json.error.code).toBe('INVALID_REQUEST');
      expect(rest.json.error.message).toMatch(new RegExp(`more than ${MAX_BODY_DEPTH} levels deep`));
      const overMcp = await mcp(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${body}}`);
      expect(overMcp.status).toBe(400);
      expect(overMcp.json.error.code).toBe(-32600);
      expect(overMcp.text).toContain('levels deep');
    }
    // within the limit, a large body is parsed and its arguments are checked by core
    const nested = `${'['.repeat(MAX_BODY_DEPTH - 4)}${']'.repeat(MAX_BODY_DEPTH - 4)}`;
    const within = `{"tool_slug":"ECHO_PAYLOAD","arguments":{"payload":["${'x'.repeat(SLICED_PARSE_FROM)}",${nested}]}}`;
    const answer = await post(`/api/v1/sessions/${sessionId}/execute`, within);
    expect(answer.status, answer.text.slice(0, 300)).toBe(200);
    expect(answer.json).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
  });
});
