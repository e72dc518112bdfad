import { Agent, request as httpRequest } from 'node:http';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { type LongestTurn, longestTurn as longestTurnOf, turnReport } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServer, type RunningServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * No route lets one request's large answer hold the event loop that other requests wait for (the
 * issue's budget: 20 ms of event-loop delay for a concurrent request). A real server on loopback
 * answers a tool's result of 8 MB (tool results have no size limit) on every surface that hands a
 * result on, while a concurrent client probes `GET /healthz` (server and client share the process).
 * What is held to a bound is the longest turn of the event loop in CPU time of the thread, which a
 * loaded machine inflates far less than the event-loop delay (`monitorEventLoopDelay`, given in the
 * failure message). Each surface is compared with the same result through
 * `POST /api/v1/sessions/:id/execute`, whose answer is written a slice at a time; the best of three
 * runs counts.
 */

const MB = 1024 * 1024;

/** About `bytes` of JSON as an array of small records (the shape that is slowest to write). */
function records(bytes: number) {
  return Array.from({ length: Math.floor(bytes / 60) }, (_, index) => ({
    token: `tok_${index}`,
    name: 'auth auth auth auth',
  }));
}

/** Made once: the tool hands back the same value, so its own work is not measured. */
let bigResult: unknown;

const big = defineToolkit({
  slug: 'big',
  description: 'Large results',
  tools: [
    defineTool({
      slug: 'BIG_RESULT',
      description: 'Returns 8 MB of JSON',
      inputSchema: z.object({}),
      execute: async () => bigResult,
    }),
    defineTool({
      slug: 'BIG_MANY_KEYS',
      description: 'Takes arguments of many keys',
      inputSchema: z.record(z.string(), z.number()),
      execute: async () => ({ ok: true }),
    }),
    defineTool({
      slug: 'BIG_SHAPED_RESULT',
      description: 'Returns 8 MB of JSON under an output schema, which MCP checks it against',
      inputSchema: z.object({}),
      outputSchema: z.object({ rows: z.array(z.object({ token: z.string(), name: z.string() })) }),
      execute: async () => bigResult as never,
    }),
  ],
});

/** An output schema of `width` properties (a remote client's declared tool's), unlike any other (`salt`). */
function wideOutputSchema(width: number, salt: string) {
  return {
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: width }, (_, index) => [
        `${salt}_${index}`,
        index % 2
          ? { type: 'integer', minimum: 0 }
          : { type: 'object', properties: { a: { type: 'string' } } },
      ]),
    ),
  };
}

const agent = new Agent({ keepAlive: true });

interface Answer {
  status: number;
  bytes: number;
  text(): string;
}

/** A request over HTTP; the answer is kept as bytes (parsing it would be the client's turn, not the server's). */
function send(url: string, method: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method,
      agent,
      headers: {
        ...(bytes ? { 'content-type': 'application/json', 'content-length': String(bytes.length) } : {}),
        ...headers,
      },
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode!, bytes: size, text: () => Buffer.concat(chunks).toString() }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(bytes);
  });
}

/**
 * While `run` is answered and a concurrent client probes `GET /healthz`: the longest turn in CPU time
 * of the thread and the longest event-loop delay (see core's `longestTurn`; the best of up to three
 * runs, a run whose longest turn is at or under `bound` ends the search).
 */
async function longestTurn(url: string, run: () => Promise<Answer>, bound = 0): Promise<LongestTurn<Answer>> {
  return longestTurnOf(async () => {
    let done = false;
    const probe = (async () => {
      while (!done) await send(`${url}/healthz`, 'GET', undefined, {});
    })();
    try {
      return await run();
    } finally {
      done = true;
      await probe;
    }
  }, bound);
}

describe('large answers and the event loop', () => {
  let mux: ToolMux;
  let server: RunningServer;
  let sessionId: string;
  let mcpAuthorization: string;
  const rest = { authorization: `Bearer ${TEST_API_KEY}` };
  const composio = { 'x-api-key': TEST_API_KEY };
  /**
   * The longest turn (CPU ms) a surface may take: three times what `/api/v1` takes in this run, at
   * least 45 ms. Before the fix, Composio's execute took 95 ms and MCP's tools/call 60 ms; after
   * it, 12–26 ms and about 30 ms (REST: 7–11 ms).
   */
  let bound: number;
  /**
   * MCP's tools/call writes the same result as `/api/v1` does, once more as a JSON string (the text
   * content): at most twice what `/api/v1` takes in this run, at least 20 ms. Before the fix it
   * took 28–35 ms, 25–40 ms of which was one call joining the result's 8 MB of JSON text into one
   * string before it was escaped into the answer; after it, 10–12 ms (REST: 8–10 ms, load 20–30).
   */
  let mcpBound: number;

  beforeAll(async () => {
    bigResult = { rows: records(8 * MB) };
    mux = new ToolMux({ toolkits: [big], store: ':memory:' });
    server = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port: 0 });
    const created = JSON.parse(
      (
        await send(
          `${server.url}/api/v1/sessions`,
          'POST',
          { user_id: 'user_1', config: { toolkits: ['big'] } },
          rest,
        )
      ).text(),
    );
    sessionId = created.session_id;
    mcpAuthorization = created.mcp.headers.Authorization;
    // warm: the first call compiles the paths
    await send(
      `${server.url}/api/v1/sessions/${sessionId}/execute`,
      'POST',
      { tool_slug: 'BIG_RESULT' },
      rest,
    );
    const baseline = await longestTurn(server.url, () =>
      send(`${server.url}/api/v1/sessions/${sessionId}/execute`, 'POST', { tool_slug: 'BIG_RESULT' }, rest),
    );
    expect(baseline.value.status).toBe(200);
    bound = Math.max(45, 3 * baseline.turnMs);
    mcpBound = Math.max(20, 2 * baseline.turnMs);
  });
  afterAll(async () => {
    await server?.close();
    await mux?.close();
  });

  const expectedData = () => JSON.stringify(bigResult);

  it("Composio's execute answers 8 MB without holding the event loop", async () => {
    const measured = await longestTurn(
      server.url,
      () =>
        send(
          `${server.url}/api/v3.1/tool_router/session/${sessionId}/execute`,
          'POST',
          { tool_slug: 'BIG_RESULT', arguments: {} },
          composio,
        ),
      bound,
    );
    expect(measured.value.status).toBe(200);
    const text = measured.value.text();
    expect(text.startsWith(`{"data":${expectedData()},"error":null,"log_id":"log_`)).toBe(true);
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(bound);
  });

  const bigCall = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'BIG_RESULT', arguments: {} },
  });
  /** The longest turn while the session's MCP endpoint answers `body`, checked against `limit`. */
  const mcpTurn = async (
    body: unknown,
    headers: Record<string, string> = {},
    session = { id: sessionId, authorization: mcpAuthorization },
    limit = mcpBound,
  ) => {
    const measure = () =>
      longestTurn(
        server.url,
        () =>
          send(`${server.url}/mcp/${session.id}`, 'POST', body, {
            authorization: session.authorization,
            accept: 'application/json, text/event-stream',
            ...headers,
          }),
        limit,
      );
    let measured = await measure();
    // over the limit, once more: with CI's suites in parallel, a turn of 21.5 ms was seen against a
    // limit of 20 (twice the REST answer's turn measured earlier); a turn that is the answer's own
    // is over it both times
    if (measured.turnMs > limit) {
      const again = await measure();
      if (again.turnMs < measured.turnMs) measured = again;
    }
    expect(measured.value.status).toBe(200);
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(limit);
    return JSON.parse(measured.value.text());
  };

  it("MCP's tools/call answers 8 MB without holding the event loop", async () => {
    expect(await mcpTurn(bigCall(3))).toEqual({
      jsonrpc: '2.0',
      id: 3,
      result: { content: [{ type: 'text', text: expectedData() }] },
    });
  });

  // The result is checked against the output schema before it is sent as structuredContent: in one
  // turn of 250–300 ms before, a slice at a time since; and the check's copy of the result listed
  // the keys of its array of 140,000 records in one call, a turn of 25–32 ms (3× /api/v1's) until
  // the check of an output schema without defaults made no copy. Now held to `mcpBound`, as the
  // answer without an output schema is.
  it("MCP's tools/call checks 8 MB against the tool's output schema without holding the event loop", async () => {
    // a session that lists the tool (its output schema is the listed tool's)
    const created = JSON.parse(
      (
        await send(
          `${server.url}/api/v1/sessions`,
          'POST',
          { user_id: 'user_1', config: { toolkits: ['big'], sessionPreset: 'DIRECT_TOOLS' } },
          rest,
        )
      ).text(),
    );
    const answer = await mcpTurn(
      { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'BIG_SHAPED_RESULT', arguments: {} } },
      {},
      { id: created.session_id, authorization: created.mcp.headers.Authorization },
    );
    expect(answer.result.isError).toBeUndefined();
    expect(answer.result.structuredContent).toEqual(bigResult);
  });

  /**
   * The longest turn while a new session that declares `count` custom tools (output schemas of
   * `width` properties, not seen before) is listed over MCP, and the tools listed.
   */
  const declaredListingTurn = async (count: number, width: number) => {
    let attempt = 0;
    const measured = await longestTurnOf(async () => {
      const salt = `f${count}_${attempt++}`;
      const customTools = Array.from({ length: count }, (_, index) => ({
        slug: `CRM_OUTPUT_${index}`,
        name: `Output ${index}`,
        description: 'A declared tool with an output schema.',
        toolkit: '',
        inputSchema: { type: 'object', properties: {} },
        outputSchema: wideOutputSchema(width, `${salt}_${index}`),
        annotations: {},
        tags: [],
      }));
      const created = JSON.parse(
        (
          await send(
            `${server.url}/api/v1/sessions`,
            'POST',
            { user_id: 'user_1', config: { sessionPreset: 'DIRECT_TOOLS', experimental: { customTools } } },
            rest,
          )
        ).text(),
      );
      return send(
        `${server.url}/mcp/${created.session_id}`,
        'POST',
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { authorization: created.mcp.headers.Authorization, accept: 'application/json, text/event-stream' },
      );
    }, bound);
    const { tools } = JSON.parse(measured.value.text()).result as {
      tools: Array<{ name: string; outputSchema?: { properties: object } }>;
    };
    return { measured, tools: tools.filter((tool) => tool.name.startsWith('CRM_OUTPUT_')) };
  };

  // A remote client declares its custom tools with each session, output schema and all: the first
  // listing compiled a schema of 2,000 properties in one turn of 0.3–0.5 s, now the validation thread does
  it("MCP's tools/list compiles a declared tool's large output schema without holding the event loop", async () => {
    const { measured, tools } = await declaredListingTurn(1, 2_000);
    expect(Object.keys(tools[0]!.outputSchema!.properties)).toHaveLength(2_000);
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(bound);
  });

  // and each of its tools' schemas, small enough for the main thread (at most 48 subschemas), one
  // after the other in the same turn: 150 of 30 properties (46 subschemas) were one turn of 0.4 s
  it("MCP's tools/list compiles many declared tools' output schemas a slice at a time", async () => {
    const { measured, tools } = await declaredListingTurn(150, 30);
    // the first page (the whole session's tools are compiled for it)
    expect(tools.length).toBeGreaterThanOrEqual(50);
    expect(tools.every((tool) => Object.keys(tool.outputSchema!.properties).length === 30)).toBe(true);
    expect(measured.turnMs, turnReport(measured)).toBeLessThanOrEqual(bound);
  });

  /** An object of `count` keys (`k0`: 0, …): under the body limit of 1 MiB for 80,000. */
  const manyKeys = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 0]));

  // The SDK's schemas check every key of a tools/call's arguments (a record), and copy every key of a
  // message's params and _meta (loose objects), each in one turn: with 80,000 keys, 105–115 ms
  // (arguments, _meta) and 50–56 ms (params), against 28–35 ms for /api/v1's call with those
  // arguments (parsing an object of 80,000 keys is most of it). Now only the tool's input schema
  // lists the arguments' keys, once, as for /api/v1, and nothing walks params or _meta: 27–35 ms.
  it("MCP's tools/call checks a message with 80,000 keys in arguments, params or _meta as /api/v1 does", async () => {
    const keys = manyKeys(80_000);
    const restTurn = await longestTurn(server.url, () =>
      send(
        `${server.url}/api/v1/sessions/${sessionId}/execute`,
        'POST',
        { tool_slug: 'BIG_MANY_KEYS', arguments: keys },
        rest,
      ),
    );
    expect(JSON.parse(restTurn.value.text()).data).toEqual({ ok: true });
    // twice one measured REST turn: 1.5 times it failed under CI's load (49 ms against 48.8), while
    // the walk this guards against took three times as long or more
    const limit = Math.max(mcpBound, 2 * restTurn.turnMs);
    const call = (params: object) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params });
    for (const params of [
      { name: 'BIG_MANY_KEYS', arguments: keys },
      { name: 'BIG_MANY_KEYS', arguments: {}, _meta: keys },
      { name: 'BIG_MANY_KEYS', arguments: {}, ...keys },
    ]) {
      const answer = await mcpTurn(call(params), {}, undefined, limit);
      expect(answer.result).toEqual({ content: [{ type: 'text', text: '{"ok":true}' }] });
    }
  });

  // A batch's answer is limited (4 MiB by default): the 8 MB response is measured in pieces and
  // refused without being joined into one string first (that join alone held the loop 25–40 ms).
  it("an MCP batch refuses a tools/call's 8 MB response without holding the event loop", async () => {
    const replies = (await mcpTurn([bigCall(4), { jsonrpc: '2.0', id: 5, method: 'ping' }], {
      'mcp-protocol-version': '2025-03-26',
    })) as { id: number; error?: { data?: { code?: string } } }[];
    expect(replies.map((reply) => [reply.id, reply.error?.data?.code])).toEqual([
      [4, 'RESPONSE_TOO_LARGE'],
      [5, 'RESPONSE_TOO_LARGE'],
    ]);
  });
});
