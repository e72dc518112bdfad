import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { parseStoreSpec } from './open-store.js';
import { PostgresStore } from './postgres.js';
import { shownStoreSpec } from './store-spec-text.js';

// pg's own parser of connection strings, as pg (a dependency of core) loads it
const requireFromPg = createRequire(createRequire(import.meta.url).resolve('pg'));
const parsePgUrl = requireFromPg('pg-connection-string').parse as (url: string) => Record<string, unknown>;

describe('shownStoreSpec', () => {
  it.each([
    // the password of the userinfo, where the URL parser ends it: at the last @ before the host
    ['postgres://app:hunter2pw@db:5432/x', 'postgres://app:***@db:5432/x'],
    ['postgresql://app:hun@ter2pw@db/x', 'postgresql://app:***@db/x'],
    ['postgres://app:hunter%2F2pw@db/x', 'postgres://app:***@db/x'],
    ['postgres://app:hun ter2pw@db/x', 'postgres://app:***@db/x'],
    ['postgres://:hunter2pw@db/x', 'postgres://:***@db/x'],
    ['postgres://app:hunter2pw@/x?host=/run/postgresql', 'postgres://app:***@/x?host=/run/postgresql'],
    ['mysql://admin:hunter2pw@db/app', 'mysql://admin:***@db/app'],
    // password-like parameters (pg takes every parameter of the URL); paths are shown
    [
      'postgres://app@127.0.0.1:1/toolmux?password=hunter2pw',
      'postgres://app@127.0.0.1:1/toolmux?password=***',
    ],
    [
      'postgres://db/x?sslmode=require&sslpassword=hunter2pw&sslkey=/etc/toolmux/client.key',
      'postgres://db/x?sslmode=require&sslpassword=***&sslkey=/etc/toolmux/client.key',
    ],
    [
      'postgres://db/x?PASSWORD=hunter2pw&pass%77ord=hunter2pw',
      'postgres://db/x?PASSWORD=***&pass%77ord=***',
    ],
    ['postgres://db/x?password=hun#ter2pw', 'postgres://db/x?password=***'],
    [
      'postgres://db/x?password=hun&ter2pw&sslmode=require',
      'postgres://db/x?password=***&***&sslmode=require',
    ],
    // no URL, or an @ after the host: everything between :// and the last @
    ['postgres://app:hun/ter2pw@127.0.0.1:1/toolmux', 'postgres://***@127.0.0.1:1/toolmux'],
    ['postgres://app:12/ter2pw@db/x', 'postgres://***@db/x'],
    ['postgres://app:hun?ter2pw@db/x', 'postgres://***@db/x'],
    ['postgres://app:12?ter2pw@db/x', 'postgres://***@db/x'],
    ['postgres://app:hun#ter2pw@db/x', 'postgres://***@db/x'],
    ['postgres://app:hunter2pw@db:port/x', 'postgres://***@db:port/x'],
    ['postgres://app:hunter2pw@db/x?sslkey=/home/me@corp/k', 'postgres://***@corp/k'],
    // nothing to hide
    ['postgres://app@db:5432/x?sslmode=require', 'postgres://app@db:5432/x?sslmode=require'],
    ['postgres://db/x', 'postgres://db/x'],
    ['sqlite:./data/toolmux.db', 'sqlite:./data/toolmux.db'],
    [':memory:', ':memory:'],
    ['./p@ss:word.db', './p@ss:word.db'],
  ])('%s', (spec, shown) => {
    expect(shownStoreSpec(spec)).toBe(shown);
    expect(shownStoreSpec(spec)).not.toMatch(/hunter2pw|ter2pw/);
  });

  /** Characters that move where a URL parser ends the userinfo, or that it refuses. */
  const tricky = fc
    .array(fc.constantFrom(...'aZ9/?#@:%&= +.-_[]\\é\u{1F600}'), { maxLength: 8 })
    .map((characters) => characters.join(''));

  it('never shows a userinfo password, whatever it holds', () => {
    fc.assert(
      fc.property(
        tricky,
        tricky,
        fc.constantFrom('db:5432/x', 'db/x?sslmode=require', '/x'),
        (a, b, rest) => {
          const spec = `postgres://app:${a}SECRET${b}@${rest}`;
          expect(shownStoreSpec(spec)).not.toContain('SECRET');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never shows a password parameter, whatever it holds but an &', () => {
    fc.assert(
      fc.property(
        tricky.filter((text) => !text.includes('&')),
        tricky.filter((text) => !text.includes('&')),
        fc.constantFrom('password', 'sslpassword', 'Password'),
        (a, b, name) => {
          const spec = `postgres://app@db:5432/x?sslmode=require&${name}=${a}SECRET${b}`;
          expect(shownStoreSpec(spec)).not.toContain('SECRET');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('parseStoreSpec of a PostgreSQL URL', () => {
  function refusal(spec: string): ToolMuxError {
    try {
      parseStoreSpec(spec);
    } catch (error) {
      if (ToolMuxError.isInstance(error)) return error;
      throw error;
    }
    throw new Error(`${spec} was accepted`);
  }

  it.each([
    ['postgres://app:hun/ter2pw@127.0.0.1:1/toolmux', 'postgres://***@127.0.0.1:1/toolmux'],
    ['postgres://app:12/ter2pw@db/x', 'postgres://***@db/x'],
    ['postgres://app:hunter2pw@db:port/x', 'postgres://***@db:port/x'],
    ['postgres://app:%c3%28hunter2pw@db/x', 'postgres://app:***@db/x'],
  ])('refuses %s (STORE_CONFIG_INVALID), masked, naming the fix', (spec, shown) => {
    const error = refusal(spec);
    expect(error.code).toBe('STORE_CONFIG_INVALID');
    expect(error.message).toContain(`Invalid store "${shown}"`);
    expect(error.message).toContain('percent-encode the user name and password');
    expect(error.message).not.toMatch(/hunter2pw|ter2pw/);
  });

  it('accepts what pg reads: an @ in the password (pg splits at the last one), a space, a dummy host', () => {
    for (const spec of [
      'postgres://app:hun@ter2pw@db/x',
      'postgres://app:hun ter2pw@db/x',
      'postgres://app:hunter2pw@/x?host=/run/postgresql',
      'postgres://app@db/x?password=a%2Fb',
    ]) {
      expect(parseStoreSpec(spec)).toEqual({ dialect: 'postgres', connectionString: spec });
      expect(() => parsePgUrl(spec)).not.toThrow();
    }
    expect(parsePgUrl('postgres://app:hun@ter2pw@db/x')).toMatchObject({
      password: 'hun@ter2pw',
      host: 'db',
    });
  });

  it('accepts only URLs pg can read: pg never throws on one it accepted', () => {
    const part = fc
      .array(fc.constantFrom(...'aZ9/?#@:%&= .-_[]é\u{1F600}\uD800'), { maxLength: 6 })
      .map((characters) => characters.join(''));
    fc.assert(
      fc.property(part, part, part, part, (user, password, host, database) => {
        const spec = `postgres://${user}:${password}@${host}/${database}`;
        let accepted = true;
        try {
          parseStoreSpec(spec);
        } catch (error) {
          expect(ToolMuxError.isInstance(error) && error.code).toBe('STORE_CONFIG_INVALID');
          accepted = false;
        }
        if (accepted) expect(() => parsePgUrl(spec), spec).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('PostgresStore.create refuses what pg would throw on at the first connection, without connecting', async () => {
    const store = PostgresStore.create({
      connectionString: 'postgres://app:hunter2pw@127.0.0.1:1/x?sslkey=/nonexistent/toolmux-client.key',
    });
    await expect(store).rejects.toMatchObject({ code: 'STORE_CONFIG_INVALID' });
    const error = (await store.then(
      () => undefined,
      (thrown: unknown) => thrown,
    )) as ToolMuxError;
    expect(error.message).toContain(
      'postgres://app:***@127.0.0.1:1/x?sslkey=/nonexistent/toolmux-client.key',
    );
    expect(error.message).toContain('ENOENT');
    expect(error.message).not.toContain('hunter2pw');
  });
});
