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
  let ranges = 0;
  let best: { specificity: number; weight: number } | undefined;
  for (const range of mediaRanges(accept)) {
    ranges++;
    const specificity = SPECIFICITY.get(range.type);
    if (specificity === undefined) continue;
    if (
      best === undefined ||
      specificity > best.specificity ||
      (specificity === best.specificity && range.weight > best.weight)
    ) {
      best = { specificity, weight: range.weight };
    }
  }
  if (ranges === 0) return true;
  return best !== undefined && best.weight > 0;
}

/** The media ranges that match `application/json`, by how specific they are. */
const SPECIFICITY = new Map([
  ['application/json', 3],
  ['application/*', 2],
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
