import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MetaToolSlug } from '@toolmux/core';
import { describe, expect, it } from 'vitest';
import {
  API_KEY,
  api,
  forStarts,
  SAMPLE,
  SECRET_KEY,
  serveTestHooks,
  sessionAwaitingMail,
  startServe,
  tempDirectory,
  untilHeld,
} from '../test-serve.js';

/**
 * `toolmux serve` sent SIGTERM while a REST wait-for-connections and an MCP TOOLMUX_WAIT_FOR_CONNECTIONS
 * call (60 s each) are held: both are answered at once with how the toolkit stands (`timed_out`, still
 * PENDING), and the process exits well before its drain timeout. On the code before, it drained for
 * the whole `shutdownTimeoutMs` and both clients got a socket error.
 */
serveTestHooks();

const WAIT = MetaToolSlug.WAIT_FOR_CONNECTIONS;
const SHUTDOWN_TIMEOUT_MS = 30_000;

describe('toolmux serve stopped while connection waits are held', () => {
  it(
    'answers the REST and the MCP wait (timed_out, PENDING) and exits in well under shutdownTimeoutMs',
    async () => {
      const cwd = tempDirectory();
      writeFileSync(
        join(cwd, 'toolmux.config.json'),
        JSON.stringify({
          toolkits: [SAMPLE],
          store: 'sqlite:./data/toolmux.db',
          port: 0,
          shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
        }),
      );
      const served = await startServe(['--log-format', 'json', '--log-level', 'info'], {
        cwd,
        env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
      });
      const client = new Client({ name: 'serve-drain', version: '1.0.0' });
      try {
        const { sessionId, requestId } = await sessionAwaitingMail(served.url, client);
        const rest = api(served.url, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
          toolkits: ['mail'],
          timeout_seconds: 60,
        });
        const mcp = client.callTool({ name: WAIT, arguments: { toolkits: ['mail'], timeout_seconds: 60 } });
        const answers = Promise.all([rest, mcp]);
        answers.catch(() => {});
        await untilHeld(served.url, 2);

        const signalled = Date.now();
        const code = await served.stop('SIGTERM');
        const exitedMs = Date.now() - signalled;
        const [restAnswer, mcpAnswer] = await answers;
        expect(code).toBe(0);
        // on the code before: the whole shutdownTimeoutMs, then a socket error for each
        expect(exitedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 3);

        const pending = {
          timed_out: true,
          toolkits: { mail: { status: 'PENDING', connection_request_id: requestId } },
        };
        expect(restAnswer.status).toBe(200);
        expect(restAnswer.json).toMatchObject(pending);
        expect(restAnswer.json.next_steps).toContain(
          'the server is shutting down, so the wait ended before its timeout',
        );
        const mcpResult = mcpAnswer as CallToolResult;
        expect(mcpResult.isError).toBeFalsy();
        expect(JSON.parse((mcpResult.content[0] as { text: string }).text)).toMatchObject(pending);

        const lines = served.lines();
        expect(
          lines.find((line) => line.route === '/api/v1/sessions/:sessionId/wait-for-connections'),
        ).toMatchObject({
          status: 200,
        });
        // nothing was left for close() to stop
        expect(served.stdout()).not.toContain('TOOL_ABORTED');
        expect(lines.at(-1)).toMatchObject({ msg: 'toolmux server stopped' });
      } finally {
        await client.close().catch(() => {});
        await served.stop('SIGKILL');
      }
    },
    forStarts(1).timeout + SHUTDOWN_TIMEOUT_MS + 20_000,
  );
});

describe('toolmux serve with shutdownDelayMs', () => {
  it(
    'after SIGTERM answers /readyz 503 draining and serves new connections as usual until the delay ends, then drains and exits 0',
    async () => {
      const cwd = tempDirectory();
      writeFileSync(
        join(cwd, 'toolmux.config.json'),
        JSON.stringify({ toolkits: [SAMPLE], store: ':memory:', port: 0, shutdownDelayMs: 2_500 }),
      );
      const served = await startServe(['--log-format', 'json', '--log-level', 'info'], {
        cwd,
        env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
      });
      try {
        const exited = served.stop('SIGTERM');
        await untilLine(served, 'serving on until the delay ends');
        // out of the rotation, and still serving: a load balancer that has not noticed yet sends
        // new connections, which are answered (they were refused: the port was closed at once)
        const ready = await fetch(`${served.url}/readyz`, { headers: { connection: 'close' } });
        expect(ready.status).toBe(503);
        expect(await ready.json()).toEqual({ status: 'draining' });
        const listed = await api(served.url, 'GET', '/toolkits?limit=1');
        expect(listed.status).toBe(200);
        expect(await exited).toBe(0);
        const lines = served.lines();
        expect(
          lines.find((line) => String(line.msg).includes('serving on until the delay ends')),
        ).toMatchObject({
          delay_ms: 2_500,
          timeout_ms: 10_000,
        });
        expect(lines.at(-1)).toMatchObject({ msg: 'toolmux server stopped' });
      } finally {
        await served.stop('SIGKILL');
      }
    },
    forStarts(1).timeout + 20_000,
  );
});

/** Resolves once the server has logged a line whose message holds `text`. */
async function untilLine(served: { lines(): Array<Record<string, unknown>> }, text: string): Promise<void> {
  while (!served.lines().some((line) => String(line.msg).includes(text))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
