import { randomBytes } from 'node:crypto';

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

function encodeRandom(bytes: Buffer): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

let lastTime = 0;
let sequence = 0;

/**
 * A new id: `prefix_` + 10 characters of millisecond time + 28 characters (a sequence byte and 128 random bits).
 * Ids of one prefix sort by creation time, which makes cursor pagination a plain `id < cursor`.
 * Within one millisecond the time part is bumped so that ids from one process stay ordered.
 */
export function newId(prefix: string): string {
  let now = Date.now();
  if (now <= lastTime) {
    sequence++;
    now = lastTime;
  } else {
    sequence = 0;
    lastTime = now;
  }
  // a sequence byte keeps ids of one millisecond ordered; the 128 random bits follow it
  const tail = Buffer.concat([Buffer.from([Math.min(sequence, 255)]), randomBytes(16)]);
  return `${prefix}_${encodeTime(now)}${encodeRandom(tail)}`;
}

export const ID_PATTERN = /^[a-z]+_[0-9a-z]{38}$/;
