import { ToolMuxError } from '@toolmux/core';
import { describe, expect, it } from 'vitest';
import {
  createExaToolkit,
  createFirecrawlToolkit,
  createGithubToolkit,
  createGmailToolkit,
  createHackernewsToolkit,
  createHttpToolkit,
  createLinearToolkit,
  createNotionToolkit,
  createSlackToolkit,
  mcpToolkit,
} from './index.js';

/**
 * A key a toolkit factory does not take was ignored: `createGithubToolkit({ baseURL })` (the spelling
 * of OpenAI's SDKs) made a toolkit that sent an Enterprise token's calls to api.github.com, and an
 * MCP toolkit's `header` (for `headers`) asked the server without them.
 */
const FACTORIES: Array<[string, (options: never) => unknown, string]> = [
  ['createExaToolkit', createExaToolkit, 'baseUrl'],
  ['createFirecrawlToolkit', createFirecrawlToolkit, 'baseUrl'],
  ['createGithubToolkit', createGithubToolkit, 'baseUrl, webUrl'],
  ['createGmailToolkit', createGmailToolkit, 'baseUrl'],
  ['createHackernewsToolkit', createHackernewsToolkit, 'baseUrl, searchBaseUrl'],
  [
    'createHttpToolkit',
    createHttpToolkit,
    'slug, name, description, keywords, baseUrl, auth, apiKeyHeader, allowPrivateNetwork, lookup, maxResponseCharacters, maxResponseBytes',
  ],
  ['createLinearToolkit', createLinearToolkit, 'baseUrl'],
  ['createNotionToolkit', createNotionToolkit, 'baseUrl'],
  ['createSlackToolkit', createSlackToolkit, 'baseUrl'],
];

async function refusal(make: () => unknown): Promise<ToolMuxError> {
  try {
    await make();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

describe.each(FACTORIES)('%s()', (name, create, options) => {
  it('refuses an option it does not take, naming the closest one and every option', async () => {
    const error = await refusal(() => create({ baseURL: 'https://ghe.example.com/api/v3' } as never));
    expect(error.code).toBe('TOOL_DEFINITION_INVALID');
    expect(error.message).toMatch(
      new RegExp(`^${name}\\(\\) has no option "baseURL"\\. Did you mean "baseUrl"`),
    );
    expect(error.message).toMatch(new RegExp(`Its options: ${options}\\.$`));
    // options that are no object were a TypeError (reading baseUrl of null)
    for (const given of [null, 'https://api.example.com']) {
      const refused = await refusal(() => create(given as never));
      expect(refused.code).toBe('TOOL_DEFINITION_INVALID');
      expect(refused.message).toMatch(
        new RegExp(
          `^${name}\\(\\) takes an options object \\(\\{ ${options} \\}\\) or nothing; got (null|a string)\\.$`,
        ),
      );
    }
    // its own, and one given as undefined, are taken
    expect(() => create({ baseUrl: 'https://api.example.com', baseURL: undefined } as never)).not.toThrow();
  });
});

describe('mcpToolkit()', () => {
  it('refuses an option it does not take with url or with command, before anything is started or asked', async () => {
    const http = await refusal(() =>
      mcpToolkit({ slug: 'docs', url: 'http://127.0.0.1:9/mcp', header: { 'x-api-key': 'k' } } as never),
    );
    expect(http.code).toBe('TOOL_DEFINITION_INVALID');
    expect(http.message).toMatch(
      /^mcpToolkit\(\) with url has no option "header"\. Did you mean "headers".* Its options: slug, name, .*, url, headers, credentialHeader, auth, maxClients, fetch\.$/,
    );
    // an option of the other kind of server
    const stdio = await refusal(() =>
      mcpToolkit({ slug: 'docs', command: 'node', headers: { 'x-api-key': 'k' } } as never),
    );
    expect(stdio.message).toMatch(/^mcpToolkit\(\) with command has no option "headers"\./);
    expect(stdio.message).not.toContain('"k"');
  });
});
