/**
 * Whether an `Accept` header takes `application/json` (RFC 9110, 12.5.1): of the media ranges that
 * match it, the most specific decides (`application/json` over the `application/…` wildcard over
 * the one of any type; the highest weight among equally specific ones), and a weight of 0 (`q=0`) means "not acceptable". A
 * media type matches only whole and in any case (`application/jsonlines` or `application/json-seq`
 * is another type); other parameters than `q` are not looked at. A header that lists no media range
 * (empty, or only commas) states no preference, as a request without one does. One pass over the
 * header, quoted parameter values (which may hold `,` and `;`) skipped whole.
 */
export function acceptsJson(accept: string): boolean {
  return acceptsType(accept, JSON_RANGES) ?? true;
}

/**
 * Whether an `Accept` header takes `text/event-stream`, read as {@link acceptsJson} reads it for
 * JSON (`text/event-stream`, then `text/*`, then the one of any type). A header that lists no media
 * range does not: the MCP endpoint streams only to a client that said it reads a stream.
 */
export function acceptsEventStream(accept: string): boolean {
  return acceptsType(accept, EVENT_STREAM_RANGES) ?? false;
}

/**
 * Whether `accept` takes the type whose matching media ranges `specificity` lists (by how specific
 * they are: the most specific decides, the highest weight among equally specific ones), or
 * undefined when the header lists no media range.
 */
function acceptsType(accept: string, specificity: ReadonlyMap<string, number>): boolean | undefined {
  let ranges = 0;
  let best: { specificity: number; weight: number } | undefined;
  for (const range of mediaRanges(accept)) {
    ranges++;
    const rank = specificity.get(range.type);
    if (rank === undefined) continue;
    if (
      best === undefined ||
      rank > best.specificity ||
      (rank === best.specificity && range.weight > best.weight)
    ) {
      best = { specificity: rank, weight: range.weight };
    }
  }
  if (ranges === 0) return undefined;
  return best !== undefined && best.weight > 0;
}

/** The media ranges that match `application/json`, by how specific they are. */
const JSON_RANGES: ReadonlyMap<string, number> = new Map([
  ['application/json', 3],
  ['application/*', 2],
  ['*/*', 1],
]);

/** The media ranges that match `text/event-stream`, by how specific they are. */
const EVENT_STREAM_RANGES: ReadonlyMap<string, number> = new Map([
  ['text/event-stream', 3],
  ['text/*', 2],
  ['*/*', 1],
]);

/** The media ranges of an `Accept` header: each one's type (lower case) and weight (`q`, 1 without). */
function* mediaRanges(accept: string): Generator<{ type: string; weight: number }> {
  let index = 0;
  while (index <= accept.length) {
    // the elements of the list, and the parameters of each, split outside quoted strings
    const parts: string[] = [];
    let start = index;
    let quoted = false;
    for (; index < accept.length; index++) {
      const char = accept[index];
      if (quoted) {
        if (char === '\\') index++;
        else if (char === '"') quoted = false;
      } else if (char === '"') quoted = true;
      else if (char === ';') {
        parts.push(accept.slice(start, index));
        start = index + 1;
      } else if (char === ',') break;
    }
    parts.push(accept.slice(start, index));
    index++;
    const type = parts[0]!.trim().toLowerCase();
    if (type === '') continue;
    let weight = 1;
    for (const parameter of parts.slice(1)) {
      const equals = parameter.indexOf('=');
      if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== 'q') continue;
      weight = weightOf(parameter.slice(equals + 1).trim());
      break;
    }
    yield { type, weight };
  }
}

/** A `q` value: a number from 0 to 1 (out of range: the nearest); one that is no number is 1. */
function weightOf(text: string): number {
  const value = text === '' ? Number.NaN : Number(text);
  if (Number.isNaN(value)) return 1;
  return Math.min(1, Math.max(0, value));
}
