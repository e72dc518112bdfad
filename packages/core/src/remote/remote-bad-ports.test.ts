import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { ToolMux } from '../toolmux.js';
import { FETCH_BAD_PORTS } from './bad-ports.js';

/**
 * A baseUrl on a port that fetch refuses (the Fetch standard's "bad ports": 1, 6000, 10080, …): every
 * request would fail with `fetch failed` and nothing to say why. It is refused where it is given.
 */

const API_KEY = 'tmx_remote_client_secret_0123456789';

/** How this runtime's fetch answers a request to 127.0.0.1 on `port`: its cause's message. */
async function fetchFailure(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    return String((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
  }
}

describe('remote client: a baseUrl on a port fetch refuses', () => {
  it("the list is this runtime's: fetch refuses every port of it, and not the ports next to them", async () => {
    const listed = [...FETCH_BAD_PORTS];
    const failures = await Promise.all(listed.map(fetchFailure));
    expect(failures.filter((failure) => failure !== 'bad port')).toEqual([]);
    const others = [...new Set(listed.map((port) => port + 1))].filter((port) => !FETCH_BAD_PORTS.has(port));
    const answers = await Promise.all(others.map(fetchFailure));
    expect(answers.filter((failure) => failure === 'bad port')).toEqual([]);
  });

  it('is refused by new ToolMux() with CONFIG_INVALID naming the port and the fix', () => {
    for (const baseUrl of [
      'http://127.0.0.1:6000',
      'https://tools.example.com:10080/',
      'http://localhost:1',
    ]) {
      let thrown: unknown;
      try {
        new ToolMux({ baseUrl, apiKey: API_KEY });
      } catch (error) {
        thrown = error;
      }
      expect(ToolMuxError.isInstance(thrown)).toBe(true);
      const error = thrown as ToolMuxError;
      expect(error.code).toBe('CONFIG_INVALID');
      const port = new URL(baseUrl).port;
      expect(error.message).toContain(`names port ${port}, which fetch refuses`);
      expect(error.message).toContain('Serve the toolmux server on another port');
      expect(error.details).toEqual({ option: 'baseUrl', port: Number(port) });
    }
    // the default ports, and ports next to bad ones, are fine
    for (const baseUrl of ['http://127.0.0.1', 'https://tools.example.com', 'http://127.0.0.1:6001'])
      expect(new ToolMux({ baseUrl, apiKey: API_KEY }).mode).toBe('remote');
  });

  it('with a fetch of its own it is taken, and a refusal names its cause', async () => {
    // the application's fetch may reach it; this one is the runtime's, which refuses it
    const mux = new ToolMux({ baseUrl: 'http://127.0.0.1:6000', apiKey: API_KEY, fetch: globalThis.fetch });
    const error = await mux.toolkits.list().then(
      () => undefined,
      (caught: unknown) => caught as ToolMuxError,
    );
    expect(error?.code).toBe('SERVER_UNREACHABLE');
    // before, `fetch failed.` named no cause
    expect(error?.message).toContain('fetch failed (bad port)');
    expect(error?.message).toContain('http://127.0.0.1:6000');
  });
});
