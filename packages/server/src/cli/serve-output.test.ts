import { describe, expect, it } from 'vitest';
import { API_KEY, forStarts, SECRET_KEY, serveTestHooks, startServe } from '../test-serve.js';

/**
 * `toolmux serve` whose stdout's reader goes away (`toolmux serve | pino-pretty` stopped with Ctrl-C,
 * a log shipper that restarts): the next log line fails with EPIPE. On the code before, that 'error'
 * event was unhandled and ended the process at once (exit 1, a stack trace), without its drain.
 */
serveTestHooks();

describe('toolmux serve when its stdout is closed', () => {
  it('goes on serving, says so once on stderr, and drains and exits 0 on SIGTERM', forStarts(1), async () => {
    const served = await startServe(['--port', '0', '--store', ':memory:', '--log-format', 'json'], {
      env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    // the reading end of the server's stdout goes away: its next line is EPIPE
    served.child.stdout!.destroy();
    for (let request = 0; request < 5; request++) {
      const response = await fetch(`${served.url}/healthz`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      // the failed write's 'error' event is emitted on a later tick
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const answered = await fetch(`${served.url}/api/v1/toolkits`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(answered.status).toBe(200);
    await answered.arrayBuffer();
    expect(await served.stop('SIGTERM')).toBe(0);
    const notices = served.stderr().split('\n').filter(Boolean);
    expect(notices).toEqual([expect.stringMatching(/^toolmux: stdout failed \(EPIPE\): .*dropped/)]);
  });
});
