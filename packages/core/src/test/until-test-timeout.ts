import { TestRunner } from 'vitest';

/** How much sooner than the test's own timeout the wait gives up, so its last failure is the one shown. */
const MARGIN_MS = 1000;

/**
 * Options for `vi.waitFor` and `expect.poll` that wait as long as the running test may take (its own
 * timeout, less a second so the wait's last failure is what the report shows) instead of their 1 s
 * default. For waits on something that is slow on a loaded machine: a framework's agent loop, a server
 * (the scripted model's, toolmux's), a store, a child process. The default failed in CI under load
 * (Claude Code's first tool call came after more than a second); a wait whose condition never holds
 * still fails, at the test's timeout.
 */
export function untilTestTimeout(): { timeout: number; interval: number } {
  const timeout = TestRunner.getCurrentTest()?.timeout;
  if (!timeout || timeout <= MARGIN_MS) {
    throw new Error(
      `untilTestTimeout() reads the running test's timeout (here ${String(timeout)}); call it inside a test that has one of more than ${MARGIN_MS} ms`,
    );
  }
  return { timeout: timeout - MARGIN_MS, interval: 20 };
}
