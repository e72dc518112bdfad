import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { useHostedConnectPage } from '../internal.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { PostgresStore } from '../store/postgres.js';
import { databaseBackends, databasePerTest, pastTime, quiet } from '../test/auth-fixtures.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * TOOLMUX_WAIT_FOR_CONNECTIONS and session.waitForConnections: a wait in one ToolMux ends when the
 * user finishes connecting through another one on the same database (two stores on one SQLite file,
 * as two processes have; two pools on one PostgreSQL database, as two server instances have).
 */

const secretKey = Buffer.alloc(32, 7).toString('base64');
const baseUrl = 'https://tools.example.com';
const WAIT = MetaToolSlug.WAIT_FOR_CONNECTIONS;
const dist = resolve(import.meta.dirname, '../../dist');

type WaitData = {
  toolkits: Record<string, { status: string; connected_account_id?: string; message: string }>;
  timed_out: boolean;
  next_steps: string;
};

const backends = await databaseBackends();

describe.each(backends)('waiting for connections on $name', ({ name, skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'waits', () => {
    const { database, opened } = databasePerTest(open);

    function instance(): ToolMux {
      const mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: database.spec,
        secretKey,
        baseUrl,
        logger: quiet,
      });
      useHostedConnectPage(mux);
      opened.push(mux);
      return mux;
    }

    async function linkFor(session: Awaited<ReturnType<ToolMux['create']>>, toolkit: string) {
      const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: [toolkit] });
      const [entry] = (managed.data as { results: Array<Record<string, unknown>> }).results;
      expect(entry!.redirect_url).toBeDefined();
      return entry as { connection_request_id: string; message: string };
    }

    it('is listed only with waitForConnections, and its links use the configured callbackUrl', async () => {
      const mux = instance();
      const plain = await mux.create('user_1', { toolkits: ['mail'] });
      expect((await plain.execute(WAIT, { toolkits: ['mail'] })).code).toBe('TOOL_NOT_IN_SESSION');
      const session = await mux.create('user_1', {
        toolkits: ['mail'],
        manageConnections: { callbackUrl: 'https://tools.example.com/back', waitForConnections: true },
      });
      expect(session.config).toMatchObject({
        manageConnections: true,
        waitForConnections: true,
        connectionCallbackUrl: 'https://tools.example.com/back',
      });
      const entry = await linkFor(session, 'mail');
      expect(entry.message).toContain('TOOLMUX_WAIT_FOR_CONNECTIONS');
      expect((await mux.connectionRequests.get(entry.connection_request_id)).callbackUrl).toBe(
        'https://tools.example.com/back',
      );
      // update() keeps the object form
      await session.update({ metadata: { step: '2' } });
      expect(session.config.waitForConnections).toBe(true);
    });

    it('ends when the user completes the hosted form through another instance', async () => {
      const waiting = instance();
      const other = instance();
      const session = await waiting.create('user_1', {
        toolkits: ['mail', 'notes'],
        manageConnections: { waitForConnections: true },
      });
      const entry = await linkFor(session, 'mail');
      let settled = false;
      const wait = session.execute(WAIT, { toolkits: ['mail', 'notes'], timeout_seconds: 60 }).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(settled).toBe(false);
      const account = await other.connectionRequests.complete(entry.connection_request_id, {
        apiKey: 'sk_1',
      });
      const result = await wait;
      expect(result.successful).toBe(true);
      const data = result.data as WaitData;
      expect(data.timed_out).toBe(false);
      expect(data.toolkits.mail).toMatchObject({ status: 'CONNECTED', connected_account_id: account.id });
      // a toolkit without auth is connected from the start
      expect(data.toolkits.notes!.status).toBe('CONNECTED');
      expect(data.next_steps).toContain('continue the task');
    });

    it('ends when another process completes the connection on the same database', async () => {
      const session = await instance().create('user_1', {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      const entry = await linkFor(session, 'mail');
      const wait = session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      const script = `
        import { ToolMux } from ${JSON.stringify(join(dist, 'index.js'))};
        import { createSampleToolkits } from ${JSON.stringify(join(dist, 'test/index.js'))};
        const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: process.env.STORE,
          secretKey: process.env.KEY, logger: { debug() {}, warn() {}, error() {} } });
        const account = await mux.connectionRequests.complete(process.env.REQUEST, { apiKey: 'sk_child' });
        console.log(account.id);
        await mux.close();
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: resolve(import.meta.dirname, '../..'),
        env: { ...process.env, STORE: database.spec, KEY: secretKey, REQUEST: entry.connection_request_id },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const code = await new Promise((done) => child.once('exit', done));
      expect(code).toBe(0);
      const result = await wait;
      expect(result.timedOut).toBe(false);
      expect(result.toolkits.mail).toMatchObject({ status: 'CONNECTED', account: { id: output.trim() } });
    });

    it('times out with the toolkit still PENDING, and says so', async () => {
      const session = await instance().create('user_1', {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      const entry = await linkFor(session, 'mail');
      const result = await session.waitForConnections(['mail'], { timeoutMs: 300 });
      expect(result.timedOut).toBe(true);
      expect(result.toolkits.mail).toMatchObject({
        status: 'PENDING',
        connectionRequestId: entry.connection_request_id,
      });
      expect(result.toolkits.mail!.expiresAt).toBeInstanceOf(Date);
      const viaTool = (await session.execute(WAIT, { toolkits: ['mail'], timeout_seconds: 0 }))
        .data as WaitData;
      expect(viaTool.timed_out).toBe(true);
      expect(viaTool.next_steps).toContain('call TOOLMUX_WAIT_FOR_CONNECTIONS again');
    });

    it('returns at once for a toolkit nobody started connecting, and for an expired link', async () => {
      const session = await instance().create('user_1', {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      const notStarted = await session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      expect(notStarted).toMatchObject({ timedOut: false, toolkits: { mail: { status: 'NOT_STARTED' } } });
      // the application asked: it is pointed to its own way to connect, not to the agent's meta-tool
      expect(notStarted.toolkits.mail!.message).toContain('session.authorize("mail")');
      expect(notStarted.toolkits.mail!.message).not.toContain('TOOLMUX_');
      const notStartedForAgent = (
        await session.execute('TOOLMUX_WAIT_FOR_CONNECTIONS', { toolkits: ['mail'] })
      ).data as { toolkits: Record<string, { message: string }> };
      expect(notStartedForAgent.toolkits.mail!.message).toContain('call TOOLMUX_MANAGE_CONNECTIONS');

      const entry = await linkFor(session, 'mail');
      await database.exec(
        `UPDATE toolmux_connection_requests SET expires_at = ${pastTime(database.spec, 1_000)} WHERE id = '${entry.connection_request_id}'`,
      );
      const expired = await session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      expect(expired).toMatchObject({ timedOut: false, toolkits: { mail: { status: 'EXPIRED' } } });
      expect(expired.toolkits.mail!.message).toContain(
        'Start a new connection with session.authorize("mail")',
      );
      const expiredForAgent = (await session.execute('TOOLMUX_WAIT_FOR_CONNECTIONS', { toolkits: ['mail'] }))
        .data as { toolkits: Record<string, { message: string }> };
      expect(expiredForAgent.toolkits.mail!.message).toContain('TOOLMUX_MANAGE_CONNECTIONS');
      expect(expiredForAgent.toolkits.mail!.message).toContain('reinitiate: true');

      // a new link, then the attempt fails (written past toolmux, as a denied OAuth callback would)
      const again = await linkFor(session, 'mail');
      const waiting = session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await database.exec(
        `UPDATE toolmux_connection_requests SET status = 'FAILED', used_at = ${pastTime(database.spec, 0)} WHERE id = '${again.connection_request_id}'`,
      );
      const failed = await waiting;
      expect(failed).toMatchObject({ timedOut: false, toolkits: { mail: { status: 'FAILED' } } });
      expect(failed.toolkits.mail!.connectionRequestId).toBe(again.connection_request_id);
    });

    it('refuses a bad timeout or toolkit, as a readable tool error and as a ToolMuxError', async () => {
      const session = await instance().create('user_1', {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      const tooLong = await session.execute(WAIT, { toolkits: ['mail'], timeout_seconds: 500 });
      expect(tooLong).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(tooLong.error).toContain('timeout_seconds');
      const unknown = await session.execute(WAIT, { toolkits: ['gitlab'] });
      expect(unknown).toMatchObject({ successful: false, code: 'TOOLKIT_NOT_FOUND' });
      await expect(session.waitForConnections(['mail'], { timeoutMs: 120_001 })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('120001'),
      });
      for (const [timeoutMs, named] of [
        [Number.NaN, 'not NaN'],
        [Number.POSITIVE_INFINITY, 'not Infinity'],
        ['5000', 'not "5000"'],
      ] as const) {
        await expect(
          session.waitForConnections(['mail'], { timeoutMs: timeoutMs as number }),
        ).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining(named) });
      }
      await expect(session.waitForConnections([], {})).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(
        instance().create('user_1', { manageConnections: { enable: false, waitForConnections: true } }),
      ).rejects.toMatchObject({ code: 'CONFIG_CONFLICT' });
      await expect(
        instance().create('user_1', { manageConnections: { callbackUrl: 'not a url' } }),
      ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('callbackUrl') });
      // a URL the allowlist refuses: create() took it, and every link the agent asked for failed with
      // a message about the ToolMux's options that only the agent read
      const refused = { manageConnections: { callbackUrl: 'https://elsewhere.example/back' } };
      await expect(instance().create('user_1', refused)).rejects.toMatchObject({
        code: 'CALLBACK_URL_NOT_ALLOWED',
        message: expect.stringContaining('manageConnections.callbackUrl "https://elsewhere.example/back"'),
      });
      await expect(session.update(refused)).rejects.toMatchObject({ code: 'CALLBACK_URL_NOT_ALLOWED' });
      expect(session.config.connectionCallbackUrl).toBeUndefined();
    });

    it('ends on its abort signal and when the ToolMux closes', async () => {
      const mux = instance();
      const session = await mux.create('user_1', {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      await linkFor(session, 'mail');
      const controller = new AbortController();
      const aborted = session.waitForConnections(['mail'], { timeoutMs: 60_000, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('the user left')), 100);
      await expect(aborted).rejects.toThrow('the user left');

      const closing = session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      setTimeout(() => void mux.close(), 100);
      const error = await closing.catch((caught: unknown) => caught);
      expect(ToolMuxError.isInstance(error) && error.code).toBe('TOOL_ABORTED');
    });

    it('ends with SESSION_NOT_FOUND when its session is deleted, here at once and on another instance at its next wake', async () => {
      const mux = instance();
      const other = instance();
      const config = { toolkits: ['mail'], manageConnections: { waitForConnections: true } };
      const outcome = (wait: Promise<unknown>) =>
        wait.then(
          () => 'resolved',
          (caught: unknown) => (ToolMuxError.isInstance(caught) ? caught.code : String(caught)),
        );

      // deleted through the session object, and through mux.sessions.delete, in this process
      const first = await mux.create('user_1', config);
      await linkFor(first, 'mail');
      let ended = false;
      const byObject = outcome(first.waitForConnections(['mail'], { timeoutMs: 60_000 })).finally(() => {
        ended = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      await first.delete();
      // at once: ended by the time delete() has answered (its promise chain settled by the next check
      // phase), not at the wait's next poll, which only a timer would bring
      await new Promise((resolve) => setImmediate(resolve));
      expect(ended).toBe(true);
      expect(await byObject).toBe('SESSION_NOT_FOUND');

      const second = await mux.create('user_1', config);
      await linkFor(second, 'mail');
      const byMeta = second.execute(WAIT, { toolkits: ['mail'], timeout_seconds: 60 });
      await new Promise((resolve) => setTimeout(resolve, 150));
      await mux.sessions.delete(second.sessionId);
      const result = await byMeta;
      expect(result.successful).toBe(false);
      expect(result.code).toBe('SESSION_NOT_FOUND');
      expect(result.error).toContain(second.sessionId);

      // deleted by another instance: this one learns it when it next reads (within the poll interval)
      const third = await mux.create('user_1', config);
      await linkFor(third, 'mail');
      const elsewhere = outcome(third.waitForConnections(['mail'], { timeoutMs: 60_000 }));
      await new Promise((resolve) => setTimeout(resolve, 150));
      await other.sessions.delete(third.sessionId);
      expect(await elsewhere).toBe('SESSION_NOT_FOUND');

      // a wait of another session of the same user goes on
      const kept = await mux.create('user_1', config);
      await linkFor(kept, 'mail');
      const keptWait = outcome(kept.waitForConnections(['mail'], { timeoutMs: 600 }));
      const gone = await mux.create('user_1', config);
      await gone.delete();
      expect(await keptWait).toBe('resolved');
    });

    it.skipIf(name !== 'postgres')(
      'PostgreSQL notifies a waiting store of a change another instance commits (a connection, a session deleted)',
      async () => {
        const store = await PostgresStore.create({ connectionString: database.spec });
        await store.migrate();
        try {
          const other = instance();
          const session = await other.create('user_notify', { toolkits: ['mail'] });
          const request = await session.authorize('mail');
          let notified = 0;
          const elsewhere = store.watchConnections('someone_else', () => notified--);
          const watch = store.watchConnections('user_notify', () => notified++);
          expect(await watch.ready).toBe(true);
          expect(watch.live()).toBe(true);
          await other.connectionRequests.complete(request.id, { apiKey: 'sk_2' });
          for (let attempt = 0; attempt < 100 && notified === 0; attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          expect(notified).toBeGreaterThan(0);
          // a session deleted on another instance wakes the user's waits too (they then find it gone)
          notified = 0;
          await other.sessions.delete(session.sessionId);
          for (let attempt = 0; attempt < 100 && notified === 0; attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          expect(notified).toBeGreaterThan(0);
          watch.close();
          elsewhere.close();
        } finally {
          await store.close();
        }
      },
    );
  });
});
