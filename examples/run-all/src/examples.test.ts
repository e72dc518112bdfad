import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every example under `examples/` runs as its README says (`node src/main.ts` in its folder, offline:
 * scripted models, loopback servers, an in-memory or temporary store) and prints what shows it worked.
 * The built packages are what they import, as a user's application would.
 */
const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What each example prints when it worked (one pattern per line it must print). */
const EXPECTED: Record<string, RegExp[]> = {
  anthropic: [/^log ACME_GET_ORDER success \(call toolu_TOOLMUX_MULTI_EXECUTE_TOOL#0\)$/m],
  'claude-agent-sdk': [
    /^answer after \d+ turns: Order A-1001 is shipped with DHL, due 2026-03-14\.$/m,
    /^log ACME_GET_ORDER success \(call toolu_multi#0\)$/m,
  ],
  'connect-flow': [/status=success&connected_account_id=ca_/, /^WEATHER_FORECAST → .*"city":"Lisbon"/m],
  google: [/^log ACME_GET_ORDER success \(call fc_TOOLMUX_MULTI_EXECUTE_TOOL#0\)$/m],
  langchain: [/^log: ACME_GET_ORDER \(call_run#0\) success in /m],
  llamaindex: [/^log ACME_GET_ORDER success \(call call_TOOLMUX_MULTI_EXECUTE_TOOL#0\)$/m],
  mastra: [/^log ACME_GET_ORDER success \(call call_TOOLMUX_MULTI_EXECUTE_TOOL#0\)$/m],
  'mcp-client': [/^ACME_GET_ORDER → .*"status":"shipped"/m, /^log: ACME_GET_ORDER success$/m],
  openai: [/^log ACME_GET_ORDER success \(call call_TOOLMUX_MULTI_EXECUTE_TOOL#0\)$/m],
  'openai-agents': [/^log ACME_GET_ORDER success call call_run#0 /m],
  quickstart: [/"successful_count":1,"failed_count":0/, /^log ACME_GET_ORDER success /m],
  'remote-mode': [/^log ACME_GET_ORDER success \(toolkit acme\)$/m],
  'vercel-ai': [/^answer after 3 steps: Order A-1001: .*"status":"shipped"/m],
  workbench: [
    /^turn 1: .*"scanned 500 contacts"/m,
    /^turn 2: \{"result":\{"reminders":3,"saved":\["reminders\.json"\]\}/m,
    /^characters the model read: \d+ with the workbench, \d+ with direct calls$/m,
  ],
};

function run(
  example: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['src/main.ts'],
      {
        cwd: join(examples, example),
        timeout: 90_000,
        env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the examples', () => {
  it('are all listed here', () => {
    const found = readdirSync(examples, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'run-all')
      .map((entry) => entry.name)
      .sort();
    expect(found).toEqual(Object.keys(EXPECTED).sort());
  });

  it.concurrent.each(Object.keys(EXPECTED))('%s runs offline and prints its result', async (example) => {
    const { code, stdout, stderr } = await run(example);
    expect(stderr).not.toMatch(/Error/);
    expect(code, stderr).toBe(0);
    for (const pattern of EXPECTED[example]!) expect(stdout).toMatch(pattern);
  });
});

describe('the remote-mode example on its own', () => {
  // its in-process server listened on 8788: a second run at once, or any program on 8788, failed it
  // with EADDRINUSE
  it('runs twice at once while 8788 is taken, and on REMOTE_EXAMPLE_PORT when given', async () => {
    const busy = createNetServer();
    await new Promise<void>((resolve) => {
      // taken by another program already is as good
      busy.once('error', () => resolve());
      busy.listen(8788, '127.0.0.1', () => resolve());
    });
    try {
      const runs = await Promise.all([run('remote-mode'), run('remote-mode')]);
      for (const { code, stdout, stderr } of runs) {
        expect(code, stderr).toBe(0);
        expect(stdout).toMatch(/^log ACME_GET_ORDER success \(toolkit acme\)$/m);
        expect(stdout).not.toContain('127.0.0.1:8788');
      }
      const port = await new Promise<number>((resolve) => {
        const probe = createNetServer().listen(0, '127.0.0.1', () => {
          const address = probe.address() as AddressInfo;
          probe.close(() => resolve(address.port));
        });
      });
      const given = await run('remote-mode', { REMOTE_EXAMPLE_PORT: String(port) });
      expect(given.code, given.stderr).toBe(0);
      expect(given.stdout).toContain(`remote ToolMux on http://127.0.0.1:${port} `);
    } finally {
      await new Promise((resolve) => (busy.listening ? busy.close(resolve) : resolve(null)));
    }
  }, 120_000);
});

describe('the remote-mode example against `toolmux serve`', () => {
  // what its comment tells a reader to run: the CLI serving the example's own toolkit module, then
  // the example with the server's URL and the key from its api.key (there was no module to serve)
  it('runs with the toolkit module its comment names', async () => {
    const root = join(examples, '..');
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-remote-example-'));
    const server = spawn(
      process.execPath,
      [
        'packages/server/bin/toolmux.js',
        'serve',
        '--toolkits',
        './examples/remote-mode/src/acme.ts',
        '--port',
        '0',
        '--store',
        `sqlite:${join(dir, 'toolmux.db')}`,
        '--log-format',
        'json',
      ],
      { cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const listening = /"url":"(http:\/\/[^"]+)"/.exec(output);
          if (listening) resolve(listening[1]!);
        });
        server.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        server.on('exit', (code) => reject(new Error(`toolmux serve exited ${code}: ${output}`)));
      });
      const apiKey = readFileSync(join(dir, 'api.key'), 'utf8').trim();
      const { code, stdout, stderr } = await run('remote-mode', {
        TOOLMUX_URL: url,
        TOOLMUX_API_KEY: apiKey,
      });
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^log ACME_GET_ORDER success \(toolkit acme\)$/m);
      expect(output).toContain('[server] ACME_GET_ORDER A-1001');
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) =>
        server.exitCode === null ? server.once('exit', resolve) : resolve(null),
      );
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
