import { createServer as createNetServer } from 'node:net';
import { type Logger, type Provider, type Toolkit, ToolMux } from '@toolmux/core';
import { createServer, type RunningServer } from '../server.js';

/**
 * A toolmux server for tests of packages built on toolmux (providers, apps): an embedded ToolMux over
 * the given toolkits on an in-memory store, served on a free loopback port, and remote-mode ToolMuxes
 * pointed at it. Tool handlers run in the server, which is this process, so a test can watch them.
 *
 * @example
 * const server = await startTestServer({ toolkits });
 * const mux = server.remote(new VercelProvider()); // new ToolMux({ baseUrl, apiKey, provider })
 * // … generateText({ tools: await (await mux.create('user_1')).tools() }) …
 * await server.close();
 */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly apiKey: string;
  /** The embedded ToolMux the server serves. */
  readonly embedded: ToolMux;
  /**
   * A remote-mode ToolMux on this server. `accountCacheTtlMs`: how long its session objects trust
   * that their session still exists, with the config they have (see `ToolMuxOptions`).
   */
  remote<P extends Provider<unknown>>(
    provider?: P,
    options?: { logger?: Logger; accountCacheTtlMs?: number },
  ): ToolMux<P>;
  /** Closes every remote ToolMux made here, the server and its store. */
  close(): Promise<void>;
}

const TEST_SERVER_API_KEY = 'toolmux-test-server-key-0123456789';
const silent: Logger = { debug() {}, warn() {}, error() {} };

/** A free TCP port on 127.0.0.1 (the ToolMux's baseUrl must name the port before it serves). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function startTestServer(options: {
  toolkits: readonly Toolkit[];
  logger?: Logger;
  /** @default ':memory:' */
  store?: string;
  /**
   * The key that encrypts credentials at rest (base64 of 32 bytes), as `ToolMux`'s `secretKey`: a
   * PostgreSQL store needs one. @default TOOLMUX_SECRET_KEY, else a key file beside a SQLite store
   */
  secretKey?: string;
}): Promise<TestServer> {
  const logger = options.logger ?? silent;
  let running: RunningServer | undefined;
  let embedded: ToolMux | undefined;
  for (let attempt = 0; !running; attempt++) {
    const port = await freePort();
    embedded = new ToolMux({
      toolkits: options.toolkits,
      store: options.store ?? ':memory:',
      baseUrl: `http://127.0.0.1:${port}`,
      logger,
      ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}),
    });
    try {
      running = await createServer({ toolmux: embedded, apiKey: TEST_SERVER_API_KEY, logger }).serve({
        port,
      });
    } catch (error) {
      await embedded.close();
      // another process took the port between the probe and listen: try another one
      if (attempt >= 5 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  const remotes: ToolMux<Provider<unknown>>[] = [];
  const server = running;
  return {
    url: server.url,
    apiKey: TEST_SERVER_API_KEY,
    embedded: embedded!,
    remote<P extends Provider<unknown>>(
      provider?: P,
      remoteOptions: { logger?: Logger; accountCacheTtlMs?: number } = {},
    ) {
      const mux = new ToolMux<P>({
        baseUrl: server.url,
        apiKey: TEST_SERVER_API_KEY,
        ...(provider ? { provider } : {}),
        logger: remoteOptions.logger ?? logger,
        ...(remoteOptions.accountCacheTtlMs !== undefined
          ? { accountCacheTtlMs: remoteOptions.accountCacheTtlMs }
          : {}),
      });
      remotes.push(mux);
      return mux;
    },
    async close() {
      await Promise.all(remotes.splice(0).map((mux) => mux.close()));
      await server.close();
      await embedded!.close();
    },
  };
}

export {
  type LifecycleHooks,
  type SampleModes,
  type SampleSessionOptions,
  sampleModes,
  TOOLMUX_MODES,
  type ToolMuxMode,
} from './sample-modes.js';
