import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createTestPostgresStore, postgresSkipReason } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import {
  API_KEY,
  CLI,
  cleanEnv,
  forStarts,
  SECRET_KEY,
  serveTestHooks,
  tempDirectory,
} from '../test-serve.js';

/**
 * `toolmux serve --port 0` picked a free port with a probe socket, closed it, and bound the port
 * again only after the store was opened and migrated: another process could take it in between, and
 * the start then failed saying the port was in use. The port is bound once now, before the store
 * opens, and the base URL is made from the port the system chose.
 */
const skipPostgres = await postgresSkipReason();
serveTestHooks();

/** The TCP ports process `pid` listens on (Linux: its socket inodes matched in /proc/<pid>/net/tcp{,6}). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const path = `/proc/${pid}/net/${table}`;
    if (!existsSync(path)) continue;
    for (const row of readFileSync(path, 'utf8').trim().split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      // local_address is ADDRESS:PORT in hex, st 0A is LISTEN, the inode is the tenth field
      if (fields[3] === '0A' && inodes.has(fields[9]!))
        ports.push(Number.parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipPostgres !== undefined || !existsSync('/proc/self/net/tcp'))(
  `toolmux serve --port 0 ${skipPostgres ?? ''}`,
  () => {
    it(
      'holds the port it serves on from before the store opens: nothing can take it meanwhile, and the base URL names it',
      forStarts(2),
      async () => {
        // a store only to run SQL on the schema: the CLI's store is the URL
        const database = await createTestPostgresStore();
        const url = new URL(database.connectionString);
        url.searchParams.set('options', `-c search_path=${database.schema}`);
        url.searchParams.set('application_name', database.schema);
        await database.withClient((client) => client.query(`CREATE SCHEMA "${database.schema}"`));
        await database
          .withClient(async (holder) => {
            // the migrations wait for the table the test holds locked
            await holder.query(
              'CREATE TABLE toolmux_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
            );
            await holder.query('BEGIN');
            await holder.query('LOCK TABLE toolmux_migrations IN ACCESS EXCLUSIVE MODE');
            const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', url.toString()], {
              cwd: tempDirectory(),
              env: cleanEnv({ TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY }),
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
            try {
              // (from another connection: in a transaction pg_stat_activity is read once)
              const waiting = async () =>
                (
                  await database.query(
                    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE '%FROM toolmux_migrations%'",
                    [database.schema],
                  )
                )[0]!.n as number;
              for (let tries = 0; (await waiting()) === 0; tries++) {
                if (tries > 300 || child.exitCode !== null)
                  throw new Error(`serve never reached the migrations:
${stdout}${stderr}`);
                await sleep(50);
              }
              // the store is opening: the port is bound already (on the old code, nothing was)
              const ports = listeningPorts(child.pid!);
              expect(ports, stdout + stderr).toHaveLength(1);
              const [port] = ports;
              const taker = createNetServer();
              const taken = await new Promise<string>((resolve) => {
                taker.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
                taker.listen(port, '127.0.0.1', () => resolve('bound'));
              });
              if (taken === 'bound') taker.close();
              expect(taken).toBe('EADDRINUSE');
              // a connection made before the server serves is closed, not left hanging
              const early = await fetch(`http://127.0.0.1:${port}/healthz`).then(
                (response) => response.status,
                () => 'closed',
              );
              expect(early).toBe('closed');

              await holder.query('COMMIT');
              for (let tries = 0; !stdout.includes('listening on'); tries++) {
                if (tries > 400 || child.exitCode !== null)
                  throw new Error(`serve did not start:\n${stdout}${stderr}`);
                await sleep(50);
              }
              const listening = JSON.parse(stdout.split('\n').find((line) => line.includes('listening on'))!);
              expect(listening.url).toBe(`http://127.0.0.1:${port}`);
              // the base URL is that of the bound port: a session's MCP URL names it
              const created = await fetch(`http://127.0.0.1:${port}/api/v1/sessions`, {
                method: 'POST',
                headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
                body: JSON.stringify({ user_id: 'user_port' }),
              });
              expect(created.status).toBe(201);
              const session = (await created.json()) as { session_id: string; mcp: { url: string } };
              expect(session.mcp.url).toBe(`http://127.0.0.1:${port}/mcp/${session.session_id}`);
            } finally {
              if (child.exitCode === null) {
                child.kill('SIGTERM');
                await new Promise((resolve) => child.once('exit', resolve));
              }
            }
          })
          .finally(() => database.cleanup());
      },
    );
  },
);
