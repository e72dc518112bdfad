import { connect, createServer, type Server, type Socket } from 'node:net';
import { ToolMux } from '@toolmux/core';
import { stockLookupTool } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Log uploads of a remote-mode client whose connection fails before any answer comes (the server is
 * restarting, behind a proxy that is down for a moment): the batch is sent again as a batch, after a
 * pause, never as one request per entry.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: [] });
});
afterAll(async () => {
  await server?.close();
});

/** A TCP relay to the server that can stop listening (and drop its connections) and listen again. */
async function relay(target: URL) {
  const sockets = new Set<Socket>();
  let listener: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const opened = createServer((client) => {
        const upstream = createConnection(target);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => socket.destroy());
          socket.on('close', () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
      });
      opened.once('error', reject);
      opened.listen(port, '127.0.0.1', () => {
        port = (opened.address() as { port: number }).port;
        listener = opened;
        resolve();
      });
    });
  const shut = async () => {
    const closing = new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
    listener = undefined;
    for (const socket of sockets) socket.destroy();
    await closing;
  };
  await open();
  return { url: `http://127.0.0.1:${port}`, open, shut };
}

function createConnection(target: URL): Socket {
  return connect(Number(target.port), target.hostname);
}

describe('remote mode: log uploads that reach no server', () => {
  it('are sent again as one batch once the server is back, not entry by entry', async () => {
    const proxy = await relay(new URL(server.url));
    const uploads: string[] = [];
    let reopened: Promise<void> | undefined;
    const errors: string[] = [];
    const remote = new ToolMux({
      baseUrl: proxy.url,
      apiKey: server.apiKey,
      logger: { debug() {}, warn() {}, error: (message) => errors.push(message) },
      fetch: async (input, init) => {
        const isUpload = init?.method === 'POST' && /\/logs$/.test(String(input));
        try {
          const response = await fetch(input, init);
          if (isUpload) uploads.push(String(response.status));
          return response;
        } catch (error) {
          if (isUpload) {
            uploads.push('failed');
            // the server is back once the first upload has failed
            reopened ??= proxy.open();
          }
          throw error;
        }
      },
    });
    try {
      const session = await remote.create('user_upload_retry', {
        experimental: { customTools: [stockLookupTool().tool] },
      });
      await proxy.shut();
      // 20 calls in one turn: their entries go in one upload
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) => session.execute('SHOP_LOOKUP_STOCK', { sku: `A-${index}` })),
      );
      expect(results.every((result) => result.successful)).toBe(true);
      // session.logs() sends what is pending first, and waits for it
      const logged = (await session.logs({ limit: 100 })).items.map((entry) => entry.id);
      expect(logged.sort()).toEqual(results.map((result) => result.logId).sort());
      // before: the failed upload was sent again as 20 uploads of one entry, at once, which found the
      // server still away, and the entries were lost
      expect(uploads.slice(0, 2)).toEqual(['failed', '201']);
      expect(uploads.length).toBeLessThanOrEqual(3);
      expect(errors).toEqual([]);
    } finally {
      await remote.close();
      await reopened;
      await proxy.shut();
    }
  });
});
