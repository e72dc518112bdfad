/**
 * @toolmux/core benchmarks:
 * 1. routing overhead of `session.execute` (validation, account resolution, log write) against
 *    calling the same handler directly, next to one loopback HTTP keep-alive round trip;
 * 2. session create + use throughput on SQLite (file) and PostgreSQL.
 * Run: `pnpm bench` or `node bench/core.bench.ts` (after `pnpm build`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createTestPostgresUrl } from '@toolmux/core/test';
import { z } from 'zod';
import { formatNs, measure, printTable } from './harness.ts';

const quiet = { debug() {}, warn() {}, error() {} };
const handler = async (input: { owner: string; repo: string; title: string; labels?: string[] }) => ({
  number: 1,
  title: input.title,
});
const createIssue = defineTool({
  slug: 'BENCH_CREATE_ISSUE',
  description: 'Create an issue',
  inputSchema: z.object({
    owner: z.string(),
    repo: z.string(),
    title: z.string(),
    body: z.string().optional(),
    labels: z.array(z.string()).optional(),
  }),
  execute: handler,
});
const toolkit = defineToolkit({ slug: 'bench', description: 'Benchmark toolkit', tools: [createIssue] });
const args = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug', labels: ['bug'] };

async function loopbackRoundTrip() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end('{"x":1}');
    });
  const result = await measure('loopback HTTP keep-alive round trip', once, { iterations: 2_000 });
  agent.destroy();
  server.close();
  return result;
}

async function routing() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const memory = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: quiet });
  const file = new ToolMux({ toolkits: [toolkit], store: `sqlite:${join(dir, 'bench.db')}`, logger: quiet });
  const memorySession = await memory.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
  const fileSession = await file.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
  const direct = await measure('handler called directly', () => handler(args), { iterations: 20_000 });
  const viaMemory = await measure(
    'session.execute (SQLite :memory: log)',
    () => memorySession.execute('BENCH_CREATE_ISSUE', args),
    {
      iterations: 5_000,
    },
  );
  const viaFile = await measure(
    'session.execute (SQLite file log, WAL)',
    () => fileSession.execute('BENCH_CREATE_ISSUE', args),
    {
      iterations: 5_000,
    },
  );
  const http = await loopbackRoundTrip();
  printTable('routing overhead', [direct, viaMemory, viaFile, http], direct);
  for (const via of [viaMemory, viaFile]) {
    const overhead = via.nsPerOp - direct.nsPerOp;
    console.log(
      `overhead ${via.name}: ${formatNs(overhead)} = ${(overhead / http.nsPerOp).toFixed(2)}× one loopback round trip (target < 0.5×)`,
    );
  }
  await memory.close();
  await file.close();
  rmSync(dir, { recursive: true, force: true });
}

async function sessions(name: string, store: string, secretKey?: string) {
  const mux = new ToolMux({ toolkits: [toolkit], store, secretKey, logger: quiet });
  await mux.create('warmup');
  const create = await measure(`create (${name})`, () => mux.create('user_1', { toolkits: ['bench'] }), {
    iterations: 500,
    rounds: 5,
  });
  const { sessionId } = await mux.create('user_1', { toolkits: ['bench'] });
  const use = await measure(`use (${name})`, () => mux.use(sessionId), { iterations: 1_000, rounds: 5 });
  const concurrent = await measure(
    `create, 16 concurrent (${name})`,
    () => mux.create('user_1', { toolkits: ['bench'] }),
    {
      iterations: 1_000,
      rounds: 5,
      concurrency: 16,
    },
  );
  await mux.close();
  return [create, use, concurrent];
}

async function sessionThroughput() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const rows = await sessions('SQLite file', `sqlite:${join(dir, 'sessions.db')}`);
  try {
    const { url, cleanup } = await createTestPostgresUrl();
    try {
      rows.push(...(await sessions('PostgreSQL', url, Buffer.alloc(32, 1).toString('base64'))));
    } finally {
      await cleanup();
    }
  } catch (error) {
    console.log(`PostgreSQL skipped: ${(error as Error).message}`);
  }
  printTable('session create + use throughput', rows);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * An authenticated call (API-key account through the session's auth config) with the account cache
 * (default 2 s) and without it (`accountCacheTtlMs: 0`: the precedence queries and the decryption
 * run on every call), next to the same session's call of a tool that needs no account.
 */
async function accountCache(name: string, store: string, secretKey: string) {
  const mailbox = defineToolkit({
    slug: 'mailbox',
    description: 'Needs an API key',
    auth: { type: 'api_key', fields: [{ name: 'apiKey' }] },
    tools: [
      defineTool({
        slug: 'MAILBOX_SEND',
        description: 'Send',
        inputSchema: z.object({ to: z.string() }),
        execute: async ({ to }) => ({ to }),
      }),
    ],
  });
  const rows = [];
  for (const ttl of [0, 2000]) {
    const mux = new ToolMux({
      toolkits: [toolkit, mailbox],
      store,
      secretKey,
      logger: quiet,
      accountCacheTtlMs: ttl,
    });
    const config = await mux.authConfigs.create('mailbox', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key' });
    const session = await mux.create('user_1', { authConfigs: { mailbox: config.id } });
    if (ttl === 0) {
      rows.push(
        await measure(`${name}: call without an account`, () => session.execute('BENCH_CREATE_ISSUE', args)),
      );
    }
    rows.push(
      await measure(`${name}: authenticated call, ${ttl === 0 ? 'no account cache' : 'account cache'}`, () =>
        session.execute('MAILBOX_SEND', { to: 'a@example.com' }),
      ),
    );
    await mux.close();
  }
  printTable(`authenticated calls on ${name}`, rows, rows[1]);
}

async function accountCaches() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const secretKey = Buffer.alloc(32, 2).toString('base64');
  await accountCache('SQLite file', `sqlite:${join(dir, 'accounts.db')}`, secretKey);
  try {
    const { url, cleanup } = await createTestPostgresUrl();
    try {
      await accountCache('PostgreSQL', url, secretKey);
    } finally {
      await cleanup();
    }
  } catch (error) {
    console.log(`PostgreSQL skipped: ${(error as Error).message}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

await routing();
await sessionThroughput();
await accountCaches();
