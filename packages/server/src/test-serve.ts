import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { MetaToolSlug } from '@toolmux/core';
import { untilTestTimeout } from '@toolmux/core/test';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * What the tests of `toolmux serve` in a child process share (`cli/serve.test.ts` and
 * `cli/serve-refusals.test.ts`, two files so that they run side by side): the built CLI, the fixture
 * modules, keys, and helpers that start it.
 */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const SERVER_INDEX = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
export const SAMPLE = fileURLToPath(new URL('./cli/fixture-toolkits.mjs', import.meta.url));
export const SLOW = fileURLToPath(new URL('./cli/fixture-slow.mjs', import.meta.url));
export const OCTO = fileURLToPath(new URL('./cli/fixture-octo.mjs', import.meta.url));
export const SHADOW = fileURLToPath(new URL('./cli/fixture-shadow.mjs', import.meta.url));
export const SIZED = fileURLToPath(new URL('./cli/fixture-sized.mjs', import.meta.url));
export const API_KEY = `tmx_ak_${randomBytes(24).toString('base64url')}`;
export const SECRET_KEY = randomBytes(32).toString('base64');

/** The environment without any toolmux variable of the machine running the tests. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TOOLMUX_') && name !== 'PORT' && name !== 'NODE_ENV') env[name] = value;
  }
  return { ...env, ...extra };
}

const directories: string[] = [];
export function tempDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'toolmux-serve-'));
  directories.push(directory);
  return directory;
}

/** Checks that the CLI is built before a test file's tests, and removes its temporary directories after them. */
export function serveTestHooks(): void {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
  });
  afterAll(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });
}

/**
 * How long one start of the CLI may take before the helpers below give up on it with its output. A
 * start costs ~0.45 s of CPU; with the whole suite running on a loaded 2-core machine six starts in a
 * row took 26 s. A test's timeout is this per start it makes ({@link forStarts}), so that a slow
 * start fails with the CLI's own output, not with a bare test timeout.
 */
export const START_MS = 20_000;
export const forStarts = (starts: number) => ({ timeout: starts * START_MS });

/** Runs `toolmux serve` that must fail: its exit code and output. */
export function failingServe(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? tempDirectory(),
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve ${args.join(' ')} did not exit:\n${stdout}${stderr}`));
    }, START_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

/** One line on stderr, no stack trace, nothing claiming to listen. */
export function expectOneLine(result: { stdout: string; stderr: string }): string {
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout).not.toContain('listening');
  expect(lines[0]).toMatch(/^toolmux: /);
  return lines[0]!;
}

export interface Served {
  child: ChildProcess;
  url: string;
  /** Everything on stdout so far. */
  stdout(): string;
  /** Everything on stderr so far. */
  stderr(): string;
  /** stdout as JSON log lines. */
  lines(): Array<Record<string, unknown>>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `toolmux serve` (JSON logs) and resolves once it says it is listening. `prefix` is a command
 * that runs Node.js (`['unshare', '--pid', '--fork']`): the child is then that command.
 */
export function startServe(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
): Promise<Served> {
  const [file, ...before] = options.prefix ?? [process.execPath];
  const node = options.prefix ? [process.execPath] : [];
  const child = spawn(file!, [...before, ...node, CLI, 'serve', ...args], {
    cwd: options.cwd ?? tempDirectory(),
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stdout}${stderr}`)), START_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const listening = lines().find((line) => String(line.msg).includes('listening on'));
      if (listening) {
        clearTimeout(timer);
        resolve({
          child,
          url: listening.url as string,
          stdout: () => stdout,
          stderr: () => stderr,
          lines,
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}:\n${stdout}${stderr}`)));
  });
}

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

/**
 * A call of the slow tool (`SLOW_WAIT`, `ms` long) in session `sessionId` on the server at `url`,
 * with `x-request-id: requestId` when given: its answer, or the error of a request that got none.
 */
export function slowCall(url: string, sessionId: string, ms: number, requestId?: string): Promise<unknown> {
  return api(
    url,
    'POST',
    `/sessions/${sessionId}/execute`,
    { tool_slug: 'SLOW_WAIT', arguments: { ms } },
    requestId === undefined ? {} : { 'x-request-id': requestId },
  ).catch((error: unknown) => error);
}

/** Polls until `check` passes (the server's view of its store changes asynchronously), for as long as the test may take. */
export async function eventually<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + untilTestTimeout().timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The connection waits the server at `url` holds (its `toolmux_connection_waits` gauge). */
async function heldWaits(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = /^toolmux_connection_waits (\d+)$/m.exec(text);
  return line ? Number(line[1]) : Number.NaN;
}

/**
 * Resolves once the server at `url` holds `count` connection waits (each request has reached its
 * wait: a drain from then on must answer it), within {@link START_MS}.
 */
export async function untilHeld(url: string, count: number): Promise<void> {
  const deadline = Date.now() + START_MS;
  for (;;) {
    const held = await heldWaits(url);
    if (held === count) return;
    if (Date.now() > deadline) throw new Error(`the server holds ${held} connection waits, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A session of `drain_waiter` on the server at `url` whose mail connection is PENDING (a connection
 * request made through TOOLMUX_MANAGE_CONNECTIONS), with `client` connected to its MCP endpoint: its
 * id and the connection request's.
 */
export async function sessionAwaitingMail(
  url: string,
  client: Client,
): Promise<{ sessionId: string; requestId: string }> {
  const created = await api(url, 'POST', '/sessions', {
    user_id: 'drain_waiter',
    config: { toolkits: ['mail'], manageConnections: { waitForConnections: true } },
  });
  if (created.status !== 201) throw new Error(`POST /sessions answered ${created.status}`);
  const sessionId = created.json.session_id as string;
  const managed = await api(url, 'POST', `/sessions/${sessionId}/execute`, {
    tool_slug: MetaToolSlug.MANAGE_CONNECTIONS,
    arguments: { toolkits: ['mail'] },
  });
  const requestId = managed.json.data.results[0].connection_request_id as string;
  if (!requestId?.startsWith('cr_'))
    throw new Error(`no connection request: ${JSON.stringify(managed.json)}`);
  const endpoint = new URL(`${url}${new URL(created.json.mcp.url).pathname}`);
  await client.connect(
    new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: created.json.mcp.headers } }),
  );
  return { sessionId, requestId };
}
