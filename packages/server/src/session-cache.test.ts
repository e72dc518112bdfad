import { randomInt } from 'node:crypto';
import { ToolMux } from '@toolmux/core';
import { openToolMuxStore } from '@toolmux/core/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionCache } from './session-cache.js';

/**
 * A full SessionCache keeps its live sessions when lookups of ids that name no session pour in (an
 * API-key caller sending made-up session ids): neither the lookups under way nor their failures take
 * a place, and the cache stays within `maxEntries`.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A well-formed session id that names no session. */
function unknownSessionId(): string {
  return `ses_01${Array.from({ length: 24 }, () => CROCKFORD[randomInt(32)]).join('')}`;
}

const MAX = 4;
const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

/** A ToolMux with `count` sessions, a full cache of them, and counters of what the cache asks for. */
async function fullCache(count = MAX) {
  const mux = new ToolMux({ toolkits: [], store: ':memory:' });
  opened.push(mux);
  const ids: string[] = [];
  for (let index = 0; index < count; index++) ids.push((await mux.create(`user_${index}`, {})).sessionId);
  const counts = { resumes: 0, existenceReads: 0 };
  const use = mux.use.bind(mux);
  mux.use = ((id: string) => {
    counts.resumes++;
    return use(id);
  }) as typeof mux.use;
  const store = await openToolMuxStore(mux);
  const read = store.getSessionTokenHash.bind(store);
  store.getSessionTokenHash = (id: string) => {
    counts.existenceReads++;
    return read(id);
  };
  const cache = new SessionCache({ toolmux: mux, ttlMs: 60_000, maxEntries: MAX });
  return { mux, ids, counts, cache };
}

describe('SessionCache under a flood of unknown session ids', () => {
  it('get(): the sessions it holds stay cached', async () => {
    const { ids, counts, cache } = await fullCache();
    const cached = [];
    for (const id of ids) cached.push(await cache.get(id));
    expect(counts.resumes).toBe(MAX);
    const flood = await Promise.allSettled(Array.from({ length: 50 }, () => cache.get(unknownSessionId())));
    expect(flood.every((outcome) => outcome.status === 'rejected')).toBe(true);
    expect(flood.map((outcome) => (outcome as PromiseRejectedResult).reason.code)).toEqual(
      Array.from({ length: 50 }, () => 'SESSION_NOT_FOUND'),
    );
    const resumesBefore = counts.resumes;
    for (const [index, id] of ids.entries()) expect(await cache.get(id)).toBe(cached[index]);
    expect(counts.resumes).toBe(resumesBefore);
  });

  it('get(): the cache still holds at most maxEntries sessions, the oldest going first', async () => {
    const { ids, counts, cache } = await fullCache(MAX + 1);
    const first = await cache.get(ids[0]!);
    for (const id of ids.slice(1)) await cache.get(id);
    // the fifth session pushed the first one out: it is resumed again
    const resumes = counts.resumes;
    expect(await cache.get(ids[0]!)).not.toBe(first);
    expect(counts.resumes).toBe(resumes + 1);
  });

  it('checkReadable(): the sessions known to exist stay known', async () => {
    const { ids, counts, cache } = await fullCache();
    for (const id of ids) await cache.checkReadable(id);
    expect(counts.existenceReads).toBe(MAX);
    const flood = await Promise.allSettled(
      Array.from({ length: 50 }, () => cache.checkReadable(unknownSessionId())),
    );
    expect(flood.every((outcome) => outcome.status === 'rejected')).toBe(true);
    const readsBefore = counts.existenceReads;
    for (const id of ids) await cache.checkReadable(id);
    // known within the TTL: no read of the store
    expect(counts.existenceReads).toBe(readsBefore);
  });

  it('concurrent lookups of one session still share one resume', async () => {
    const { ids, counts, cache } = await fullCache();
    const entries = await Promise.all(Array.from({ length: 8 }, () => cache.get(ids[0]!)));
    expect(counts.resumes).toBe(1);
    expect(new Set(entries).size).toBe(1);
  });
});

describe('SessionCache entries that are not asked for again', () => {
  it('are dropped once expired, without a lookup of their id (they held their sessions for good)', async () => {
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    opened.push(mux);
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) ids.push((await mux.create(`user_${index}`, {})).sessionId);
    const cache = new SessionCache({ toolmux: mux, ttlMs: 100 });
    for (const id of ids.slice(0, 10)) await cache.get(id);
    for (const id of ids.slice(10)) await cache.checkReadable(id);
    expect(cache.size).toEqual({ sessions: 10, readable: 10 });
    // within the TTL they stay
    expect((await cache.get(ids[0]!)).session.sessionId).toBe(ids[0]);
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (cache.size.sessions > 0 || cache.size.readable > 0))
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cache.size).toEqual({ sessions: 0, readable: 0 });
    // and a later lookup resumes the session again
    expect((await cache.get(ids[3]!)).session.sessionId).toBe(ids[3]);
    expect(cache.size.sessions).toBe(1);
  });

  it('a known session read again is kept in the order entries expire in, so the sweep still reaches the expired ones behind it', async () => {
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    opened.push(mux);
    const first = (await mux.create('user_a', {})).sessionId;
    const second = (await mux.create('user_b', {})).sessionId;
    const cache = new SessionCache({ toolmux: mux, ttlMs: 400 });
    await cache.checkReadable(first);
    await cache.checkReadable(second);
    // read `first` again past its renewal point: it is read again in the background and renewed
    await new Promise((resolve) => setTimeout(resolve, 320));
    await cache.checkReadable(first);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // `second` expires (and is dropped) while the renewed `first` stays
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && cache.size.readable > 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(cache.size.readable).toBe(1);
  });
});
