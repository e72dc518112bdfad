/**
 * A fetch `Response`'s text, read until `maxBytes`: past them the download stops (the body is
 * cancelled, which closes the connection) and `cut` is true; a character split by the cut is left
 * out. UTF-8 with a byte order mark dropped, as `response.text()` reads it. So an answer of
 * gigabytes, or one that never ends, costs `maxBytes` of memory at most.
 */
export async function responseTextUpTo(
  response: Response,
  maxBytes: number,
): Promise<{ text: string; cut: boolean }> {
  if (response.body === null) return { text: '', cut: false };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (bytes + value.byteLength > maxBytes) {
      parts.push(decoder.decode(value.subarray(0, maxBytes - bytes), { stream: true }));
      await reader.cancel().catch(() => undefined);
      return { text: parts.join(''), cut: true };
    }
    bytes += value.byteLength;
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return { text: parts.join(''), cut: false };
}

/** `32 MiB`, `512 KiB`, `100 bytes`. */
export function byteSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
