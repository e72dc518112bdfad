import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolMux } from '@toolmux/core';
import { describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { API_KEY, forStarts, serveTestHooks, startServe, tempDirectory } from '../test-serve.js';

/**
 * A refused REST or Composio-route request was told the key is in `./.toolmux/api.key`, whatever the
 * server read it from: a server started with `--store sqlite:/srv/…/toolmux.db` keeps its key beside
 * that database, and one started with TOOLMUX_API_KEY has no key file at all. The 401 names the file
 * (or variable, or config file) the running server read its key from, and never the key.
 */
serveTestHooks();

async function refused(url: string): Promise<string[]> {
  const rest = await fetch(`${url}/api/v1/toolkits`, {
    headers: { authorization: 'Bearer wrong-key-0123456789abc' },
  });
  const composio = await fetch(`${url}/api/v3.1/connected_accounts/ca_x`, {
    headers: { 'x-api-key': 'wrong-key-0123456789abc' },
  });
  expect([rest.status, composio.status]).toEqual([401, 401]);
  const restBody = (await rest.json()) as { error: { message: string } };
  const composioBody = (await composio.json()) as { error: { message: string } };
  return [restBody.error.message, composioBody.error.message];
}

describe('the 401 of a `toolmux serve` names where that server reads its key', () => {
  it('a key file beside a database given by --store: that file', forStarts(1), async () => {
    const cwd = tempDirectory();
    const data = tempDirectory();
    const served = await startServe(
      [
        '--store',
        `sqlite:${join(data, 'toolmux.db')}`,
        '--port',
        '0',
        '--log-format',
        'json',
        '--log-level',
        'info',
      ],
      { cwd },
    );
    try {
      const keyFile = join(data, 'api.key');
      const key = readFileSync(keyFile, 'utf8').trim();
      for (const message of await refused(served.url)) {
        // outside the server's working directory: by its name (the directories are not for every caller)
        expect(message).toContain(
          "The key is in the file api.key (the whole path is in the server's startup log) on the server's machine.",
        );
        expect(message).not.toContain(data);
        expect(message).not.toContain('.toolmux/api.key');
        expect(message).not.toContain(key);
      }
      expect(existsSync(join(cwd, '.toolmux'))).toBe(false);
    } finally {
      await served.stop();
    }
  });

  it('TOOLMUX_API_KEY: the variable, no key file', forStarts(1), async () => {
    const served = await startServe(
      ['--store', 'sqlite:./data/t.db', '--port', '0', '--log-format', 'json', '--log-level', 'info'],
      {
        env: { TOOLMUX_API_KEY: API_KEY },
      },
    );
    try {
      for (const message of await refused(served.url)) {
        expect(message).toContain(
          "The key is the server's TOOLMUX_API_KEY (the environment variable it was started with).",
        );
        expect(message).not.toContain('api.key');
        expect(message).not.toContain(API_KEY);
      }
    } finally {
      await served.stop();
    }
  });

  it('apiKey of a config file: that file', forStarts(1), async () => {
    const cwd = tempDirectory();
    const config = join(cwd, 'toolmux.config.mjs');
    writeFileSync(
      config,
      `export default { store: 'sqlite:./data/t.db', apiKey: '${API_KEY}', port: 0, log: { level: 'info', format: 'json' } };\n`,
    );
    const served = await startServe([], { cwd });
    try {
      for (const message of await refused(served.url)) {
        // inside it: by its path from there
        expect(message).toContain("The key is apiKey in the server's config file ./toolmux.config.mjs.");
        expect(message).not.toContain(cwd);
        expect(message).not.toContain(API_KEY);
      }
    } finally {
      await served.stop();
    }
  });
});

describe('createServer({ apiKeySource })', () => {
  it('is named by the 401; a wrong one is refused naming the forms it takes', async () => {
    const toolmux = new ToolMux({ toolkits: [], store: ':memory:' });
    const server = createServer({ toolmux, apiKey: API_KEY, apiKeySource: { variable: 'APP_TOOLMUX_KEY' } });
    const answer = await server.app.request('/api/v1/toolkits');
    const body = (await answer.json()) as { error: { message: string } };
    expect(answer.status).toBe(401);
    expect(body.error.message).toContain(
      "The key is the server's APP_TOOLMUX_KEY (the environment variable it was started with).",
    );
    for (const source of [{ path: '/x' }, { file: '' }, { file: '/a', variable: 'B' }, 'api.key']) {
      expect(() => createServer({ toolmux, apiKey: API_KEY, apiKeySource: source as never })).toThrow(
        /^apiKeySource must be one of \{ file: '<path of the key file>' \}, \{ variable: '<environment variable name>' \} or \{ configFile: '<path of the config file>' \}/,
      );
    }
  });
});
