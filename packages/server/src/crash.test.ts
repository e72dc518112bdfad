import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, spawnServe } from './test-helpers.js';

/**
 * A real `toolmux serve` child process is killed with SIGKILL in the middle of a burst of writes;
 * after a restart on the same database, every write the server acknowledged (sessions, connected
 * accounts, and the execution log entry of every answered call) must be there.
 */
const FIXTURE = fileURLToPath(new URL('./cli/fixture-toolkits.mjs', import.meta.url));
const API_KEY = `tmx_ak_${randomBytes(24).toString('base64url')}`;
const SECRET_KEY = randomBytes(32).toString('base64');

const skipPostgres = await postgresSkipReason();
const directory = mkdtempSync(join(tmpdir(), 'toolmux-crash-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
});

interface Server {
  url: string;
  child: ChildProcess;
}

function start(store: string): Promise<Server> {
  return spawnServe(['--store', store, '--toolkits', FIXTURE], {
    TOOLMUX_API_KEY: API_KEY,
    TOOLMUX_SECRET_KEY: SECRET_KEY,
  });
}

async function stop(server: Server, signal: NodeJS.Signals): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill(signal);
  await exited;
}

async function api<T>(
  server: Server,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as T };
}

/** What the server answered with success before it was killed. */
interface Acknowledged {
  sessions: string[];
  accounts: string[];
  /** log id → session id */
  logs: Map<string, string>;
}

/**
 * Clients send sessions, accounts and tool calls as fast as the server answers; the server is killed
 * once `killAfter` calls were answered, with requests of every kind in flight.
 */
async function burstAndKill(server: Server, authConfigId: string, killAfter: number): Promise<Acknowledged> {
  const acknowledged: Acknowledged = { sessions: [], accounts: [], logs: new Map() };
  let killed = false;
  let killing: Promise<void> | undefined;
  const client = async (worker: number) => {
    for (let step = 0; !killed; step++) {
      try {
        const kind = step % 20;
        if (kind === 0 || acknowledged.sessions.length === 0) {
          const { status, json } = await api<{ session_id: string }>(server, 'POST', '/sessions', {
            user_id: `user_${worker}_${step}`,
            config: { toolkits: ['tasks'] },
          });
          if (status === 201 || status === 200) acknowledged.sessions.push(json.session_id);
        } else if (kind === 1) {
          const { status, json } = await api<{ id: string }>(server, 'POST', '/connected-accounts', {
            user_id: `user_${worker}_${step}`,
            auth_config_id: authConfigId,
            credentials: { apiKey: `key_${worker}_${step}_0123456789` },
          });
          if (status === 201) acknowledged.accounts.push(json.id);
        } else {
          const sessionId = acknowledged.sessions[step % acknowledged.sessions.length]!;
          const { status, json } = await api<{ successful: boolean; log_id: string }>(
            server,
            'POST',
            `/sessions/${sessionId}/execute`,
            {
              tool_slug: 'TASKS_CREATE_TASK',
              arguments: { title: `task ${worker} ${step}` },
              call_id: `call_${step}`,
            },
          );
          if (status === 200 && json.successful) acknowledged.logs.set(json.log_id, sessionId);
        }
      } catch {
        // the connection died with the server: the request was not acknowledged
        if (server.child.signalCode !== null) killed = true;
      }
    }
  };
  // the kill comes at a moment of its own, not right after an answer, so that answers whose writes
  // are still under way are among the acknowledged ones
  const timer = setInterval(() => {
    if (acknowledged.logs.size < killAfter || killing) return;
    killing = stop(server, 'SIGKILL');
    killed = true;
    clearInterval(timer);
  }, 7);
  await Promise.all(Array.from({ length: 48 }, (_, worker) => client(worker)));
  await killing;
  return acknowledged;
}

/** The acknowledged writes the restarted server does not know. */
async function missing(server: Server, acknowledged: Acknowledged) {
  const lost = { sessions: 0, accounts: 0, logs: 0 };
  for (const id of acknowledged.sessions) {
    if ((await api(server, 'GET', `/sessions/${id}`)).status !== 200) lost.sessions++;
  }
  for (const id of acknowledged.accounts) {
    if ((await api(server, 'GET', `/connected-accounts/${id}`)).status !== 200) lost.accounts++;
  }
  const sessions = new Set(acknowledged.logs.values());
  const stored = new Set<string>();
  for (const sessionId of sessions) {
    let cursor: string | null = null;
    do {
      const page: { json: { items: Array<{ id: string }>; next_cursor: string | null } } = await api(
        server,
        'GET',
        `/sessions/${sessionId}/logs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      for (const item of page.json.items) stored.add(item.id);
      cursor = page.json.next_cursor;
    } while (cursor !== null);
  }
  for (const id of acknowledged.logs.keys()) if (!stored.has(id)) lost.logs++;
  return lost;
}

async function crashAndCount(store: string) {
  const first = await start(store);
  try {
    const { json: config } = await api<{ id: string }>(first, 'POST', '/auth-configs', {
      toolkit: 'mail',
      type: 'api_key',
    });
    const acknowledged = await burstAndKill(first, config.id, 300);
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(acknowledged.logs.size).toBeGreaterThanOrEqual(300);
    expect(acknowledged.sessions.length).toBeGreaterThan(10);
    expect(acknowledged.accounts.length).toBeGreaterThan(10);
    const second = await start(store);
    try {
      expect(await missing(second, acknowledged)).toEqual({ sessions: 0, accounts: 0, logs: 0 });
    } finally {
      await stop(second, 'SIGTERM');
    }
  } finally {
    await stop(first, 'SIGKILL');
  }
}

describe('kill -9 during a burst loses no acknowledged write', () => {
  it('on SQLite', { timeout: 60_000 }, async () => {
    await crashAndCount(`sqlite:${join(directory, 'crash.db')}`);
  });

  it.skipIf(skipPostgres !== undefined)(
    `on PostgreSQL ${skipPostgres ?? ''}`,
    { timeout: 60_000 },
    async () => {
      const database = await createTestPostgresUrl();
      try {
        await crashAndCount(database.url);
      } finally {
        await database.cleanup();
      }
    },
  );
});
