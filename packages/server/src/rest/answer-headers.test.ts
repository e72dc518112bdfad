import { request } from 'node:http';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServer, type RunningServer } from '../server.js';
import { TEST_API_KEY } from '../test-helpers.js';

/**
 * A REST answer is made with its request id among its headers from the start (plain headers that
 * Node's adapter writes as they are), and a route's abort signal is made only when it reads it. What
 * a client sees must not change: one `x-request-id`, the JSON content type, a Content-Length that is
 * the body's for a streamed answer, and a call whose client went away is aborted.
 */

const silent = { debug() {}, warn() {}, error() {} };
let aborted: (reason: unknown) => void;
const abortSeen = new Promise<unknown>((resolve) => {
  aborted = resolve;
});
let started: () => void;
const waitStarted = new Promise<void>((resolve) => {
  started = resolve;
});

const toolkit = defineToolkit({
  slug: 'answers',
  description: 'Tools for answer tests.',
  tools: [
    defineTool({
      slug: 'ANSWERS_LARGE',
      description: 'Returns 200,000 characters.',
      inputSchema: z.object({}),
      execute: () => ({ text: 'é'.repeat(200_000) }),
    }),
    defineTool({
      slug: 'ANSWERS_WAIT',
      description: 'Waits until the call is aborted.',
      inputSchema: z.object({}),
      execute: (_args, context) =>
        new Promise((_, reject) => {
          started();
          context.signal.addEventListener('abort', () => {
            aborted(context.signal.reason);
            reject(new Error('aborted'));
          });
        }),
    }),
  ],
});

let mux: ToolMux;
let running: RunningServer;
let sessionId: string;

beforeAll(async () => {
  mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: silent });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: silent }).serve({ port: 0 });
  sessionId = (await mux.create('answers_user', { toolkits: ['answers'] })).sessionId;
});

afterAll(async () => {
  await running.close({ timeoutMs: 1000 });
  await mux.close();
});

interface RawAnswer {
  status: number;
  rawHeaders: string[];
  body: Buffer;
}

/** A request over HTTP with the API key (or, `withKey` false, without it), answered as raw bytes. */
function send(
  method: string,
  path: string,
  body?: unknown,
  requestId?: string,
  withKey = true,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${running.url}${path}`,
      {
        method,
        headers: {
          ...(withKey ? { authorization: `Bearer ${TEST_API_KEY}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            rawHeaders: response.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Every value of a header, by its name in any case. */
function headerValues(answer: RawAnswer, name: string): string[] {
  const values: string[] = [];
  for (let index = 0; index < answer.rawHeaders.length; index += 2) {
    if (answer.rawHeaders[index]!.toLowerCase() === name) values.push(answer.rawHeaders[index + 1]!);
  }
  return values;
}

describe('REST answers', () => {
  it('carry one x-request-id (the sane one sent, else a new one) and the JSON content type', async () => {
    await (await mux.use(sessionId)).execute('ANSWERS_LARGE', {});
    const page = await send('GET', `/api/v1/sessions/${sessionId}/logs?limit=5`, undefined, 'req-logs-1');
    expect(page.status).toBe(200);
    expect(headerValues(page, 'x-request-id')).toEqual(['req-logs-1']);
    expect(headerValues(page, 'content-type')).toEqual(['application/json']);
    expect(JSON.parse(page.body.toString('utf8')).items).toHaveLength(1);

    const fresh = await send('GET', '/api/v1/toolkits', undefined, 'not sane"');
    expect(fresh.status).toBe(200);
    const [id, ...more] = headerValues(fresh, 'x-request-id');
    expect(more).toEqual([]);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const refused = await send('GET', `/api/v1/sessions/ses_${'0'.repeat(38)}/logs`, undefined, 'req-404');
    expect(refused.status).toBe(404);
    expect(headerValues(refused, 'x-request-id')).toEqual(['req-404']);
  });

  it('errors, 405s and /healthz carry one x-request-id, the JSON type and their own headers', async () => {
    const unauthorized = await send('GET', '/api/v1/toolkits', undefined, 'req-401', false);
    expect(unauthorized.status).toBe(401);
    expect(headerValues(unauthorized, 'www-authenticate')).toEqual(['Bearer realm="toolmux"']);
    expect(headerValues(unauthorized, 'x-request-id')).toEqual(['req-401']);
    expect(headerValues(unauthorized, 'content-type')).toEqual(['application/json']);
    expect(JSON.parse(unauthorized.body.toString('utf8')).error.code).toBe('UNAUTHORIZED');

    const notAllowed = await send('PUT', `/api/v1/sessions/${sessionId}`, undefined, 'req-405');
    expect(notAllowed.status).toBe(405);
    expect(headerValues(notAllowed, 'allow')).toEqual(['DELETE, GET, HEAD, PATCH']);
    expect(headerValues(notAllowed, 'x-request-id')).toEqual(['req-405']);
    expect(headerValues(notAllowed, 'content-length')).toEqual([String(notAllowed.body.length)]);

    const health = await send('GET', '/healthz', undefined, 'req-health');
    expect(health.status).toBe(200);
    expect(headerValues(health, 'x-request-id')).toEqual(['req-health']);
    expect(headerValues(health, 'content-type')).toEqual(['application/json']);
    expect(JSON.parse(health.body.toString('utf8'))).toEqual({ status: 'ok' });
  });

  it('a streamed answer has the Content-Length of its UTF-8 bytes, and the request id', async () => {
    const answer = await send(
      'POST',
      `/api/v1/sessions/${sessionId}/execute`,
      { tool_slug: 'ANSWERS_LARGE', arguments: {} },
      'req-large-1',
    );
    expect(answer.status).toBe(200);
    expect(headerValues(answer, 'content-length')).toEqual([String(answer.body.length)]);
    expect(headerValues(answer, 'transfer-encoding')).toEqual([]);
    expect(headerValues(answer, 'x-request-id')).toEqual(['req-large-1']);
    expect(JSON.parse(answer.body.toString('utf8')).data.text).toBe('é'.repeat(200_000));
  });

  it("aborts a call's signal when its client goes away", async () => {
    const outgoing = request(`${running.url}/api/v1/sessions/${sessionId}/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    });
    outgoing.on('error', () => {});
    outgoing.end(JSON.stringify({ tool_slug: 'ANSWERS_WAIT', arguments: {} }));
    await waitStarted;
    outgoing.destroy();
    const reason = await Promise.race([
      abortSeen,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the call was not aborted')), 5000)),
    ]);
    expect(reason).toBeDefined();
  });
});
