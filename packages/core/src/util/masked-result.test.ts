import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskedResult, secretsLeftAfterMasking } from './masked-result.js';
import { redactForLog } from './redact.js';
import { WorkSlice } from './slices.js';

const SECRET = 'tok_live_7Hq2xZ9';

describe('maskedResult', () => {
  it('is the same value, not a copy, when it holds no secret', async () => {
    const value = { rows: [{ id: 1, name: 'a' }], total: 1, nothing: null };
    expect(await maskedResult(value, [SECRET], new WorkSlice())).toBe(value);
    expect(await maskedResult(value, [], new WorkSlice())).toBe(value);
    expect(await maskedResult('plain', [SECRET], new WorkSlice())).toBe('plain');
  });

  it('masks secrets in strings and keys at any depth, copying only the way to them', async () => {
    const untouched = { id: 1, tags: ['x', 'y'] };
    const value = {
      first: 'no secret',
      untouched,
      nested: { deeper: [1, `Bearer ${SECRET}`, true, null], [`${SECRET}`]: 'keyed by it' },
      last: 3,
    };
    const masked = (await maskedResult(value, [SECRET], new WorkSlice())) as typeof value;
    expect(masked).toEqual({
      first: 'no secret',
      untouched: { id: 1, tags: ['x', 'y'] },
      nested: { deeper: [1, 'Bearer [REDACTED]', true, null], '[REDACTED]': 'keyed by it' },
      last: 3,
    });
    expect(Object.keys(masked)).toEqual(['first', 'untouched', 'nested', 'last']);
    expect(masked).not.toBe(value);
    expect(masked.untouched).toBe(untouched);
    // the value itself is not changed
    expect(value.nested.deeper[1]).toBe(`Bearer ${SECRET}`);
    expect(await maskedResult(`x${SECRET}x`, [SECRET], new WorkSlice())).toBe('x[REDACTED]x');
  });

  it('masks a short secret in a short string beside a long secret (a password beside a token)', async () => {
    const secrets = ['sk_live_0123456789abcdefghijklmnop', 'hunter22'];
    // before: a string under 12 characters was skipped whole once a secret was long enough to have
    // its cut runs masked
    expect(
      await maskedResult({ password: 'hunter22', note: 'pw hunter22' }, secrets, new WorkSlice()),
    ).toEqual({
      password: '[REDACTED]',
      note: 'pw [REDACTED]',
    });
  });

  it('masks the same way with one list of secrets used call after call', async () => {
    const secrets = [SECRET];
    for (let call = 0; call < 3; call++) {
      expect(await maskedResult({ echo: `Bearer ${SECRET}` }, secrets, new WorkSlice())).toEqual({
        echo: 'Bearer [REDACTED]',
      });
    }
  });

  it('masks what a cut left of a secret at the end or start of a string (12 characters or more)', async () => {
    const long = 'ghp_0123456789abcdefghijKLMNOP';
    const cut = (text: string) => maskedResult(text, [long], new WorkSlice());
    expect(await cut(`${'x'.repeat(50)}${long.slice(0, 20)}…`)).toBe(`${'x'.repeat(50)}[REDACTED]…`);
    expect(await cut(`${'x'.repeat(50)}${long.slice(0, 12)}...`)).toBe(`${'x'.repeat(50)}[REDACTED]...`);
    expect(await cut(`body: ${long.slice(0, 16)}`)).toBe('body: [REDACTED]');
    expect(await cut(`…${long.slice(-15)} and more`)).toBe('…[REDACTED] and more');
    expect(await cut(long.slice(0, 25))).toBe('[REDACTED]');
    expect(await cut(long.slice(5))).toBe('[REDACTED]');
    expect(await cut(`a ${long} and ${long.slice(0, 14)}`)).toBe('a [REDACTED] and [REDACTED]');
    // less than 12 characters of it, or not at an end: left as it is (whole secrets only there)
    for (const kept of [`x ${long.slice(0, 11)}…`, `x ${long.slice(0, 20)} y`, 'ghp_ is a prefix'])
      expect(await cut(kept)).toBe(kept);
    // a secret shorter than 16 characters is masked whole only
    const short = 'tok_live_7Hq2xZ';
    expect(await maskedResult(`x ${short.slice(0, 13)}`, [short], new WorkSlice())).toBe(
      `x ${short.slice(0, 13)}`,
    );
  });

  it('masks a text of megabytes a piece at a time, as the whole text is masked, a secret across two pieces too', async () => {
    const long = 'ghp_0123456789abcdefghijKLMNOP';
    const chunk = 64 * 1024;
    const pieces = [
      'a'.repeat(chunk - 10),
      long, // across the first two pieces
      long, // right after it: one marker
      'b'.repeat(3 * chunk),
      `k=${encodeURIComponent(long)}`,
      'c'.repeat(chunk),
      long.slice(0, 20), // cut at the end
    ];
    const text = pieces.join('');
    let pauses = 0;
    const slice = {
      due: () => true,
      pause: async () => {
        pauses++;
      },
    };
    const masked = (await maskedResult({ text }, [long], slice)) as { text: string };
    expect(masked.text).toBe(
      `${'a'.repeat(chunk - 10)}[REDACTED]${'b'.repeat(3 * chunk)}k=[REDACTED]${'c'.repeat(chunk)}[REDACTED]`,
    );
    expect(pauses).toBeGreaterThan(4);
    const plain = 'd'.repeat(6 * chunk);
    expect(await maskedResult(plain, [long], new WorkSlice())).toBe(plain);
  });

  it('keeps a __proto__ key an own property, and a shared object one copy', async () => {
    const shared = { note: SECRET };
    const value = JSON.parse(`{"__proto__": {"k": "${SECRET}"}, "a": 1}`) as Record<string, unknown>;
    value.one = shared;
    value.two = shared;
    const masked = (await maskedResult(value, [SECRET], new WorkSlice())) as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(Object.hasOwn(masked, '__proto__')).toBe(true);
    expect(JSON.stringify(masked)).toBe(
      '{"__proto__":{"k":"[REDACTED]"},"a":1,"one":{"note":"[REDACTED]"},"two":{"note":"[REDACTED]"}}',
    );
    expect(masked.one).toBe(masked.two);
  });

  it('walks keys listed before the walk, leaving out one gone since', async () => {
    const value: Record<string, unknown> = { a: SECRET, b: 'kept', c: 'gone' };
    const keys = Object.keys(value);
    delete value.c;
    const masked = await maskedResult(value, [SECRET], new WorkSlice(), (object) =>
      object === value ? keys : undefined,
    );
    expect(masked).toEqual({ a: '[REDACTED]', b: 'kept' });
  });

  it('walks a large result a slice at a time, its work linear in its size', async () => {
    const rows = (count: number) =>
      Array.from({ length: count }, (_, index) => ({ id: index, note: index % 1000 === 0 ? SECRET : 'n' }));
    let pauses = 0;
    const slice = {
      due: () => true,
      pause: async () => {
        pauses++;
      },
    };
    const masked = (await maskedResult(rows(20_000), [SECRET], slice)) as Array<{ note: string }>;
    expect(pauses).toBeGreaterThan(10);
    expect(masked.filter((row) => row.note === '[REDACTED]')).toHaveLength(20);
    expect(JSON.stringify(masked)).not.toContain(SECRET);
    // the work (looks at the clock, one per 512 members) grows as the result does
    const looks = async (count: number) => {
      let due = 0;
      const counting = {
        due: () => {
          due++;
          return false;
        },
        pause: async () => {},
      };
      await maskedResult(rows(count), [SECRET, 'another_secret_value'], counting);
      return due;
    };
    const small = await looks(20_000);
    const large = await looks(200_000);
    expect(small).toBeGreaterThan(20);
    expect(large / small).toBeGreaterThan(8);
    expect(large / small).toBeLessThan(12);
  });
});

describe('secretsLeftAfterMasking', () => {
  // the execution log of a masked result searches only these: what it writes must be what searching
  // every secret writes, whatever the value and the secrets
  const alphabet = ['a', 'b', 'c', '[', ']', 'R', 'E', 'D', 'A', 'C', 'T', ' ', '%', '"'];
  const text = (max: number) =>
    fc.array(fc.constantFrom(...alphabet), { maxLength: max }).map((chars) => chars.join(''));

  // a secret of the text's characters, or one with a piece of the marker at its end or start
  const marker = fc
    .tuple(fc.nat(9), fc.integer({ min: 1, max: 10 }))
    .map(([at, length]) => '[REDACTED]'.slice(at, at + length));
  const secret = fc.oneof(
    text(8),
    fc.tuple(text(3), marker).map(([head, piece]) => head + piece),
    fc.tuple(marker, text(3)).map(([piece, tail]) => piece + tail),
  );

  it('leaves out a secret the result was masked for, and keeps one a scheme shows', () => {
    const all = ['tok_live_7Hq2xZ9', 'alice@example.com'];
    const masked = ['tok_live_7Hq2xZ9'];
    expect(secretsLeftAfterMasking(all, masked)).toEqual(['alice@example.com']);
    expect(secretsLeftAfterMasking(all, all)).toEqual([]);
    // one that masking could make (it runs across a marker) is searched again
    expect(
      secretsLeftAfterMasking(['x[REDA', 'ACTED]', 'DACT', 'plain'], ['x[REDA', 'ACTED]', 'DACT', 'plain']),
    ).toEqual(['x[REDA', 'ACTED]', 'DACT']);
  });

  it('gives the log of a masked result what searching every secret gives (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(secret, { minLength: 1, maxLength: 4 }).chain((secrets) => {
          // strings of the secrets themselves and a few characters around them
          const string = fc
            .array(fc.oneof(text(3), fc.constantFrom(...secrets)), { maxLength: 5 })
            .map((pieces) => pieces.join(''));
          return fc.tuple(
            fc.constant(secrets),
            fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
            fc.array(fc.oneof(string, fc.dictionary(string, string, { maxKeys: 3 })), { maxLength: 4 }),
          );
        }),
        async ([secrets, shown, value]) => {
          const masked = secrets.filter((_, index) => !shown[index]);
          const result = await maskedResult(value, masked, new WorkSlice());
          expect(redactForLog(result, secretsLeftAfterMasking(secrets, masked))).toBe(
            redactForLog(result, secrets),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('searches again a secret that a marker and the text beside it make', async () => {
    // `ab` and `cd` masked around `x`: the masked text holds `x[REDACTED]` and the secret `x[RED` is in it
    const secrets = ['abcd', 'x[RED'];
    const result = await maskedResult('xabcd', secrets, new WorkSlice());
    expect(result).toBe('x[REDACTED]');
    expect(redactForLog(result, secretsLeftAfterMasking(secrets, secrets))).toBe(
      redactForLog(result, secrets),
    );
    expect(redactForLog(result, secretsLeftAfterMasking(secrets, secrets))).not.toContain('x[RED');
  });
});
