import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cutUtf8,
  MAX_LOG_PAYLOAD_BYTES,
  maskSecrets,
  maskSecretsLeading,
  REDACTED,
  redactForLog,
  truncateUtf8,
} from './redact.js';

const MARKER = '…[truncated]';
const SECRET_KEY =
  /(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|^auth$|bearer|signature)/i;

/** The specification, written the slow and obvious way: every occurrence of a secret, merged. */
function referenceMask(text: string, secrets: readonly string[]): string {
  const covered = new Array<boolean>(text.length).fill(false);
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1))
      for (let index = at; index < at + secret.length; index++) covered[index] = true;
  }
  let out = '';
  for (let index = 0; index < text.length; index++) {
    if (!covered[index]) out += text[index];
    else if (index === 0 || !covered[index - 1]) out += REDACTED;
  }
  return out;
}

/** The whole redacted JSON, without a budget. */
function referenceJson(value: unknown, secrets: readonly string[]): string {
  const str = (text: string) => JSON.stringify(referenceMask(text, secrets).replaceAll('\0', '\uFFFD'));
  if (typeof value === 'string') return str(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => referenceJson(item, secrets)).join(',')}]`;
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return `{${entries
    .map(
      ([key, item]) =>
        `${str(key)}:${SECRET_KEY.test(key) && item !== null && item !== '' ? JSON.stringify(REDACTED) : referenceJson(item, secrets)}`,
    )
    .join(',')}}`;
}

/** What the log must hold: the reference JSON, or its first 4 KB (whole characters) marked as cut. */
function expected(value: unknown, secrets: readonly string[]): string {
  const json = referenceJson(value, secrets);
  if (Buffer.byteLength(json) <= MAX_LOG_PAYLOAD_BYTES) return json;
  return cutUtf8(json, MAX_LOG_PAYLOAD_BYTES - Buffer.byteLength(MARKER)) + MARKER;
}

// secrets and text from a small alphabet, so that secrets occur, overlap and repeat in the values
const piece = fc.string({ unit: fc.constantFrom('a', 'b', 'k', '\0', '"', 'é', '😀', '\n'), maxLength: 8 });
const secretArb = fc.string({ unit: fc.constantFrom('a', 'b', 'k', 'é', '😀'), minLength: 2, maxLength: 12 });
const keyArb = fc.oneof(piece, fc.constantFrom('password', 'apiKey', 'auth', 'author', 'token', 'x'));

function valueArb(secrets: string[]) {
  const text = fc.oneof(
    piece,
    fc
      .array(fc.oneof(piece, secrets.length > 0 ? fc.constantFrom(...secrets) : piece), { maxLength: 30 })
      .map((parts) => parts.join('')),
    // long runs of secrets: masking shrinks them, so the serializer reads on across its windows
    fc
      .array(
        fc.oneof(
          { weight: 5, arbitrary: secrets.length > 0 ? fc.constantFrom(...secrets) : piece },
          { weight: 1, arbitrary: piece },
        ),
        { minLength: 300, maxLength: 3000 },
      )
      .map((parts) => parts.join('')),
    // long strings: the 4 KB cut, with secrets around it
    fc
      .tuple(fc.integer({ min: 4000, max: 4200 }), secrets.length > 0 ? fc.constantFrom(...secrets) : piece)
      .map(([length, secret]) => 'é'.repeat(length / 2) + secret + 'a'.repeat(length / 2)),
  );
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      text,
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 6 }),
      fc.dictionary(keyArb, tie('value'), { maxKeys: 6 }),
    ),
  })).value;
}

const case_ = fc
  .array(secretArb, { maxLength: 3 })
  .chain((secrets) => fc.tuple(valueArb(secrets), fc.constant(secrets)));

describe('redactForLog', () => {
  it('matches the specification: redacted JSON, or its first 4 KB marked as cut', () => {
    fc.assert(
      fc.property(case_, ([value, secrets]) => {
        const logged = redactForLog(value, secrets);
        expect(logged).toBe(expected(value, secrets));
        expect(Buffer.byteLength(logged)).toBeLessThanOrEqual(MAX_LOG_PAYLOAD_BYTES);
        if (logged.endsWith(MARKER))
          expect(Buffer.byteLength(referenceJson(value, secrets))).toBeGreaterThan(4096);
        else expect(JSON.parse(logged)).toBeDefined();
        expect(logged).not.toContain('\\u0000');
      }),
      { numRuns: 400 },
    );
  });

  it('lets no known secret survive, whole or cut by the 4 KB limit', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('s', 'k', '_', '1'), minLength: 6, maxLength: 40 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom('x', 'é', '"', '\u0001'),
        (secret, offset, filler) => {
          const text = filler.repeat(offset) + secret + filler.repeat(10);
          for (const logged of [redactForLog(text, [secret]), redactForLog({ data: [text] }, [secret])]) {
            // no prefix of the secret (of 4 or more characters) may be left at the cut
            const body = logged.endsWith(MARKER) ? logged.slice(0, -MARKER.length) : logged;
            for (let length = 4; length <= secret.length; length++)
              expect(body.endsWith(secret.slice(0, length))).toBe(false);
            expect(logged).not.toContain(secret);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('redacts secret-looking keys at any depth and every known secret', () => {
    const logged = redactForLog(
      { a: [{ b: { Authorization: 'Bearer x', apiKey: 'k', nested: { password: { deep: 1 } } } }] },
      ['sk_live_abcdef'],
    );
    expect(JSON.parse(logged)).toEqual({
      a: [{ b: { Authorization: REDACTED, apiKey: REDACTED, nested: { password: REDACTED } } }],
    });
    expect(redactForLog({ note: 'key sk_live_abcdef here', sk_live_abcdef: 1 }, ['sk_live_abcdef'])).toBe(
      '{"note":"key [REDACTED] here","[REDACTED]":1}',
    );
  });

  it('writes NUL as U+FFFD and keeps JSON.stringify for ordinary values', () => {
    expect(redactForLog({ 'a\0': 'b\0c' })).toBe('{"a\uFFFD":"b\uFFFDc"}');
    const value = { date: new Date(0), list: [1, undefined, () => 1], skip: undefined, n: -0, big: 10n };
    expect(redactForLog(value)).toBe(
      '{"date":"1970-01-01T00:00:00.000Z","list":[1,null,null],"n":0,"big":"10"}',
    );
    expect(redactForLog(undefined)).toBe('null');
    expect(redactForLog(Buffer.from([1, 2]))).toBe('{"type":"Buffer","data":[1,2]}');
  });

  it('logs cycles, very deep values and throwing getters without failing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactForLog(cyclic)).toBe('{"a":1,"self":"[circular]"}');
    let deep: unknown = 'bottom';
    for (let level = 0; level < 10_000; level++) deep = [deep];
    const logged = redactForLog(deep);
    expect(logged.startsWith('[[[[')).toBe(true);
    expect(Buffer.byteLength(logged)).toBeLessThanOrEqual(MAX_LOG_PAYLOAD_BYTES);
    const throwing = {
      get boom() {
        throw new Error('no');
      },
    };
    expect(redactForLog(throwing)).toBe('"[object Object]"');
  });

  it('stops reading a payload once 4 KB are written', () => {
    let reads = 0;
    const huge = new Proxy(new Array(1_000_000).fill('auth'), {
      get(target, property, receiver) {
        if (typeof property === 'string' && /^\d+$/.test(property)) reads++;
        return Reflect.get(target, property, receiver);
      },
    });
    const logged = redactForLog({ items: huge });
    expect(logged.endsWith(MARKER)).toBe(true);
    expect(reads).toBeLessThan(1_000);
  });
});

describe('redactForLog with keys listed by the caller', () => {
  it('writes what it writes without them when they are Object.keys of every object', () => {
    fc.assert(
      fc.property(case_, ([value, secrets]) => {
        const listedKeys = (object: object) => Object.keys(object);
        expect(redactForLog(value, secrets, { listedKeys })).toBe(redactForLog(value, secrets));
      }),
      { numRuns: 400 },
    );
  });

  it('lists no keys of an object whose keys it was given, and follows the given list', () => {
    let listings = 0;
    const wide = new Proxy(
      Object.fromEntries(Array.from({ length: 2000 }, (_, index) => [`key_${index}`, index])),
      {
        ownKeys: (target) => {
          listings++;
          return Reflect.ownKeys(target);
        },
      },
    );
    const given = ['key_7', 'password', 'gone', 'key_3'];
    (wide as Record<string, unknown>).password = 'hunter22';
    const logged = redactForLog({ wide }, [], {
      listedKeys: (object) => (object === wide ? given : undefined),
    });
    expect(listings).toBe(0);
    // a key no longer there ('gone') is left out; a secret-looking key is redacted as always
    expect(JSON.parse(logged)).toEqual({ wide: { key_7: 7, password: REDACTED, key_3: 3 } });
    // without the list, for…in lists the keys (the proxy's ownKeys)
    redactForLog({ wide });
    expect(listings).toBeGreaterThan(0);
  });
});

describe('maskSecrets', () => {
  it('masks every occurrence, overlapping ones as one marker', () => {
    fc.assert(
      fc.property(piece, fc.array(secretArb, { maxLength: 3 }), (text, secrets) => {
        const joined = text + secrets.join('') + text;
        expect(maskSecrets(joined, secrets)).toBe(referenceMask(joined, secrets));
      }),
    );
    expect(maskSecrets('abcd1234wxyz', ['abcd1234', '1234wxyz'])).toBe(REDACTED);
  });
});

describe('truncateUtf8', () => {
  it('cuts on whole characters and marks the cut', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.integer({ min: 20, max: 200 }),
        (text, max) => {
          const cut = truncateUtf8(text, max);
          expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(
            Math.max(max, Buffer.byteLength(text) <= max ? max : 0),
          );
          if (cut !== text) {
            expect(cut.endsWith(MARKER)).toBe(true);
            expect(text.startsWith(cut.slice(0, -MARKER.length))).toBe(true);
          }
        },
      ),
    );
  });
});

describe('redactForLog on long runs of masked secrets', () => {
  it('never writes a surrogate pair as two escapes where its windows meet', () => {
    // the masked run shrinks the output, so the serializer reads on in windows; with this many
    // characters before it, a window ends between the two halves of the 😀 after the run
    const secret = 'k😀😀k😀ébééé';
    for (const [fill, repeats] of [
      [3572, 40],
      [3585, 39],
    ] as const) {
      const text = 'a'.repeat(fill) + secret.repeat(repeats) + '😀😀' + secret;
      const logged = redactForLog(text, [secret]);
      expect(logged).toBe(expected(text, [secret]));
      expect(logged).not.toMatch(/\\ud83d/);
    }
  });
});

describe('maskSecretsLeading: a quoted part of a secret', () => {
  const secret = 'rt_4f3c9a0b2e7d1f65a9c0e4b7';
  it('masks a run of 12 or more characters of a secret of 16 or more, wherever it starts', () => {
    expect(maskSecretsLeading(`token ${secret.slice(0, 20)}... revoked`, [secret], 1000).text).toBe(
      'token [REDACTED]... revoked',
    );
    expect(maskSecretsLeading(`tail ${secret.slice(-14)}`, [secret], 1000).text).toBe('tail [REDACTED]');
    expect(maskSecretsLeading(`${secret} and ${secret.slice(3, 16)}`, [secret], 1000).text).toBe(
      '[REDACTED] and [REDACTED]',
    );
    // shorter runs, and parts of a short secret, are ordinary text
    expect(maskSecretsLeading(`near ${secret.slice(0, 11)}`, [secret], 1000).text).toBe(
      `near ${secret.slice(0, 11)}`,
    );
    // a provider's error code is read whole (fragments off): a token that happens to share its
    // characters does not turn it into another code
    expect(maskSecretsLeading(secret.slice(0, 20), [secret], 1000, false).text).toBe(secret.slice(0, 20));
    expect(maskSecretsLeading(secret, [secret], 1000, false).text).toBe('[REDACTED]');
    const short = 'pw_12345678901';
    expect(maskSecretsLeading(`${short.slice(0, 12)}!`, [short], 1000).text).toBe(`${short.slice(0, 12)}!`);
  });

  it('leaves no 12 characters of a secret in the masked text (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 16, maxLength: 64, unit: fc.constantFrom(...'abcdef0123456789_-') }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        (key, before, after, from, span) => {
          const start = from % (key.length - 11);
          const end = Math.min(key.length, start + 12 + (span % (key.length - start - 11)));
          const masked = maskSecretsLeading(before + key.slice(start, end) + after, [key], 10_000).text;
          for (let at = 0; at + 12 <= key.length; at++) {
            const part = key.slice(at, at + 12);
            // only what the surrounding random text holds of it by itself may remain
            if (!(before + after).includes(part)) expect(masked).not.toContain(part);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
