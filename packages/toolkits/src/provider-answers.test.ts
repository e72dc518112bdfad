import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONSchema, Tool } from '@toolmux/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeApi, type FakeReply, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createExaToolkit } from './exa.js';
import { createFirecrawlToolkit } from './firecrawl.js';
import { createGithubToolkit } from './github.js';
import { createGmailToolkit } from './gmail.js';
import { createHackernewsToolkit } from './hackernews.js';
import { ApiError } from './http.js';
import { createLinearToolkit } from './linear.js';
import { createNotionToolkit } from './notion.js';
import { createSlackToolkit } from './slack.js';

// How a provider's failing answer reads to the model: what happened, and when to come back.

let api: FakeApi;
let github: ReturnType<typeof createGithubToolkit>;
const context = toolContext({ accessToken: 'gho_answers' });

beforeAll(async () => {
  api = await startFakeApi();
  github = createGithubToolkit({ baseUrl: api.url });
});
afterAll(() => api.close());

async function failureOf(reply: FakeReply): Promise<ApiError> {
  api.failNext(reply);
  const error = await run(github, 'GITHUB_GET_AUTHENTICATED_USER', {}, context).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

it("a 503 with Retry-After (seconds or an HTTP date) tells the model when to retry, and a 5xx's rate-limit reset header (GitHub sends one with every answer) does not", async () => {
  const seconds = await failureOf({
    status: 503,
    headers: { 'retry-after': '120' },
    body: { message: 'Down for maintenance' },
  });
  expect(seconds.message).toMatch(
    /Down for maintenance.*retry after 2 minutes \(at 20\d\d-.*Z\), not before\.$/,
  );
  expect(seconds.retryAfterSeconds).toBe(120);

  const date = await failureOf({
    status: 503,
    headers: { 'retry-after': new Date(Date.now() + 600_000).toUTCString() },
    body: 'Service Unavailable',
  });
  expect(date.message).toMatch(/retry after (9|10) minutes/);

  const reset = await failureOf({
    status: 502,
    headers: {
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3000),
    },
    body: { message: 'Server Error' },
  });
  expect(reset.message).toMatch(/retry in a little while\.$/);
  expect(reset.retryAfterSeconds).toBeUndefined();
});

it('a Retry-After or reset time past the last date JavaScript knows is read as a long wait, not an "Invalid time value" failure', async () => {
  const huge = await failureOf({
    status: 429,
    headers: { 'retry-after': '99999999999999' },
    body: { message: 'slow' },
  });
  expect(huge.status).toBe(429);
  expect(huge.message).toMatch(/rate limit reached .*Retry after 30 days \(at 20\d\d-.*Z\), not before\.$/);
  expect(huge.retryAfterSeconds).toBe(30 * 24 * 3600);

  const reset = await failureOf({
    status: 403,
    headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1e300' },
    body: { message: 'API rate limit exceeded' },
  });
  expect(reset.status).toBe(429);
  expect(reset.message).toContain('Retry after 30 days');
});

it('an answer that breaks off before its end (shorter than its Content-Length, or not the gzip it says it is) says so and to retry, not "unreadable answer: terminated"', async () => {
  const server = createServer((request, response) => {
    if (request.url === '/user') {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      response.write('{"login":"octo');
      setTimeout(() => response.destroy(), 20);
    } else {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      response.end('{"login":"not gzip"}');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const cut = createGithubToolkit({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    for (const slug of ['GITHUB_GET_AUTHENTICATED_USER', 'GITHUB_GET_USER']) {
      const error = await run(cut, slug, { username: 'octo' }, context).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, slug).toBeInstanceOf(ApiError);
      expect((error as ApiError).message, slug).toMatch(
        /^GitHub's answer for (authenticated user|user "octo") broke off before its end \(terminated: .+\): .* Retry;/,
      );
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

/** Input a tool's schema takes: each required field with a plain value of its type. */
function sampleInput(schema: JSONSchema | undefined, name = ''): unknown {
  if (!schema || typeof schema !== 'object') return 'abc';
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const variants = (schema.anyOf ?? schema.oneOf) as JSONSchema[] | undefined;
  if (variants) return sampleInput(variants[0], name);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'object' || schema.properties) {
    const properties = (schema.properties ?? {}) as Record<string, JSONSchema>;
    return Object.fromEntries(
      ((schema.required ?? []) as string[]).map((key) => [key, sampleInput(properties[key], key)]),
    );
  }
  if (type === 'array') return [sampleInput(schema.items as JSONSchema, name)];
  if (type === 'integer' || type === 'number') return Math.max(1, (schema.minimum as number) ?? 1);
  if (type === 'boolean') return true;
  if (/email|^to$/.test(name)) return 'someone@example.com';
  if (/url/i.test(name)) return 'https://example.com/';
  return 'x'.repeat(Math.max(3, (schema.minLength as number) ?? 0));
}

it('a successful answer that is no JSON object or array, or not the shape a tool reads, fails every built-in tool with an ApiError saying so, never a bare TypeError', async () => {
  let body = '';
  const server = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tools: Tool[] = [
    createGithubToolkit({ baseUrl }),
    createGmailToolkit({ baseUrl }),
    createSlackToolkit({ baseUrl }),
    createExaToolkit({ baseUrl }),
    createFirecrawlToolkit({ baseUrl }),
    createNotionToolkit({ baseUrl }),
    createLinearToolkit({ baseUrl }),
    createHackernewsToolkit({ baseUrl }),
  ].flatMap((toolkit) => toolkit.tools);
  const credentials = toolContext({ accessToken: 'tok_answers', apiKey: 'key_answers' });
  const bare: string[] = [];
  const messages = new Map<string, string>();
  let refused = 0;
  try {
    // empty, null, a bare string, a number: no data at all; an object or an array: the wrong shape
    // for many tools (a list where an object is read, a field missing)
    for (const answer of ['', 'null', '"<html>"', '5', '{}', '[]']) {
      body = answer;
      for (const tool of tools) {
        const validation = tool.validate(sampleInput(tool.inputSchema));
        if (!validation.success) continue;
        const error = await Promise.resolve(tool.execute(validation.value, credentials)).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        if (error instanceof ApiError) {
          refused++;
          messages.set(`${answer || "''"} ${tool.slug}`, error.message);
        } else if (error instanceof TypeError) bare.push(`${answer || "''"} ${tool.slug}: ${error.message}`);
      }
    }
  } finally {
    server.close();
  }
  // on the code before, 328 calls failed with TypeErrors such as "Cannot read properties of null"
  expect(bare).toEqual([]);
  expect(refused).toBeGreaterThan(300);
  expect(messages.get("'' GITHUB_GET_AUTHENTICATED_USER")).toBe(
    "GitHub answered authenticated user with an empty body (or null) and status 200, where its API answers a JSON object or array: the answer is not GitHub's (a proxy's, or the toolkit's base URL names another service) or GitHub failed. Retry later; if it goes on, tell the user.",
  );
  expect(messages.get('{} GITHUB_LIST_ISSUES')).toMatch(
    /^GITHUB_LIST_ISSUES could not read GitHub's answer \(.*is not a function\): GitHub answered in a shape this tool does not read, .* Retrying will not help; tell the user\.$/,
  );
  // Hacker News answers null for an item it does not have: still a 404 in words
  expect(messages.get('null HACKERNEWS_GET_ITEM')).toMatch(/item 1/);
});

it("a 403 that is a rate limit (GitHub's secondary limit with Retry-After or only its message, Google's rate-limit message, any provider's 403 with Retry-After) reads as a rate limit with its wait, not as a missing permission", async () => {
  const hourlyReset = String(Math.floor(Date.now() / 1000) + 3000);
  const secondary = {
    message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
  };
  const withWait = await failureOf({
    status: 403,
    headers: { 'retry-after': '60', 'x-ratelimit-remaining': '4990', 'x-ratelimit-reset': hourlyReset },
    body: secondary,
  });
  expect(withWait.status).toBe(429);
  expect(withWait.message).toMatch(
    /^GitHub rate limit reached \(429: You have exceeded a secondary rate limit\..*\)\. Retry after 60 seconds \(at 20\d\d-.*Z\), not before\.$/,
  );
  expect(withWait.retryAfterSeconds).toBe(60);

  // requests remain: the hourly reset is not when a secondary limit ends
  const messageOnly = await failureOf({
    status: 403,
    headers: { 'x-ratelimit-remaining': '4990', 'x-ratelimit-reset': hourlyReset },
    body: secondary,
  });
  expect(messageOnly.status).toBe(429);
  expect(messageOnly.message).toMatch(/rate limit reached .*\. Wait a minute before retrying\.$/);
  expect(messageOnly.retryAfterSeconds).toBeUndefined();

  // a short wait is waited out and the request sent again, as for a 429
  api.failNext({ status: 403, headers: { 'retry-after': '0' }, body: secondary });
  const afterRetry = await failureOf({ status: 404, body: { message: 'Not Found' } });
  expect(afterRetry.message).toMatch(/^GitHub found no authenticated user/);

  const gmail = createGmailToolkit({ baseUrl: api.url });
  api.failNext({
    status: 403,
    body: {
      error: {
        code: 403,
        message: 'User Rate Limit Exceeded',
        errors: [{ reason: 'rateLimitExceeded', message: 'User Rate Limit Exceeded' }],
        status: 'PERMISSION_DENIED',
      },
    },
  });
  await expect(run(gmail, 'GMAIL_GET_PROFILE', {}, context)).rejects.toThrow(
    /^Gmail rate limit reached \(429: User Rate Limit Exceeded.*\)\. Wait a minute before retrying\.$/,
  );

  const notion = createNotionToolkit({ baseUrl: api.url });
  api.failNext({ status: 403, headers: { 'retry-after': '600' }, body: { message: 'Slow down' } });
  await expect(run(notion, 'NOTION_LIST_USERS', {}, context)).rejects.toThrow(
    /^Notion rate limit reached \(429: Slow down\)\. Retry after 10 minutes/,
  );

  // a refusal without a wait or a rate-limit message is still a missing permission
  const refused = await failureOf({
    status: 403,
    headers: { 'x-ratelimit-remaining': '4990', 'x-ratelimit-reset': hourlyReset },
    body: { message: 'Resource not accessible by integration' },
  });
  expect(refused.status).toBe(403);
  expect(refused.message).toMatch(/refused access to authenticated user .* lacks permission/);
});

it('a 409 Conflict of any built-in tool says to read the current state again and retry, not to fix the arguments', async () => {
  const server = createServer((request, response) => {
    request.resume();
    response
      .writeHead(409, { 'content-type': 'application/json' })
      .end(JSON.stringify({ message: 'Conflict occurred while saving. Please try again.' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const toolkits = [
    createGithubToolkit({ baseUrl }),
    createGmailToolkit({ baseUrl }),
    createExaToolkit({ baseUrl }),
    createFirecrawlToolkit({ baseUrl }),
    createNotionToolkit({ baseUrl }),
    createHackernewsToolkit({ baseUrl }),
    createSlackToolkit({ baseUrl }),
    createLinearToolkit({ baseUrl }),
  ];
  const credentials = toolContext({ accessToken: 'tok_answers', apiKey: 'key_answers' });
  const messages: string[] = [];
  try {
    for (const toolkit of toolkits) {
      for (const tool of toolkit.tools) {
        const validation = tool.validate(sampleInput(tool.inputSchema));
        if (!validation.success) continue;
        const error = await Promise.resolve(tool.execute(validation.value, credentials)).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        if (error instanceof ApiError && error.status === 409)
          messages.push(`${tool.slug}: ${error.message}`);
      }
    }
  } finally {
    server.close();
  }
  expect(messages.length).toBeGreaterThan(40);
  for (const message of messages) {
    expect(message).toMatch(
      /could not apply the request for .* because of a conflict with its current state \(409 Conflict: Conflict occurred while saving\. Please try again\.\): .* Read its current state again, then retry/,
    );
    expect(message).not.toContain('Fix the arguments');
  }
});
