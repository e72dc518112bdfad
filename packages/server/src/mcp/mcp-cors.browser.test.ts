import { randomBytes } from 'node:crypto';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import {
  chromiumSkipReason,
  launchChromium,
  mcpSdkBrowserBundle,
  type PageServer,
  startPageServer,
} from '../test-browser.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { freePort } from '../test-oauth.js';

/**
 * The MCP endpoint called from a web page of another origin, in a real browser (Debian's chromium,
 * driven by playwright-core): the page's own `fetch` runs initialize, the GET a Streamable HTTP
 * client tries next, and tools/list, step by step with their statuses; then the MCP SDK's own client
 * (bundled for the page by rolldown) connects, lists the tools and calls one. A page of an origin in
 * `mcp.allowedOrigins` gets its answers; a page of any other origin is blocked by the browser.
 */
const skip = chromiumSkipReason('mcp-cors.browser.test.ts');

/** What the page's script saw: each answer's status and what it could read, or the fetch error. */
interface PageResult {
  error?: string;
  initialize?: { status: number; protocolVersion: string; serverName: string };
  initialized?: number;
  sse?: number;
  tools?: { status: number; names: string[]; requestId: string | null; contentType: string | null };
}

/** Runs in the page: the client side of MCP over Streamable HTTP, with the page's fetch. */
async function mcpFromPage({ url, token }: { url: string; token: string }): Promise<PageResult> {
  const result: PageResult = {};
  const headers = (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...extra,
  });
  try {
    const init = await fetch(url, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'page', version: '1' },
        },
      }),
    });
    const initBody = await init.json();
    const version: string = initBody.result.protocolVersion;
    result.initialize = {
      status: init.status,
      protocolVersion: version,
      serverName: initBody.result.serverInfo.name,
    };
    const versioned = headers({ 'mcp-protocol-version': version });
    const initialized = await fetch(url, {
      method: 'POST',
      headers: versioned,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    result.initialized = initialized.status;
    // the stream of server messages a client asks for next: this endpoint has none (405)
    const sse = await fetch(url, { headers: { ...versioned, accept: 'text/event-stream' } });
    result.sse = sse.status;
    const list = await fetch(url, {
      method: 'POST',
      headers: versioned,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    const listBody = await list.json();
    result.tools = {
      status: list.status,
      names: listBody.result.tools.map((tool: { name: string }) => tool.name),
      requestId: list.headers.get('x-request-id'),
      contentType: list.headers.get('content-type'),
    };
  } catch (error) {
    result.error = String(error);
  }
  return result;
}

/** What the MCP SDK's client saw in the page: the tools it listed and a call's text, or its error. */
interface SdkResult {
  error?: string;
  serverName?: string;
  tools?: string[];
  call?: { isError: boolean; text: string };
}

/** Runs in the page (after the bundle of `mcpSdkBrowserBundle`): the official client, end to end. */
async function sdkClientFromPage({ url, token }: { url: string; token: string }): Promise<SdkResult> {
  const { Client, StreamableHTTPClientTransport } = (globalThis as any).McpSdk;
  const client = new Client({ name: 'page', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const result: SdkResult = {};
  try {
    await client.connect(transport);
    result.serverName = client.getServerVersion()?.name;
    result.tools = (await client.listTools()).tools.map((tool: { name: string }) => tool.name);
    const call = await client.callTool({ name: 'TASKS_CREATE_TASK', arguments: { title: 'From a page' } });
    result.call = {
      isError: call.isError === true,
      text: call.content.map((part: { text?: string }) => part.text ?? '').join(''),
    };
  } catch (error) {
    result.error = String(error);
  } finally {
    await client.close().catch(() => {});
  }
  return result;
}

describe.skipIf(skip !== undefined)(
  `MCP endpoint from a page of another origin, in Chromium ${skip ?? ''}`,
  () => {
    let allowedPage: PageServer;
    let otherPage: PageServer;
    let mux: ToolMux;
    let running: RunningServer;
    let browser: Browser;
    let sdkBundle: string;
    const requests: string[] = [];

    beforeAll(async () => {
      allowedPage = await startPageServer('An MCP client page', 'client');
      otherPage = await startPageServer('An MCP client page', 'client');
      const port = await freePort();
      mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: ':memory:',
        secretKey: randomBytes(32).toString('base64'),
        baseUrl: `http://127.0.0.1:${port}`,
        logger: recordingLogger(),
      });
      running = await createServer({
        toolmux: mux,
        apiKey: TEST_API_KEY,
        logger: { ...recordingLogger(), info: (message: string) => requests.push(message) },
        mcp: { allowedOrigins: [allowedPage.origin] },
      }).serve({ port });
      browser = await launchChromium();
      sdkBundle = await mcpSdkBrowserBundle();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await running?.close();
      await mux?.close();
      for (const page of [allowedPage, otherPage]) {
        await page?.close();
      }
    });

    it('answers initialize and tools/list to a page of an allowed origin, which reads them', async () => {
      const session = await mux.create('user_page', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
      const page = await browser.newPage();
      try {
        await page.goto(`${allowedPage.origin}/`);
        const token = session.mcp.headers.Authorization;
        const result = await page.evaluate(mcpFromPage, {
          url: session.mcp.url,
          token: token.replace(/^Bearer /, ''),
        });
        expect(result.error).toBeUndefined();
        expect(result.initialize).toEqual({
          status: 200,
          protocolVersion: '2025-06-18',
          serverName: 'toolmux',
        });
        expect(result.initialized).toBe(202);
        expect(result.sse).toBe(405);
        expect(result.tools).toMatchObject({ status: 200, contentType: 'application/json' });
        expect(result.tools!.names).toEqual((await session.tools()).map((tool) => tool.name));
        expect(result.tools!.names).toContain('TASKS_CREATE_TASK');
        // an exposed header: the page can match its call to the server's log line
        expect(result.tools!.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(requests.some((line) => line.startsWith('OPTIONS /mcp/:sessionId 204'))).toBe(true);
      } finally {
        await page.close();
      }
    });

    it('is blocked by the browser for a page of an origin that is not allowed: its preflight gets 403', async () => {
      const session = await mux.create('user_page', { toolkits: ['tasks'] });
      const page = await browser.newPage();
      const console: string[] = [];
      page.on('console', (message) => console.push(message.text()));
      try {
        await page.goto(`${otherPage.origin}/`);
        requests.length = 0;
        const token = session.mcp.headers.Authorization;
        const result = await page.evaluate(mcpFromPage, {
          url: session.mcp.url,
          token: token.replace(/^Bearer /, ''),
        });
        expect(result).toEqual({ error: 'TypeError: Failed to fetch' });
        expect(console.join('\n')).toContain('blocked by CORS policy');
        // the browser asked, was refused, and never sent the call itself
        expect(requests.filter((line) => line.includes('/mcp/'))).toEqual([
          expect.stringMatching(/^OPTIONS \/mcp\/:sessionId 403 /),
        ]);
      } finally {
        await page.close();
      }
    });
    it("the MCP SDK's own client, in a page of an allowed origin, connects, lists the tools and calls one", async () => {
      const session = await mux.create('user_page_sdk', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const page = await browser.newPage();
      try {
        await page.goto(`${allowedPage.origin}/`);
        await page.addScriptTag({ content: sdkBundle });
        const result = await page.evaluate(sdkClientFromPage, {
          url: session.mcp.url,
          token: session.mcp.headers.Authorization.replace(/^Bearer /, ''),
        });
        expect(result.error).toBeUndefined();
        expect(result.serverName).toBe('toolmux');
        expect(result.tools).toEqual((await session.tools()).map((tool) => tool.name));
        expect(result.call?.isError).toBe(false);
        expect(result.call?.text).toContain('From a page');
        // the call ran through the session: it is in its log
        const logs = await session.logs();
        expect(logs.items.map((entry) => entry.toolSlug)).toContain('TASKS_CREATE_TASK');
      } finally {
        await page.close();
      }
    });

    it("the MCP SDK's own client in a page of another origin cannot connect, and nothing runs", async () => {
      const session = await mux.create('user_page_sdk_other', { toolkits: ['tasks'] });
      const page = await browser.newPage();
      try {
        await page.goto(`${otherPage.origin}/`);
        await page.addScriptTag({ content: sdkBundle });
        requests.length = 0;
        const result = await page.evaluate(sdkClientFromPage, {
          url: session.mcp.url,
          token: session.mcp.headers.Authorization.replace(/^Bearer /, ''),
        });
        expect(result.error).toMatch(/Failed to fetch/);
        expect(result.tools).toBeUndefined();
        expect(requests.filter((line) => line.includes('/mcp/'))).toEqual([
          expect.stringMatching(/^OPTIONS \/mcp\/:sessionId 403 /),
        ]);
        expect((await session.logs()).items).toEqual([]);
      } finally {
        await page.close();
      }
    });
  },
);
