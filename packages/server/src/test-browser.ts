import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * Chromium for the browser tests (Debian's chromium, driven by playwright-core). Not published
 * (`src/test-*.ts` stay out of the package).
 */
export const CHROMIUM = process.env.TOOLMUX_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why a browser suite cannot run here, or undefined when it can; on CI a missing Chromium is an
 * error, not a skip. `suite` names the test file in the warning printed for a skip (a skipped suite
 * shows only as "skipped" in the summary).
 */
export function chromiumSkipReason(suite: string): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason =
    `no Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install -y chromium; macOS: ` +
    'brew install --cask chromium) or set TOOLMUX_CHROMIUM to any Chromium or Chrome binary';
  const ci = process.env.CI;
  if (ci && ci !== 'false' && ci !== '0') throw new Error(`${reason}; CI must run the browser test.`);
  console.warn(`${suite}: the browser tests are SKIPPED — ${reason}.`);
  return reason;
}

/** Launches headless Chromium as the browser tests run it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
