import { afterAll, describe, expect, it } from 'vitest';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * An update that gives no key changes nothing: it writes nothing and answers the stored
 * configVersion. It wrote the config again under a new version, which every other object of the
 * session (and every MCP client paging tools/list) took for a change.
 */
const quiet = { debug() {}, warn() {}, error() {} };
const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
afterAll(() => mux.close());

describe('session.update() with nothing to change', () => {
  it('keeps the configVersion and answers the stored one, also after another object updated it', async () => {
    const session = await mux.create('user_1', { toolkits: ['mail'], metadata: { team: 'a' } });
    const version = session.configVersion;
    expect(await session.update({})).toBe(version);
    expect(await session.update({ toolkits: undefined, metadata: undefined })).toBe(version);
    expect((await mux.use(session.sessionId)).configVersion).toBe(version);
    // another object's change is read, not overwritten
    const other = await mux.use(session.sessionId);
    const changed = await other.update({ metadata: { team: 'b' } });
    expect(changed).toBeGreaterThan(version);
    expect(await session.update({})).toBe(changed);
    expect(session.metadata).toEqual({ team: 'b' });
    // a real change still makes a new version
    expect(await session.update({ metadata: { team: 'c' } })).toBeGreaterThan(changed);
  });

  it('is SESSION_NOT_FOUND for a deleted session, as any update', async () => {
    const session = await mux.create('user_2');
    await mux.sessions.delete(session.sessionId);
    await expect(session.update({})).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});
