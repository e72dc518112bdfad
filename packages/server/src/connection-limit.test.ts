import { once } from 'node:events';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { defineTool, defineToolkit, type Toolkit, ToolMux } from '@toolmux/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { clientOf } from './addresses.js';
import {
  ConnectionLimit,
  type ConnectionOptions,
  connectionSettings,
  defaultConnectionsPerClient,
  MIN_DEFAULT_CONNECTIONS_PER_CLIENT,
  REFUSED_CONNECTION_MS,
} from './connection-limit.js';
import { createServer, type RunningServer } from './server.js';

/**
 * One client holding idle connections (slowloris: a request's headers sent a line at a time, or
 * nothing) took every file descriptor of the server's process, and then nobody else was answered:
 * 19,976 such connections from one address made `/healthz` fail for everyone for as long as they were
 * kept (Node closed them after its 60 s `headersTimeout`, and the client opened them again). Each
 * client may now hold `connections.perClient` open; one past it is answered 503 and closed at once.
 */

const API_KEY = 'connection-limit-test-key-0123456789';

const opened: Array<{ mux: ToolMux; running: RunningServer; sockets: Socket[] }> = [];
afterEach(async () => {
  for (const { mux, running, sockets } of opened.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await running.close({ timeoutMs: 0 });
    await mux.close();
  }
});

/** A server on `hostname` with `connections`, and what it logged as warnings. */
async function serve(
  connections: ConnectionOptions | undefined,
  hostname = '127.0.0.1',
  toolkits: Toolkit[] = [],
) {
  const warnings: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (message: string) => void warnings.push(message),
    error() {},
  };
  const mux = new ToolMux({ store: ':memory:', toolkits, logger });
  const running = await createServer({ toolmux: mux, apiKey: API_KEY, logger, connections }).serve({
    port: 0,
    hostname,
  });
  const sockets: Socket[] = [];
  opened.push({ mux, running, sockets });
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    running,
    warnings,
    sockets,
    url: `http://${host}:${running.port}`,
    /** Opens `count` connections from `localAddress` that send a request's first line and stop there. */
    async idle(count: number, localAddress?: string): Promise<Socket[]> {
      const made = await Promise.all(
        Array.from({ length: count }, async () => {
          const socket = connect({ port: running.port, host: hostname, localAddress });
          sockets.push(socket);
          await once(socket, 'connect');
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
          // read what the server answers, so that its close shows
          socket.resume();
          return socket;
        }),
      );
      return made;
    },
    /** A whole request on a new connection from `localAddress`: its status line and body. */
    async ask(
      path = '/healthz',
      localAddress?: string,
    ): Promise<{ status: string; body: string; closed: boolean }> {
      const socket = connect({ port: running.port, host: hostname, localAddress });
      sockets.push(socket);
      await once(socket, 'connect');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nConnection: close\r\n\r\n`,
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('error', () => {});
      await once(socket, 'close');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      return { status: head.split('\r\n')[0] ?? '', body, closed: true };
    },
  };
}

/** Resolves once `socket` is closed (true), or false after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A non-loopback IPv4 address of this machine, which a connection to 0.0.0.0 can come from. */
function outsideAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? [])
      if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

describe('connections per client', () => {
  it('answers a connection past the limit 503 TOO_MANY_CONNECTIONS and closes it; one closed makes room', async () => {
    const server = await serve({ perClient: 8, unlimited: [] });
    const held = await server.idle(8);
    const refused = await server.ask();
    expect(refused.status).toBe('HTTP/1.1 503 Service Unavailable');
    const error = JSON.parse(refused.body).error;
    expect(error.code).toBe('TOO_MANY_CONNECTIONS');
    expect(error.message).toContain('(127.0.0.1) holds 8 open connections');
    // the held ones were not touched
    expect(held.every((socket) => !socket.destroyed)).toBe(true);
    held[0]!.destroy();
    await once(held[0]!, 'close');
    // the server counts the close in its own turn
    await new Promise((resolve) => setTimeout(resolve, 200));
    const answered = await server.ask();
    expect(answered.status).toBe('HTTP/1.1 200 OK');
    // (the server's side of that connection closes in a turn after the client's)
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.idle(1);
    // the share is full again: five more are refused, with one warning (at most one per 10 s) that
    // names the client and the fix
    for (let index = 0; index < 5; index++) expect((await server.ask()).status).toContain('503');
    expect(server.warnings).toHaveLength(1);
    expect(server.warnings[0]).toContain('refused a connection from 127.0.0.1');
    expect(server.warnings[0]).toContain('connections.unlimited');
    // every refusal is counted in the metrics
    for (const socket of held.slice(1)) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const metrics = await server.ask('/metrics');
    expect(metrics.body).toMatch(/^toolmux_connections_refused_total 6$/m);
  });

  it("answers a refused request on Composio's API in Composio's error envelope", async () => {
    const server = await serve({ perClient: 2, unlimited: [] });
    await server.idle(2);
    const refused = await server.ask('/api/v3.1/tool_router/session/trs_x');
    expect(refused.status).toBe('HTTP/1.1 503 Service Unavailable');
    const body = JSON.parse(refused.body);
    // `@composio/core` reads `error.code` and `error.message`; other clients the same fields at the top
    expect(body.error).toMatchObject({
      code: 'TOO_MANY_CONNECTIONS',
      slug: 'TOO_MANY_CONNECTIONS',
      status: 503,
    });
    expect(body).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', status: 503 });
    expect(body.message).toContain('holds 2 open connections');
    // toolmux's own API keeps its envelope
    const own = JSON.parse((await server.ask('/api/v1/sessions')).body);
    expect(Object.keys(own)).toEqual(['error']);
    expect(own.error.code).toBe('TOO_MANY_CONNECTIONS');
  });

  it('counts a client whose address is not loopback by default, a sixteenth of the process’s files, and lets loopback (a proxy on the host) be', async () => {
    const outside = outsideAddress();
    if (outside === undefined)
      throw new Error('this machine has no non-loopback IPv4 address to connect from');
    const share = defaultConnectionsPerClient();
    // this process may open 16 times that many files (or the limit could not be read: 256)
    expect(share).toBeGreaterThanOrEqual(MIN_DEFAULT_CONNECTIONS_PER_CLIENT);
    const server = await serve(undefined, '0.0.0.0');
    // loopback: not counted (a reverse proxy on the same host carries every client's connections)
    await server.idle(MIN_DEFAULT_CONNECTIONS_PER_CLIENT + 10, '127.0.0.1');
    expect((await server.ask('/healthz', '127.0.0.1')).status).toBe('HTTP/1.1 200 OK');
    // another address: counted, `share` at most
    await server.idle(share, outside);
    // a connection the client saw open may still wait in the kernel for the server to take it (a full
    // accept queue holds back the handshake's last step): one asked for meanwhile can come before
    // it, within the share (a loaded CI saw that), so the next ones are asked for until the share is full
    let refused = await server.ask('/healthz', outside);
    for (let attempt = 1; refused.status !== 'HTTP/1.1 503 Service Unavailable' && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      refused = await server.ask('/healthz', outside);
    }
    expect(refused.status).toBe('HTTP/1.1 503 Service Unavailable');
    expect(JSON.parse(refused.body).error.message).toContain(`(${outside}) holds ${share} open`);
    // loopback is still answered
    expect((await server.ask('/healthz', '127.0.0.1')).status).toBe('HTTP/1.1 200 OK');
  }, 60_000);

  it('is by default a sixteenth of the open-file limit, at least 256; 256 where it cannot be read', () => {
    const limits = (soft: string) =>
      `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft}                ${soft}                files     \n`;
    expect(defaultConnectionsPerClient(limits('20000'))).toBe(1250);
    expect(defaultConnectionsPerClient(limits('1048576'))).toBe(65536);
    expect(defaultConnectionsPerClient(limits('1024'))).toBe(256);
    expect(defaultConnectionsPerClient(limits('unlimited'))).toBe(256);
    expect(defaultConnectionsPerClient('')).toBe(256);
  });

  it('counts an IPv6 client by its /64 network', async () => {
    const server = await serve({ perClient: 3, unlimited: [] }, '::1');
    await server.idle(3);
    const refused = await server.ask();
    expect(refused.status).toContain('503');
    expect(JSON.parse(refused.body).error.message).toContain('(::/64) holds 3 open connections');
    // a refused connection whose request does not come is closed after REFUSED_CONNECTION_MS
    const [late] = await server.idle(1);
    expect(await closedWithin(late!, REFUSED_CONNECTION_MS + 2_000)).toBe(true);
  });

  it('turns off with perClient 0', async () => {
    const server = await serve({ perClient: 0, unlimited: [] });
    await server.idle(300);
    expect((await server.ask()).status).toBe('HTTP/1.1 200 OK');
  });
});

describe('a remote-mode ToolMux whose connection is refused', () => {
  it('sends a tool call again after Retry-After, since the server did not handle it; the tool runs once', {
    timeout: 30_000,
  }, async () => {
    let runs = 0;
    const counter = defineToolkit({
      slug: 'counter',
      description: 'Counts',
      tools: [
        defineTool({
          slug: 'COUNTER_BUMP',
          description: 'Counts one',
          inputSchema: { type: 'object', properties: {} },
          execute: async () => ({ runs: ++runs }),
        }),
      ],
    });
    const server = await serve({ perClient: 4, unlimited: [] }, '127.0.0.1', [counter]);
    const remote = new ToolMux({ baseUrl: server.url, apiKey: API_KEY });
    try {
      const session = await remote.create('user_1', { toolkits: ['counter'] });
      // the SDK's pooled connection and three idle ones fill the share: a second call at once needs a
      // connection of its own, which is refused
      const idle = await server.idle(3);
      const first = session.execute('COUNTER_BUMP', {});
      const second = session.execute('COUNTER_BUMP', {});
      // room for the second call's retry (Retry-After: 1 s) once it was refused (a loaded CI took
      // more than 300 ms to get there)
      for (let waited = 0; server.warnings.length === 0 && waited < 20_000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(server.warnings.join('\n')).toContain('refused a connection from 127.0.0.1');
      idle[0]!.destroy();
      const results = await Promise.all([first, second]);
      expect(results.map((result) => result.successful)).toEqual([true, true]);
      expect(runs).toBe(2);
    } finally {
      await remote.close();
    }
  });
});

describe('the warning of refused connections', () => {
  it('comes at most once per interval, counting the refusals since the last one and naming five clients', async () => {
    // every address of 127.0.0.0/8 is this machine's: a client each
    const server = createNetServer();
    const warnings: Array<string | undefined> = [];
    // the time as the test tells it: the interval passes when the test says so, however slow the
    // connections are to come
    let now = 0;
    const limit = new ConnectionLimit(
      connectionSettings({ perClient: 1, unlimited: [] }),
      (warning) => warnings.push(warning),
      { warningIntervalMs: 10_000, now: () => now },
    );
    let seen = 0;
    server.on('connection', (socket) => {
      seen++;
      limit.admit(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const sockets: Socket[] = [];
    const open = async (from: string, count: number) => {
      for (let index = 0; index < count; index++) {
        const socket = connect({ port, host: '127.0.0.1', localAddress: from });
        socket.on('error', () => {});
        sockets.push(socket);
        await once(socket, 'connect');
      }
      // the server takes them up in its own turns
      const expected = sockets.length;
      while (seen < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    try {
      await open('127.0.0.1', 2);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(
        'refused a connection from 127.0.0.1: a client may hold 1 open connections',
      );
      for (let client = 2; client <= 8; client++) await open(`127.0.0.${client}`, 2);
      // seven more refusals, none logged yet
      expect(warnings).toHaveLength(8);
      expect(warnings.slice(1).every((warning) => warning === undefined)).toBe(true);
      // just inside the interval: counted, not logged
      now += 9_999;
      await open('127.0.0.9', 2);
      expect(warnings).toHaveLength(9);
      expect(warnings.at(-1)).toBeUndefined();
      now += 1;
      await open('127.0.0.10', 2);
      expect(warnings.at(-1)).toContain(
        'refused 9 connections from 127.0.0.2, 127.0.0.3, 127.0.0.4, 127.0.0.5, 127.0.0.6 and other clients:',
      );
      // one client refused many times is one client, not "other clients"
      await open('127.0.0.1', 3);
      expect(warnings.at(-1)).toBeUndefined();
      now += 10_000;
      await open('127.0.0.1', 1);
      expect(warnings.at(-1)).toContain('refused 4 connections from 127.0.0.1: a client may hold 1');
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});

describe('clientOf', () => {
  it('is the IPv4 address, also written IPv4-mapped, and an IPv6 address’s /64', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientOf('::1')).toBe('::/64');
  });

  it('gives every address of one /64 the same client, and addresses of two /64s two clients', () => {
    const part = fc.integer({ min: 0, max: 0xffff });
    const parts = (count: number) => fc.array(part, { minLength: count, maxLength: count });
    const written = (all: number[]) => all.map((each) => each.toString(16)).join(':');
    fc.assert(
      fc.property(parts(4), parts(4), parts(4), parts(4), (network, host, otherHost, otherNetwork) => {
        const client = clientOf(written([...network, ...host]));
        expect(clientOf(written([...network, ...otherHost]))).toBe(client);
        const same = network.every((each, index) => each === otherNetwork[index]);
        expect(clientOf(written([...otherNetwork, ...host])) === client).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('headers timeout', () => {
  it('answers 408 and closes a connection whose headers take longer than headersTimeoutMs, or that sends nothing', async () => {
    const server = await serve({ headersTimeoutMs: 300 });
    const silent = connect({ port: server.running.port, host: '127.0.0.1' });
    server.sockets.push(silent);
    await once(silent, 'connect');
    let silentAnswer = '';
    silent.setEncoding('utf8');
    silent.on('data', (chunk: string) => {
      silentAnswer += chunk;
    });
    const [trickling] = await server.idle(1);
    let answer = '';
    trickling!.setEncoding('utf8');
    trickling!.on('data', (chunk: string) => {
      answer += chunk;
    });
    // a header line every 50 ms: never idle, never done
    const trickle = setInterval(() => trickling!.write('X-Slow: yes\r\n'), 50);
    try {
      // Node's default (60 s) kept both open past this
      expect(await closedWithin(trickling!, 5_000)).toBe(true);
      expect(await closedWithin(silent, 5_000)).toBe(true);
      expect(answer).toMatch(/^HTTP\/1.1 408 /);
      expect(silentAnswer).toMatch(/^HTTP\/1.1 408 /);
    } finally {
      clearInterval(trickle);
    }
    // a request sent at once is answered
    expect((await server.ask()).status).toBe('HTTP/1.1 200 OK');
  });
});

describe('connections options', () => {
  it('are checked when the server is made: CONFIG_INVALID naming the value', () => {
    const mux = new ToolMux({
      store: ':memory:',
      toolkits: [],
      logger: { debug() {}, warn() {}, error() {} },
    });
    const make = (connections: unknown) => () =>
      createServer({ toolmux: mux, apiKey: API_KEY, connections: connections as ConnectionOptions });
    expect(make({ perClient: -1 })).toThrow(
      /connections\.perClient must be a whole number of connections, 0 or more/,
    );
    expect(make({ perClient: '10' })).toThrow(/got "10"/);
    expect(make({ headersTimeoutMs: 400_000 })).toThrow(
      /connections\.headersTimeoutMs must be .* from 1 to 300000/,
    );
    // the entry named by its index, as a config file's refused values are (`connections.unlimited`
    // alone named no entry of a long list)
    expect(make({ unlimited: ['10.0.0.1', '10.0.0.0/40'] })).toThrow(
      /connections\.unlimited\[1\]: "10.0.0.0\/40" is not an IP address or CIDR range/,
    );
    // an entry quoted as every refused value is: control characters escaped, a long one cut (it was
    // put between quotes as it was, a newline and a megabyte included)
    const long = `10.0.0.1\n${'x'.repeat(100_000)}`;
    let refused = '';
    try {
      make({ unlimited: [long] })();
    } catch (error) {
      refused = (error as Error).message;
    }
    expect(refused).toContain('connections.unlimited[0]: "10.0.0.1\\nxxx');
    expect(refused).not.toContain('\n');
    expect(refused.length).toBeLessThan(300);
    try {
      make({ perClient: 1.5 })();
      expect.fail('accepted');
    } catch (error) {
      expect((error as { code?: string }).code).toBe('CONFIG_INVALID');
    }
    void mux.close();
  });
});
