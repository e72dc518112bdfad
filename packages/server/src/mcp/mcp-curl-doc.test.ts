import { readFileSync } from 'node:fs';
import { builtinToolkits } from '@toolmux/toolkits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The curl sample of the MCP endpoint in docs/rest-and-mcp.md, read from the doc and its requests
 * sent to a running server: each `curl` of the block becomes the same HTTP request (method, headers,
 * body), with the doc's `http://127.0.0.1:8787` standing for the server's address, and each
 * `NAME=$(echo "$X" | jq -r '.a.b')` reads that path of the JSON in X. A change of the doc that no
 * longer works (a header left out, a field renamed) fails here.
 */
const DOC = new URL('../../../../docs/rest-and-mcp.md', import.meta.url);
const DOC_ORIGIN = 'http://127.0.0.1:8787';

/** The ```sh block of the doc that holds the MCP `initialize` request. */
function curlBlock(): string {
  const blocks = [...readFileSync(DOC, 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const found = blocks.filter((block) => block.includes('"method":"initialize"'));
  expect(found, 'one sh block of docs/rest-and-mcp.md sends initialize').toHaveLength(1);
  return found[0]!;
}

/** The words of one shell command: '…' taken as is, "…" and bare words with $NAME expanded. */
function words(command: string, variables: Record<string, string>): string[] {
  const expand = (text: string) =>
    text.replace(/\$(\w+)/g, (_, name: string) => {
      const value = variables[name];
      if (value === undefined) throw new Error(`the sample uses $${name} before setting it`);
      return value;
    });
  const result: string[] = [];
  for (const match of command.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'"]+)/g)) {
    if (match[1] !== undefined) result.push(match[1]);
    else if (match[2] !== undefined) result.push(expand(match[2]));
    else result.push(expand(match[3]!));
  }
  return result;
}

/** The request a `curl` command sends (-s, -X, -H, -d and the URL: the options the sample uses). */
function curlRequest(args: string[], serverUrl: string): { url: string; init: RequestInit } {
  expect(args[0]).toBe('curl');
  let method: string | undefined;
  let url: string | undefined;
  let body: string | undefined;
  const headers = new Headers();
  for (let index = 1; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '-s') continue;
    if (arg === '-X') method = args[++index];
    else if (arg === '-H') {
      const header = args[++index]!;
      const colon = header.indexOf(':');
      headers.append(header.slice(0, colon).trim(), header.slice(colon + 1).trim());
    } else if (arg === '-d') body = args[++index];
    else if (arg.startsWith('-'))
      throw new Error(`the test does not read curl's ${arg}: teach it, or leave it out`);
    else url = arg;
  }
  if (url === undefined) throw new Error(`no URL in: ${args.join(' ')}`);
  return {
    url: url.startsWith(DOC_ORIGIN) ? serverUrl + url.slice(DOC_ORIGIN.length) : url,
    init: { method: method ?? (body === undefined ? 'GET' : 'POST'), headers, body },
  };
}

/** A `jq -r` path (`.a.b`) read from JSON text, as jq prints it. */
function jqPath(json: string, path: string): string {
  let value: unknown = JSON.parse(json);
  for (const key of path.split('.').slice(1)) value = (value as Record<string, unknown>)[key];
  if (typeof value !== 'string') throw new Error(`jq path ${path} is no string in ${json}`);
  return value;
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    toolkits: builtinToolkits.filter((toolkit) => toolkit.slug === 'hackernews'),
  });
});
afterAll(() => server.close());

describe('the curl sample of the MCP endpoint in docs/rest-and-mcp.md', () => {
  it('initializes, lists the tools and calls one, as the doc says', async () => {
    const commands = curlBlock()
      .replace(/\\\n\s*/g, '')
      .trim()
      .split('\n');
    // `KEY=$(cat .toolmux/api.key)`: the server's key file, here its key
    const variables: Record<string, string> = {};
    const answers: Array<{ status: number; headers: Headers; body: string }> = [];
    const send = async (command: string) => {
      const { url, init } = curlRequest(words(command, variables), server.url);
      const response = await fetch(url, init);
      const answer = { status: response.status, headers: response.headers, body: await response.text() };
      return answer;
    };
    for (const command of commands) {
      const assignment = /^(\w+)=\$\((.*)\)$/.exec(command);
      if (assignment === null) {
        answers.push(await send(command));
        continue;
      }
      const [, name, inner] = assignment as unknown as [string, string, string];
      if (inner === 'cat .toolmux/api.key') variables[name] = server.apiKey;
      else if (inner.startsWith('curl ')) {
        const answer = await send(inner);
        expect(answer.status, answer.body).toBeLessThan(300);
        variables[name] = answer.body;
      } else {
        const jq = /^echo "\$(\w+)" \| jq -r '([.\w]+)'$/.exec(inner);
        if (jq === null) throw new Error(`the test does not read: ${inner}`);
        variables[name] = jqPath(variables[jq[1]!]!, jq[2]!);
      }
    }
    expect(variables.MCP_URL).toMatch(new RegExp(`^${server.url}/mcp/ses_`));
    expect(answers).toHaveLength(3);
    for (const answer of answers) {
      expect(answer.status, answer.body).toBe(200);
      expect(answer.headers.get('content-type')).toContain('application/json');
    }
    const [initialize, list, call] = answers.map((answer) => JSON.parse(answer.body)) as Array<
      Record<string, any>
    >;
    expect(initialize).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-06-18' } });
    expect(initialize!.result.serverInfo.name).toBeTypeOf('string');
    // the later requests send no Mcp-Session-Id, which the endpoint does not require, as the doc says
    expect(commands.filter((command) => /mcp-session-id/i.test(command))).toEqual([]);
    const names = (list!.result.tools as Array<{ name: string }>).map((tool) => tool.name);
    expect(names).toContain('TOOLMUX_SEARCH_TOOLS');
    expect(call).toMatchObject({ jsonrpc: '2.0', id: 3 });
    expect(call!.result.isError).not.toBe(true);
    expect(JSON.stringify(call!.result.content)).toContain('HACKERNEWS_');
  });
});
