import { describe, expect, it } from 'vitest';
import { API_KEY, forStarts, serveTestHooks, startServe } from '../test-serve.js';

/**
 * `toolmux serve --host 0.0.0.0` (a container, a host served to others) without a base URL hands out
 * MCP URLs, connection links and an OAuth redirect_uri of http://localhost:<port>, which send every
 * client and browser to its own machine. It said nothing of it: the start names it now, and what to set.
 */
serveTestHooks();

const BASE_URL_WARNING = /no base URL is set and the server listens on every interface/;

describe('toolmux serve on every interface', () => {
  it(
    'without a base URL warns that MCP URLs, links and the OAuth callback name localhost, and says what to set',
    forStarts(1),
    async () => {
      const served = await startServe(['--host', '0.0.0.0', '--port', '0', '--store', ':memory:'], {
        env: { TOOLMUX_API_KEY: API_KEY },
      });
      try {
        const port = new URL(served.url).port;
        const warning = served.lines().find((line) => BASE_URL_WARNING.test(String(line.msg)));
        expect(warning, served.stdout()).toMatchObject({ level: 40, base_url: `http://localhost:${port}` });
        expect(warning!.msg).toContain(
          `name http://localhost:${port}, which reaches this server only from this machine`,
        );
        expect(warning!.msg).toContain('Set TOOLMUX_BASE_URL (or --base-url, or baseUrl in the config file)');
        const listening = served.lines().find((line) => String(line.msg).includes('listening on'));
        expect(listening).toMatchObject({ base_url: `http://localhost:${port}` });
        // what it warns of: a session's MCP URL
        const response = await fetch(`${served.url}/api/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: 'user_base_url' }),
        });
        const session = (await response.json()) as { session_id: string; mcp: { url: string } };
        expect(session.mcp.url).toBe(`http://localhost:${port}/mcp/${session.session_id}`);
      } finally {
        await served.stop();
      }
    },
  );

  it.each([
    ['with --base-url', ['--host', '0.0.0.0', '--base-url', 'https://tools.example.test'], {}],
    ['with TOOLMUX_BASE_URL', ['--host', '0.0.0.0'], { TOOLMUX_BASE_URL: 'https://tools.example.test' }],
    ['on loopback', ['--host', '127.0.0.1'], {}],
  ])('%s says nothing of it', forStarts(1), async (_what, args, env) => {
    const served = await startServe([...args, '--port', '0', '--store', ':memory:'], {
      env: { TOOLMUX_API_KEY: API_KEY, ...env },
    });
    try {
      expect(served.stdout()).not.toMatch(BASE_URL_WARNING);
      const listening = served.lines().find((line) => String(line.msg).includes('listening on'));
      expect(listening?.base_url).toBe(
        args.includes('127.0.0.1') ? served.url : 'https://tools.example.test',
      );
    } finally {
      await served.stop();
    }
  });
});
