/** Where the bytes of an answer of unknown length start: they grow by doubling from here. */
const FIRST_CAPACITY = 64 * 1024;

/**
 * The length in bytes of the body `response` will give, from its `Content-Length`; undefined when it
 * has none (chunked), a malformed one, or a `Content-Encoding` (the length is then of the compressed
 * bytes, which fetch decodes).
 */
export function declaredByteLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const header = response.headers.get('content-length')?.trim();
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return Number(header);
}

/**
 * `bytes` with room for at least `needed` bytes (at most `maxBytes`), its first `used` bytes kept:
 * moved into a larger buffer, which frees the old one at once where the runtime can (an ArrayBuffer's
 * `transfer`) instead of at the next garbage collection.
 */
function grown(bytes: Uint8Array<ArrayBuffer>, used: number, needed: number, maxBytes: number) {
  const capacity = Math.min(maxBytes, Math.max(needed, bytes.byteLength * 2));
  if (typeof bytes.buffer.transfer === 'function') return new Uint8Array(bytes.buffer.transfer(capacity));
  const larger = new Uint8Array(capacity);
  larger.set(bytes.subarray(0, used));
  return larger;
}

/**
 * A fetch `Response`'s text, read until `maxBytes`: past them the download stops (the body is
 * cancelled, which closes the connection) and `cut` is true; a character split by the cut is left
 * out. UTF-8 with a byte order mark dropped, as `response.text()` reads it. So an answer of
 * gigabytes, or one that never ends, costs `maxBytes` of memory at most.
 *
 * The bytes go into one buffer (of the answer's Content-Length when it has one, else grown by
 * doubling), are decoded once, and the buffer is freed before the text is returned: reading an
 * answer of N bytes holds about N bytes and then the text, not the chunks, their texts and the joined
 * text together (which, with the JSON parsed from it, held about four times the answer).
 */
export async function responseTextUpTo(
  response: Response,
  maxBytes: number,
): Promise<{ text: string; cut: boolean }> {
  if (response.body === null) return { text: '', cut: false };
  const reader = response.body.getReader();
  const declared = declaredByteLength(response);
  let bytes = new Uint8Array(Math.min(maxBytes, declared ?? FIRST_CAPACITY));
  let used = 0;
  let cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - used;
    const chunk = value.byteLength > room ? value.subarray(0, room) : value;
    if (used + chunk.byteLength > bytes.byteLength)
      bytes = grown(bytes, used, used + chunk.byteLength, maxBytes);
    bytes.set(chunk, used);
    used += chunk.byteLength;
    if (chunk !== value) {
      cut = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  // `stream` leaves out the bytes of a character the cut split
  const text = new TextDecoder().decode(bytes.subarray(0, used), { stream: cut });
  bytes.buffer.transfer?.(0);
  return { text, cut };
}

/** `32 MiB`, `512 KiB`, `100 bytes`. */
export function byteSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
