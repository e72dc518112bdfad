import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function encodeTime(ms: number): string {
  let out = '';
  let value = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** Base32 of a sequence byte followed by 16 random bytes (136 bits → 28 characters). */
function encodeRandom(sequenceByte: number, bytes: Buffer): string {
  let out = ALPHABET[sequenceByte >>> 3]!;
  let buffer = sequenceByte & 7;
  let bits = 3;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
      buffer &= (1 << bits) - 1;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

// random bytes are drawn in 4 KB blocks: one `randomFillSync` per 256 ids instead of one per id
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

let lastTime = 0;
let sequence = 0;

/**
 * A new id: `prefix_` + 10 characters of millisecond time + 28 characters (a sequence byte and 128
 * random bits). Ids of one prefix sort by creation time, which makes cursor pagination a plain
 * `id < cursor`. The sequence byte orders ids of one millisecond in one process (past 256, the time
 * part moves on to the next millisecond); a clock that steps back keeps the last time seen.
 */
export function newId(prefix: string): string {
  let now = Date.now();
  if (now <= lastTime) {
    sequence++;
    if (sequence > 255) {
      // more than 256 ids in one millisecond: borrow the next millisecond to stay ordered
      lastTime++;
      sequence = 0;
    }
    now = lastTime;
  } else {
    sequence = 0;
    lastTime = now;
  }
  return `${prefix}_${encodeTime(now)}${encodeRandom(sequence, random16())}`;
}

/**
 * The boundary below which every id of `prefix` made before time `ms` sorts, and above which every id
 * made at `ms` or later: the prefix and the time part alone (shorter than a whole id of that time).
 */
export function idBefore(prefix: string, ms: number): string {
  return `${prefix}_${encodeTime(Math.max(0, Math.floor(ms)))}`;
}

export const ID_PATTERN = /^[a-z]+_[0-9a-z]{38}$/;

/** The creation time (ms) in an id of {@link ID_PATTERN}'s form; undefined for any other string. */
export function idTime(id: string): number | undefined {
  if (!ID_PATTERN.test(id)) return undefined;
  const encoded = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  let ms = 0;
  for (const char of encoded) {
    const digit = ALPHABET.indexOf(char);
    if (digit === -1) return undefined;
    ms = ms * 32 + digit;
  }
  return ms;
}
