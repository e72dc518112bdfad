/**
 * JSON parsing, serialising and the depth walk in slices: a megabyte of JSON is worked through in
 * stretches of at most a few milliseconds, with the event loop free between them, instead of one
 * native `JSON.parse` / `JSON.stringify` call that holds every other request for tens of
 * milliseconds. Each piece of work is a resumable state machine with its own stack (so any depth is
 * safe) driven by `step(due)`; the `…Sliced` functions pause whenever the slice is due.
 *
 * The results are those of `JSON.parse` and `JSON.stringify` (no reviver, replacer or indent): the
 * property test in json-slices.test.ts compares them on random values. Native calls are still used
 * where they cannot hold the loop long: for each string (escaping) and for small subtrees.
 */

import { isProxy } from 'node:util/types';
import { cutPath, framePath, type HoleCount, sparseArrayProblem, tooSparse } from './json-path.js';

/** What the sliced functions need of a {@link import('./slices.js').WorkSlice}. */
export interface Slice {
  due(): boolean;
  pause(): Promise<void>;
}

/** Below this many characters a JSON text is parsed by `JSON.parse` at once (well under a millisecond). */
export const SLICED_PARSE_FROM = 64 * 1024;

/** How many units of work (tokens, characters / 64, entries) pass between two looks at the clock. */
const CHECK_EVERY = 512;

/** Broken JSON (`kind: 'syntax'`) or JSON nested deeper than allowed (`kind: 'depth'`). */
export class JsonTextError extends SyntaxError {
  readonly kind: 'syntax' | 'depth' | 'keys';
  readonly position: number;

  constructor(message: string, kind: 'syntax' | 'depth' | 'keys', position: number) {
    super(message);
    this.name = 'SyntaxError';
    this.kind = kind;
    this.position = position;
  }
}

/**
 * The longest run of members (of one object or array) handed to `JSON.parse` at once: a few hundred
 * microseconds of native parsing.
 */
const NATIVE_RUN_CHARS = 16 * 1024;
/** How deep a run handed to `JSON.parse` may nest (a scan for its end stops there). */
const NATIVE_RUN_DEPTH = 32;

const VALUE = 0; // a value is expected
const KEY = 1; // a property name (or the `}` of an empty object) is expected
const AFTER = 2; // a value ended: `,`, a closing bracket, or (at the top) the end
const DONE = 3;

// biome-ignore lint/suspicious/noControlCharactersInRegex: a control character ends a run in a JSON string
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;
/** How many characters of a string {@link PLAIN_RUN} looks through at once. */
const STRING_WINDOW = 64 * 1024;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** How a {@link JsonTextParser} works. */
export interface JsonParseOptions {
  /** Nesting deeper than this throws a {@link JsonTextError} of kind `depth`. @default Infinity */
  maxDepth?: number;
  /**
   * An object of more keys than this throws a {@link JsonTextError} of kind `keys` as soon as it has
   * them, before anything lists them (see {@link MAX_OBJECT_KEYS}). @default Infinity
   */
  maxKeys?: number;
  /**
   * Filled with the number of keys of each object of at least {@link WIDE_OBJECT_KEYS} keys (counted
   * only under a `maxKeys`), so that a later stage can tell one too wide for it without listing its
   * keys (tens of milliseconds for 100,000). An object a run parsed whole is not counted: it is at
   * most `nativeRunChars` long (16 KB), so at most 3,300 keys.
   */
  keyCounts?: WeakMap<object, number>;
  /** Units of work between two looks at the clock. */
  checkEvery?: number;
  /** The longest run of members handed to `JSON.parse` at once (0: none; tests use it). */
  nativeRunChars?: number;
}

interface ParseFrame {
  container: Record<string, unknown> | unknown[];
  isArray: boolean;
  key: string;
  /** The keys of an object so far (counted only under a `maxKeys`). */
  keys: number;
}

/**
 * A JSON text parsed a stretch at a time: `step(due)` works until the text is done (true) or `due()`
 * says the slice is over (false; call again later). The value is `JSON.parse(text)`'s: `__proto__`
 * becomes an own data property, a repeated key keeps its first place and its last value, numbers go
 * through the same correctly rounded conversion. Nesting deeper than `maxDepth` throws a
 * {@link JsonTextError} of kind `depth` as soon as it is reached (`{}` is depth 1), an object of more
 * than `maxKeys` keys one of kind `keys`.
 */
export class JsonTextParser {
  readonly #text: string;
  readonly #maxDepth: number;
  readonly #maxKeys: number;
  readonly #checkEvery: number;
  readonly #nativeRunChars: number;
  readonly #keyCounts: WeakMap<object, number> | undefined;
  #position = 0;
  #state = VALUE;
  #stack: ParseFrame[] = [];
  #result: unknown;
  /** A string being read when the slice ended: what it holds so far, and whether it is a key. */
  #partial: string | undefined;
  #partialIsKey = false;
  /** Where the run of plain characters of that string that is not in `#partial` yet starts. */
  #runFrom = 0;
  /** Up to here the text is parsed token by token: `JSON.parse` refused a run in it. */
  #slowUntil = -1;

  constructor(text: string, options: JsonParseOptions = {}) {
    this.#text = text;
    this.#maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
    this.#maxKeys = options.maxKeys ?? Number.POSITIVE_INFINITY;
    this.#checkEvery = options.checkEvery ?? CHECK_EVERY;
    this.#keyCounts = options.keyCounts;
    // an object a run parses whole is not counted: a run must be too short to hold more than
    // maxKeys keys (each takes at least 5 characters: `"":0,`)
    this.#nativeRunChars = Math.min(options.nativeRunChars ?? NATIVE_RUN_CHARS, 5 * this.#maxKeys + 5);
  }

  /** The parsed value, once {@link step} has returned true. */
  get value(): unknown {
    return this.#result;
  }

  step(due: () => boolean): boolean {
    const text = this.#text;
    // the first unit of every call goes ahead whatever the clock says: each call makes progress
    let work = 0;
    while (this.#state !== DONE) {
      if (work++ >= this.#checkEvery) {
        work = 0;
        if (due()) return false;
      }
      if (this.#partial !== undefined) {
        const read = this.#readString(due);
        if (read === undefined) return false;
        this.#gotString(read);
        continue;
      }
      this.#skipSpace();
      const position = this.#position;
      const char = text.charCodeAt(position);
      if (this.#state === AFTER) {
        const frame = this.#stack[this.#stack.length - 1];
        if (frame === undefined) {
          if (position < text.length) this.#unexpected();
          this.#state = DONE;
        } else if (char === 0x2c /* , */) {
          this.#position++;
          this.#state = frame.isArray ? VALUE : KEY;
          if (!frame.isArray) {
            this.#skipSpace();
            if (text.charCodeAt(this.#position) !== 0x22)
              this.#unexpected('a property name in double quotes');
          }
          work += this.#nativeRun(frame, false);
        } else if (char === (frame.isArray ? 0x5d /* ] */ : 0x7d) /* } */) {
          this.#position++;
          this.#close();
        } else {
          this.#unexpected(frame.isArray ? "',' or ']'" : "',' or '}'");
        }
        continue;
      }
      if (this.#state === KEY) {
        if (char === 0x7d /* } */) {
          // only right after `{`: a `,` checked for the quote already
          this.#position++;
          this.#close();
          continue;
        }
        if (char !== 0x22) this.#unexpected('a property name in double quotes');
        this.#position++;
        this.#partial = '';
        this.#runFrom = this.#position;
        this.#partialIsKey = true;
        continue;
      }
      // VALUE
      switch (char) {
        case 0x7b /* { */:
        case 0x5b /* [ */:
          {
            const isArray = char === 0x5b;
            if (this.#stack.length >= this.#maxDepth) {
              throw new JsonTextError(
                `JSON nests objects and arrays more than ${this.#maxDepth} levels deep (at position ${position})`,
                'depth',
                position,
              );
            }
            this.#position++;
            const frame: ParseFrame = { container: isArray ? [] : {}, isArray, key: '', keys: 0 };
            this.#stack.push(frame);
            work += this.#nativeRun(frame, true);
            if (this.#state === AFTER) break;
            if (isArray) {
              this.#skipSpace();
              if (text.charCodeAt(this.#position) === 0x5d) {
                this.#position++;
                this.#close();
              }
            } else {
              this.#state = KEY;
            }
            break;
          }
        case 0x22 /* " */:
          this.#position++;
          this.#partial = '';
          this.#runFrom = this.#position;
          this.#partialIsKey = false;
          break;
        case 0x74 /* t */:
          this.#literal('true', true);
          break;
        case 0x66 /* f */:
          this.#literal('false', false);
          break;
        case 0x6e /* n */:
          this.#literal('null', null);
          break;
        default: {
          NUMBER.lastIndex = position;
          const match = NUMBER.exec(text);
          if (match === null) this.#unexpected('a JSON value');
          this.#position += match[0].length;
          this.#complete(Number(match[0]));
        }
      }
    }
    return true;
  }

  /**
   * Where the members of `frame` go on at the position (after its bracket, or after a comma): the
   * run of whole members that ends within {@link NATIVE_RUN_CHARS} (at a comma or at the frame's
   * closing bracket) is parsed by one `JSON.parse` and added to the frame; when it reaches the
   * bracket the frame is complete. Nothing happens when no member ends that soon (a large member is
   * then entered token by token), when the run would nest deeper than allowed, or when `JSON.parse`
   * refuses it (the tokens then find the error and say where). The work done, in units.
   */
  #nativeRun(frame: ParseFrame, opened: boolean): number {
    const text = this.#text;
    const start = this.#position;
    if (start < this.#slowUntil) return 0;
    const limit = Math.min(text.length, start + this.#nativeRunChars);
    let depth = 0;
    let lastComma = -1;
    let closed = -1;
    let index = start;
    for (; index < limit; index++) {
      const char = text.charCodeAt(index);
      if (char === 0x22 /* " */) {
        // to the end of the string
        for (index++; index < limit; index++) {
          const inner = text.charCodeAt(index);
          if (inner === 0x5c) index++;
          else if (inner === 0x22) break;
        }
      } else if (char === 0x7b || char === 0x5b) {
        // a run that nests this deep goes token by token: the frames inside try runs of their own
        if (++depth > NATIVE_RUN_DEPTH || this.#stack.length + depth > this.#maxDepth) break;
      } else if (char === 0x7d || char === 0x5d) {
        if (depth === 0) {
          closed = index;
          break;
        }
        depth--;
      } else if (char === 0x2c && depth === 0) {
        lastComma = index;
      }
    }
    const work = (index - start) >> 6;
    const end = closed >= 0 ? closed : lastComma;
    if (end < 0) return work;
    // `{]`: JSON.parse would see a bracket of the frame's own kind
    if (closed >= 0 && text.charCodeAt(closed) !== (frame.isArray ? 0x5d : 0x7d)) return work;
    const members = text.slice(start, end);
    // `[1,]`, `[,1]`, `[1,,2]`: the tokens refuse a comma without a member
    if (!(opened && closed >= 0) && members.trim() === '') return work;
    let run: Record<string, unknown> | unknown[];
    try {
      run = JSON.parse(frame.isArray ? `[${members}]` : `{${members}}`);
    } catch {
      this.#slowUntil = end;
      return work;
    }
    if (opened) {
      // the first run of a container is the container (the whole of it when it closes here): the
      // members that follow are added to it. Copying the run into an empty one instead grows its
      // property store a few slots at a time, garbage quadratic in the run (7 MB to parse 1 MB of
      // objects of 200 keys each)
      frame.container = run;
      // a run is at most nativeRunChars long: listing its keys is quick
      if (!frame.isArray && this.#maxKeys !== Number.POSITIVE_INFINITY) {
        frame.keys = Object.keys(run).length;
        this.#checkKeys(frame, start);
      }
    } else if (frame.isArray) {
      const items = run as unknown[];
      const container = frame.container as unknown[];
      for (let item = 0; item < items.length; item++) container.push(items[item]);
    } else {
      const container = frame.container as Record<string, unknown>;
      for (const key of Object.keys(run)) {
        this.#set(frame, container, key, (run as Record<string, unknown>)[key], start);
      }
    }
    if (closed >= 0) {
      this.#position = closed + 1;
      this.#close();
    } else {
      // at the comma after the run
      this.#position = end;
      this.#state = AFTER;
    }
    return work + (end - start) / 32;
  }

  #set(
    frame: ParseFrame,
    container: Record<string, unknown>,
    key: string,
    value: unknown,
    position: number,
  ): void {
    if (this.#maxKeys !== Number.POSITIVE_INFINITY && !Object.hasOwn(container, key)) {
      frame.keys++;
      this.#checkKeys(frame, position);
    }
    if (key === '__proto__') {
      // as JSON.parse: an own property, not the prototype
      Object.defineProperty(container, '__proto__', {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    } else {
      container[key] = value;
    }
  }

  /** The innermost object or array is complete: it becomes a value of the one around it. */
  #close(): void {
    const frame = this.#stack.pop()!;
    if (this.#keyCounts !== undefined && frame.keys >= WIDE_OBJECT_KEYS) {
      this.#keyCounts.set(frame.container, frame.keys);
    }
    this.#complete(frame.container);
  }

  #checkKeys(frame: ParseFrame, position: number): void {
    if (frame.keys > this.#maxKeys) {
      throw new JsonTextError(
        `JSON has an object of more than ${this.#maxKeys} keys (at position ${position})`,
        'keys',
        position,
      );
    }
  }

  #skipSpace(): void {
    const text = this.#text;
    let position = this.#position;
    for (;;) {
      const char = text.charCodeAt(position);
      if (char === 0x20 || char === 0x0a || char === 0x0d || char === 0x09) position++;
      else break;
    }
    this.#position = position;
  }

  #literal(word: string, value: unknown): void {
    if (!this.#text.startsWith(word, this.#position)) this.#unexpected('a JSON value');
    this.#position += word.length;
    this.#complete(value);
  }

  /**
   * Reads on in the string at the position (after its opening quote); undefined when the slice ended
   * first. A run of plain characters is looked for {@link STRING_WINDOW} characters at a time (one
   * look through a string of 64 MB is 40–80 ms of one turn) and taken as one slice of the text when
   * it ends (a string without escapes is then a slice of the text, as `JSON.parse` would not copy it
   * either), however many slices of the event loop it took.
   */
  #readString(due: () => boolean): string | undefined {
    const text = this.#text;
    let out = this.#partial!;
    let work = 0;
    for (;;) {
      const from = this.#position;
      let end: number;
      if (text.length - from > STRING_WINDOW) {
        PLAIN_RUN.lastIndex = 0;
        PLAIN_RUN.exec(text.slice(from, from + STRING_WINDOW));
        end = from + PLAIN_RUN.lastIndex;
      } else {
        PLAIN_RUN.lastIndex = from;
        PLAIN_RUN.exec(text);
        end = PLAIN_RUN.lastIndex;
      }
      work += (end - from) >> 6;
      this.#position = end;
      if (end - from === STRING_WINDOW) {
        // the run goes on past the window
        if (work >= this.#checkEvery) {
          work = 0;
          if (due()) {
            this.#partial = out;
            return undefined;
          }
        }
        continue;
      }
      if (end > this.#runFrom) out += text.slice(this.#runFrom, end);
      const char = text.charCodeAt(end);
      if (char === 0x22) {
        this.#position++;
        this.#partial = undefined;
        return out;
      }
      if (char !== 0x5c) {
        if (end >= text.length) this.#fail('Unterminated string in JSON', end);
        this.#fail('Bad control character in string literal in JSON', end);
      }
      const escaped = text[end + 1];
      if (escaped === 'u') {
        const hex = text.slice(end + 2, end + 6);
        if (!HEX4.test(hex)) this.#fail('Bad Unicode escape in JSON', end);
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.#position = end + 6;
        this.#runFrom = this.#position;
      } else {
        const replaced = escaped === undefined ? undefined : ESCAPES[escaped];
        if (replaced === undefined) {
          if (end + 1 >= text.length) this.#fail('Unterminated string in JSON', end + 1);
          this.#fail('Bad escaped character in JSON', end + 1);
        }
        out += replaced;
        this.#position = end + 2;
        this.#runFrom = this.#position;
      }
      if (++work >= this.#checkEvery) {
        work = 0;
        if (due()) {
          this.#partial = out;
          return undefined;
        }
      }
    }
  }

  #gotString(value: string): void {
    if (!this.#partialIsKey) {
      this.#complete(value);
      return;
    }
    this.#stack[this.#stack.length - 1]!.key = value;
    this.#skipSpace();
    if (this.#text.charCodeAt(this.#position) !== 0x3a /* : */) this.#unexpected("':'");
    this.#position++;
    this.#state = VALUE;
  }

  /** A value ended: it goes into the container being built, or is the result. */
  #complete(value: unknown): void {
    this.#state = AFTER;
    const frame = this.#stack[this.#stack.length - 1];
    if (frame === undefined) {
      this.#result = value;
    } else if (frame.isArray) {
      (frame.container as unknown[]).push(value);
    } else {
      this.#set(frame, frame.container as Record<string, unknown>, frame.key, value, this.#position);
    }
  }

  #unexpected(expected?: string): never {
    const position = this.#position;
    if (position >= this.#text.length) this.#fail('Unexpected end of JSON input', position);
    const shown = JSON.stringify(this.#text.slice(position, position + 1));
    this.#fail(
      `Unexpected token ${shown}${expected ? `, expected ${expected},` : ''} in JSON at position ${position}`,
      position,
    );
  }

  #fail(message: string, position: number): never {
    throw new JsonTextError(message, 'syntax', position);
  }
}

/**
 * `JSON.parse(text)`, a slice at a time: pauses whenever `slice` is due. Throws a
 * {@link JsonTextError}: broken JSON, or (kind `depth`) nesting deeper than `maxDepth`.
 */
export async function parseJsonSliced(
  text: string,
  slice: Slice,
  options: JsonParseOptions = {},
): Promise<unknown> {
  const parser = new JsonTextParser(text, options);
  const due = () => slice.due();
  while (!parser.step(due)) await slice.pause();
  return parser.value;
}

/** Below this many entries and string characters a subtree is written by one `JSON.stringify`. */
const SMALL_ENTRIES = 64;
const SMALL_CHARS = 16 * 1024;

/** The most members of one object or array {@link JsonWriter} writes with one `JSON.stringify`. */
const BATCH = 256;
/** The most entries inside the objects of one such batch. */
const BATCH_ENTRIES = 1024;

/** The size of the chunks {@link JsonWriter} hands out. */
export const JSON_CHUNK_CHARS = 64 * 1024;

/** How a {@link JsonWriter} works. */
export interface JsonWriteOptions {
  /** Units of work between two looks at the clock. */
  checkEvery?: number;
  /** About how long the chunks are. */
  chunkChars?: number;
  /** A subtree of at most this many entries is one `JSON.stringify` (tests use 0). */
  smallEntries?: number;
  /** The most members written by one `JSON.stringify` (tests use small ones). */
  batch?: number;
  /** Strings (and keys) of this many characters or more are escaped a piece at a time. */
  longString?: number;
  /** The characters of such a string escaped at once. */
  stringPiece?: number;
  /**
   * Takes the text as it is written, a piece at a time (a token, or a run of members written by one
   * `JSON.stringify`), instead of the writer joining the pieces into chunks: `takeChunks()` then
   * answers nothing. For a caller that encodes the text at once (a REST answer goes out as UTF-8),
   * joining pieces into chunks first would be a second copy of the whole text in the young
   * generation, which brings the next scavenge closer while the value written is still alive.
   */
  sink?: (piece: string) => void;
}

interface WriteFrame {
  value: object;
  isArray: boolean;
  /** Object: its own enumerable string keys; array: undefined. */
  keys: string[] | undefined;
  length: number;
  index: number;
  /** Something has been written inside (a comma goes before the next member). */
  wrote: boolean;
}

/** Not written: undefined, a function or a symbol (left out of objects, `null` in arrays). */
const SKIP = Symbol('skip');

/** Strings of this many characters or more are escaped a piece at a time by {@link JsonWriter}. */
const LONG_STRING = 64 * 1024;
/** The characters of a long string escaped by one `JSON.stringify`. */
const STRING_PIECE = 16 * 1024;

/** A string value to write a piece at a time: its text, or the pieces of its text. */
class LongString {
  readonly pieces: readonly string[];

  constructor(pieces: readonly string[]) {
    this.pieces = pieces;
  }
}

/**
 * A long string held as the pieces of its text, never joined into one string: {@link JsonWriter}
 * writes it as a JSON string, escaping a piece at a time. Joining megabytes of pieces into one
 * string is one native call that holds the event loop for tens of milliseconds (an 8 MB JSON text
 * of a tool's result: 25-40 ms of CPU); what holds such a text only to write it into a larger JSON
 * answer (MCP's text content) keeps it in pieces. `JSON.stringify` and template strings see the
 * joined text (`toJSON`, `toString`), so it writes the same wherever it goes, only not a slice at a
 * time. The pieces are public: a measure of the value counts their characters as a string's.
 */
export class StringPieces {
  readonly pieces: readonly string[];
  /** The characters of the text. */
  readonly length: number;

  constructor(pieces: readonly string[]) {
    this.pieces = pieces;
    let length = 0;
    for (const piece of pieces) length += piece.length;
    this.length = length;
  }

  /** The text joined (one native call; what a writer that is not sliced gets). */
  toJSON(): string {
    return this.pieces.join('');
  }

  toString(): string {
    return this.pieces.join('');
  }
}

/**
 * What the last {@link measure} that fit found (not a new object per call: it runs per array item),
 * and whether the last one that did not fit stopped at an object listed in place with more keys
 * than it could take (see `inPlace`).
 */
const measured = { entries: 0, chars: 0, overflowed: false };
/**
 * The objects {@link measure} has still to look into: one array for every call, used up to an index
 * (emptying it with `length = 0` would free its store, and the next call allocate one again).
 */
const pending: Array<object | undefined> = [];
/** A {@link measure} is running (a getter it reads may serialise something: that one gets its own array). */
let measuring = false;

/**
 * Whether `value` (an object or array) has at most `maxEntries` entries and `maxChars` string
 * characters, which it then leaves in {@link measured}: when it has more, one `JSON.stringify` of it
 * would not be quick. Looks at no more than `maxEntries` entries; the keys of an object it listed
 * and found too wide are kept in `wide`, so that they are not listed again when it is written
 * (listing is what a wide object costs). Allocates nothing but the key lists: it runs for each item
 * of a large array, and what it allocates is garbage that brings the next scavenge closer.
 *
 * `inPlaceUpTo` (for the items of an array, records as a rule): the keys of objects are gone
 * through by `for…in` instead of listed, which allocates nothing for an object in fast mode (a list
 * per record was a megabyte of garbage per megabyte of records); an object with more keys than this
 * ends the measure with `measured.overflowed` set, unlisted. (`for…in` of a wide object in
 * dictionary mode lists all its keys before the first, as long as `Object.keys`: the caller stops
 * going in place once one overflowed, so that at most one object is listed twice.)
 */
function measure(
  value: object,
  wide: WeakMap<object, string[]>,
  maxEntries: number,
  maxChars: number,
  inPlaceUpTo?: number,
): boolean {
  let entries = 0;
  let chars = 0;
  let top = 0;
  let used = 0;
  const nested = measuring;
  const stack: Array<object | undefined> = nested ? [] : pending;
  measuring = true;
  measured.overflowed = false;
  stack[top++] = value;
  try {
    while (top > 0) {
      used = Math.max(used, top);
      const current = stack[--top]!;
      if (Array.isArray(current)) {
        entries += current.length;
        if (entries > maxEntries) return false;
        for (let index = 0; index < current.length; index++) {
          const item: unknown = current[index];
          if (typeof item === 'string') chars += item.length;
          else if (typeof item === 'object' && item !== null) stack[top++] = item;
        }
      } else if (inPlaceUpTo !== undefined) {
        if (wide.has(current)) return false;
        // its own count against `inPlaceUpTo`: an object that only overflows what is left of a
        // batch is not wide
        let own = 0;
        for (const key in current) {
          // own keys only, as Object.keys (and JSON.stringify) take them
          if (!Object.hasOwn(current, key)) continue;
          if (++own > inPlaceUpTo) {
            measured.overflowed = true;
            return false;
          }
          chars += key.length;
          const item: unknown = (current as Record<string, unknown>)[key];
          if (typeof item === 'string') chars += item.length;
          else if (typeof item === 'object' && item !== null) stack[top++] = item;
        }
        entries += own;
        if (entries > maxEntries) return false;
      } else {
        if (wide.has(current)) return false;
        const keys = Object.keys(current);
        if (keys.length > maxEntries) wide.set(current, keys);
        entries += keys.length;
        if (entries > maxEntries) return false;
        for (let index = 0; index < keys.length; index++) {
          const key = keys[index]!;
          chars += key.length;
          const item: unknown = (current as Record<string, unknown>)[key];
          if (typeof item === 'string') chars += item.length;
          else if (typeof item === 'object' && item !== null) stack[top++] = item;
        }
      }
      if (chars > maxChars) return false;
    }
    measured.entries = entries;
    measured.chars = chars;
    return true;
  } finally {
    // holds nothing between calls
    for (let index = 0; index < Math.max(used, top); index++) stack[index] = undefined;
    measuring = nested;
  }
}

/**
 * `JSON.stringify(value)` (no replacer, no indent) written a stretch at a time: `step(due)` works
 * until the value is written (true) or `due()` says the slice is over (false). The text comes out in
 * chunks of about {@link JSON_CHUNK_CHARS} (`takeChunks()`), never as one string. Same output and
 * same errors (a cycle or a BigInt is a TypeError) as `JSON.stringify`; its result for a value that
 * writes nothing (undefined, a function) is `undefined`, here {@link JsonWriter.written} false.
 */
export class JsonWriter {
  readonly #checkEvery: number;
  readonly #chunkChars: number;
  readonly #smallEntries: number;
  readonly #batchSize: number;
  readonly #longString: number;
  readonly #stringPiece: number;
  readonly #sink: ((piece: string) => void) | undefined;
  #stack: WriteFrame[] = [];
  #ancestors = new Set<object>();
  #wide = new WeakMap<object, string[]>();
  /** The items of arrays are measured in place (see {@link measure}) until one overflowed. */
  #inPlace = true;
  #chunks: string[] = [];
  /** The pieces of the chunk being written (joined once it is long enough: a flat string, no rope). */
  #pieces: string[] = [];
  #pieceChars = 0;
  /**
   * A long string being written a piece at a time (its pieces, the one being written and where in
   * it), and what comes after it.
   */
  #long:
    | { pieces: readonly string[]; piece: number; at: number; after: (() => void) | undefined }
    | undefined;
  #started = false;
  #root: unknown;
  /** False when the value wrote nothing (what `JSON.stringify` answers with `undefined`). */
  written = true;

  constructor(value: unknown, options: JsonWriteOptions = {}) {
    this.#root = value;
    this.#checkEvery = options.checkEvery ?? CHECK_EVERY;
    this.#chunkChars = options.chunkChars ?? JSON_CHUNK_CHARS;
    this.#smallEntries = options.smallEntries ?? SMALL_ENTRIES;
    this.#batchSize = options.batch ?? BATCH;
    this.#longString = options.longString ?? LONG_STRING;
    this.#stringPiece = Math.max(2, options.stringPiece ?? STRING_PIECE);
    this.#sink = options.sink;
  }

  /** The chunks written since the last call. */
  takeChunks(): string[] {
    this.#flush();
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks;
  }

  step(due: () => boolean): boolean {
    if (!this.#started) {
      this.#started = true;
      const root = this.#prepare(this.#root, '');
      if (root === SKIP) this.written = false;
      else this.#write(root);
    }
    let work = 0;
    while (this.#stack.length > 0 || this.#long !== undefined) {
      if (work++ >= this.#checkEvery) {
        work = 0;
        if (due()) return false;
      }
      if (this.#long !== undefined) {
        work += this.#writeLong();
        continue;
      }
      const frame = this.#stack[this.#stack.length - 1]!;
      if (frame.index >= frame.length) {
        this.#emit(frame.isArray ? ']' : '}');
        this.#stack.pop();
        this.#ancestors.delete(frame.value);
        continue;
      }
      const batched = this.#batch(frame);
      if (batched > 0) {
        work += batched;
        continue;
      }
      const index = frame.index++;
      if (frame.isArray) {
        if (frame.wrote) this.#emit(',');
        frame.wrote = true;
        const item = this.#prepare((frame.value as unknown[])[index], String(index));
        if (item === SKIP) this.#emit('null');
        else this.#write(item);
      } else {
        const key = frame.keys![index]!;
        const item = this.#prepare((frame.value as Record<string, unknown>)[key], key);
        if (item === SKIP) continue;
        if (key.length >= this.#longString) {
          if (frame.wrote) this.#emit(',');
          frame.wrote = true;
          this.#startLong([key], () => {
            this.#emit(':');
            this.#write(item);
          });
          continue;
        }
        this.#emit(`${frame.wrote ? ',' : ''}${JSON.stringify(key)}:`);
        frame.wrote = true;
        this.#write(item);
      }
    }
    return true;
  }

  /**
   * Writes the next members of `frame` with one `JSON.stringify`, up to {@link BATCH} of them and a
   * few kilobytes of strings: of the object with the run's keys as the property list (which writes
   * them in that order; only primitive values, the list would apply inside objects too), or of a
   * slice of the array (primitives and small objects without a `toJSON` of their own, which would
   * be told their index in the slice). The number of members written; 0 when fewer than two fit.
   */
  #batch(frame: WriteFrame): number {
    const start = frame.index;
    const end = Math.min(frame.length, start + this.#batchSize);
    const array = frame.isArray ? (frame.value as unknown[]) : undefined;
    const object = frame.value as Record<string, unknown>;
    const keys = frame.keys;
    // JSON.stringify(object, keys) would call the object's own toJSON
    if (array === undefined && typeof object.toJSON === 'function') return 0;
    let index = start;
    let entries = 0;
    let chars = 0;
    for (; index < end; index++) {
      const value = array === undefined ? object[keys![index]!] : array[index];
      // BigInts (toJSON with its key) are written one by one
      if (typeof value === 'bigint') break;
      if (typeof value === 'object' && value !== null) {
        if (array === undefined || typeof (value as { toJSON?: unknown }).toJSON === 'function') break;
        if (
          !measure(
            value,
            this.#wide,
            Math.min(this.#smallEntries, BATCH_ENTRIES - entries),
            SMALL_CHARS - chars,
            this.#inPlace ? this.#smallEntries : undefined,
          )
        ) {
          if (measured.overflowed) this.#inPlace = false;
          break;
        }
        entries += measured.entries;
        chars += measured.chars;
      } else if (typeof value === 'string') {
        chars += value.length;
        if (chars > SMALL_CHARS) break;
      }
    }
    if (index - start < 2) return 0;
    const text =
      array === undefined
        ? JSON.stringify(object, keys!.slice(start, index))
        : JSON.stringify(array.slice(start, index));
    frame.index = index;
    if (text.length > 2) {
      // the comma apart: a comma joined to the run would be a rope that encoding it copies whole
      if (frame.wrote) this.#emit(',');
      this.#emit(text.slice(1, -1));
      frame.wrote = true;
    }
    return index - start + entries;
  }

  #emit(text: string): void {
    if (this.#sink !== undefined) {
      this.#sink(text);
      return;
    }
    this.#pieces.push(text);
    this.#pieceChars += text.length;
    if (this.#pieceChars >= this.#chunkChars) this.#flush();
  }

  #flush(): void {
    if (this.#pieceChars === 0) return;
    const pieces = this.#pieces;
    this.#chunks.push(pieces.length === 1 ? pieces[0]! : pieces.join(''));
    this.#pieces = [];
    this.#pieceChars = 0;
  }

  /**
   * Starts writing a string of {@link LONG_STRING} characters or more: its quote now, its characters
   * {@link STRING_PIECE} at a time in the steps that follow (escaping a megabyte is milliseconds),
   * then `after`.
   */
  #startLong(pieces: readonly string[], after?: () => void): void {
    this.#emit('"');
    this.#long = { pieces, piece: 0, at: 0, after };
    this.#nextPiece();
  }

  /** Skips the pieces of the long string written (or empty); closes the string after the last. */
  #nextPiece(): void {
    const long = this.#long!;
    const { pieces } = long;
    while (long.piece < pieces.length && long.at >= pieces[long.piece]!.length) {
      long.piece++;
      long.at = 0;
    }
    if (long.piece < pieces.length) return;
    this.#emit('"');
    this.#long = undefined;
    long.after?.();
  }

  /** Writes the next stretch of the long string; the units of work done. */
  #writeLong(): number {
    const long = this.#long!;
    const { pieces, at } = long;
    const text = pieces[long.piece]!;
    let end = Math.min(text.length, at + this.#stringPiece);
    let part = text.slice(at, end);
    // never between the halves of a surrogate pair (each half alone would be escaped): inside a
    // piece the pair waits for the next stretch; at a piece's end the next piece's half comes along
    const last = text.charCodeAt(end - 1);
    // the piece the next stretch starts in, and where
    let next = long.piece + 1;
    let nextAt = 0;
    if (last >= 0xd800 && last <= 0xdbff) {
      if (end < text.length) {
        end--;
        part = part.slice(0, -1);
      } else {
        while (next < pieces.length && pieces[next]!.length === 0) next++;
        const low = next < pieces.length ? pieces[next]!.charCodeAt(0) : 0;
        if (low >= 0xdc00 && low <= 0xdfff) {
          part += pieces[next]![0];
          nextAt = 1;
        }
      }
    }
    this.#emit(JSON.stringify(part).slice(1, -1));
    if (end < text.length) long.at = end;
    else {
      long.piece = next;
      long.at = nextAt;
      this.#nextPiece();
    }
    return (end - at) >> 6;
  }

  /**
   * What JSON.stringify writes for `value` under `key`: after `toJSON(key)` and unboxing, a
   * primitive's JSON text, an object or array to write, or SKIP.
   */
  #prepare(value: unknown, key: string): string | object | LongString | typeof SKIP {
    if (value instanceof StringPieces) return new LongString(value.pieces);
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') value = toJSON.call(value, key);
    }
    if (typeof value === 'object' && value !== null) {
      if (value instanceof Number) value = Number(value);
      else if (value instanceof String) value = String(value);
      else if (value instanceof Boolean) value = value.valueOf();
      else if (value instanceof BigInt) value = value.valueOf();
      else if ((JSON as { isRawJSON?: (value: unknown) => boolean }).isRawJSON?.(value)) {
        return (value as { rawJSON: string }).rawJSON;
      }
    }
    switch (typeof value) {
      case 'string':
        return value.length >= this.#longString ? new LongString([value]) : JSON.stringify(value);
      case 'number':
        return Number.isFinite(value) ? String(value) : 'null';
      case 'boolean':
        return value ? 'true' : 'false';
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      case 'object':
        return value === null ? 'null' : value;
      default:
        return SKIP;
    }
  }

  /** Writes a prepared value: a primitive's text, a small subtree at once, or opens a frame. */
  #write(item: string | object): void {
    if (typeof item === 'string') {
      this.#emit(item);
      return;
    }
    if (item instanceof LongString) {
      this.#startLong(item.pieces);
      return;
    }
    if (this.#ancestors.has(item)) throw new TypeError('Converting circular structure to JSON');
    // a small subtree in one native call (unless JSON.stringify would call a toJSON again)
    if (
      typeof (item as { toJSON?: unknown }).toJSON !== 'function' &&
      measure(item, this.#wide, this.#smallEntries, SMALL_CHARS)
    ) {
      this.#emit(JSON.stringify(item));
      return;
    }
    const isArray = Array.isArray(item);
    const keys = isArray ? undefined : (this.#wide.get(item) ?? Object.keys(item));
    this.#wide.delete(item);
    this.#ancestors.add(item);
    this.#stack.push({
      value: item,
      isArray,
      keys,
      length: isArray ? (item as unknown[]).length : keys!.length,
      index: 0,
      wrote: false,
    });
    this.#emit(isArray ? '[' : '{');
  }
}

/**
 * `JSON.stringify(value)` as chunks of text, a slice at a time: pauses whenever `slice` is due.
 * `undefined` for a value that writes nothing, as JSON.stringify.
 */
export async function stringifyJsonSliced(
  value: unknown,
  slice: Slice,
  options: JsonWriteOptions = {},
): Promise<string[] | undefined> {
  const writer = new JsonWriter(value, options);
  const due = () => slice.due();
  const chunks: string[] = [];
  while (!writer.step(due)) {
    chunks.push(...writer.takeChunks());
    await slice.pause();
  }
  chunks.push(...writer.takeChunks());
  return writer.written ? chunks : undefined;
}

/** What {@link smallJsonText} answers for a value that one `JSON.stringify` would not write quickly. */
export const NOT_SMALL: unique symbol = Symbol('not small');

/** The keys of wide objects {@link smallJsonText} listed (it gives up on them; nobody reads this). */
const smallWide = new WeakMap<object, string[]>();

/**
 * `JSON.stringify(value)` when that is quick, else {@link NOT_SMALL}: a primitive (a string shorter
 * than the writer's long strings), or an object or array without a `toJSON` of its own with at most
 * as many entries and characters of strings as {@link JsonWriter} writes in one call (looked at no
 * further than that). What a tool call's answer usually is, without a writer and its slices.
 */
export function smallJsonText(value: unknown): string | undefined | typeof NOT_SMALL {
  if (typeof value === 'object' && value !== null) {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return NOT_SMALL;
    return measure(value, smallWide, SMALL_ENTRIES, SMALL_CHARS) ? JSON.stringify(value) : NOT_SMALL;
  }
  if (typeof value === 'string' && value.length >= LONG_STRING) return NOT_SMALL;
  // BigInt throws as JSON.stringify does (the writer's own message for it differs): the writer's turn
  if (typeof value === 'bigint') return NOT_SMALL;
  return JSON.stringify(value);
}

/**
 * {@link stringifyJsonSliced} as one string: `JSON.stringify(value)` a slice at a time, `undefined`
 * for a value that writes nothing. A small value is one `JSON.stringify` (see {@link smallJsonText}).
 */
export async function jsonTextSliced(value: unknown, slice: Slice): Promise<string | undefined> {
  const text = await jsonTextPiecesSliced(value, slice);
  return text instanceof StringPieces ? text.pieces.join('') : text;
}

/**
 * {@link jsonTextSliced} without the join at the end: a text of more than one chunk is given as
 * its {@link StringPieces} (joining 8 MB is tens of milliseconds in one call), for a caller that
 * writes it into a larger JSON answer with {@link JsonWriter}.
 */
export async function jsonTextPiecesSliced(
  value: unknown,
  slice: Slice,
): Promise<string | StringPieces | undefined> {
  const small = smallJsonText(value);
  if (small !== NOT_SMALL) return small;
  const chunks = await stringifyJsonSliced(value, slice);
  if (!chunks) return undefined;
  return chunks.length === 1 ? chunks[0]! : new StringPieces(chunks);
}

interface ShapeFrame extends HoleCount {
  value: object;
  /** Object: its own enumerable string keys; array: undefined. */
  keys: string[] | undefined;
  index: number;
  depth: number;
}

/**
 * Objects with at least this many keys are wide: listing their keys (`Object.keys`, `for…in`) is
 * one native call of milliseconds (a 26,000-key object, which is in dictionary mode, is 7–13 ms on
 * a loaded machine), so a walk that listed them keeps the list for the stages after it
 * ({@link JsonShapeWalk.wideKeys}).
 */
export const WIDE_OBJECT_KEYS = 1024;

/**
 * The most keys of one object in a tool's result. Listing them is the one step of every walk that
 * cannot be split (a million keys: 0.4–1 s of one turn on a loaded machine): the result's check lists
 * them once, and a wider object is refused there, so no later stage (the log, a multi-execute's
 * result, the answer's JSON, an offloaded file) lists it again. 100,000 keys list in ~20–60 ms.
 */
export const MAX_OBJECT_KEYS = 100_000;

/**
 * Why an object of more than {@link MAX_OBJECT_KEYS} keys is refused, as the end of a sentence after
 * its path: `stages` are what would list its keys again, `fix` the verb of what to do instead
 * (`return`, `send`).
 */
export function wideObjectProblem(keys: number, stages: string, fix: string): string {
  return `is an object of ${keys} keys, more than ${MAX_OBJECT_KEYS}: listing the keys of one object is a step that cannot be split, which every stage ${stages} would take again, holding every other call meanwhile: ${fix} its entries as an array ([{ key, value }, …]), or fewer keys`;
}

/** How a {@link JsonShapeWalk} works (see its constructor). */
export interface ShapeWalkOptions {
  checkEvery?: number;
  root?: string;
  maxKeys?: number;
  /** Find a NaN, ±Infinity or BigInt in the value (`nonFinite`). */
  finiteNumbers?: boolean;
}

/**
 * Why a NaN or ±Infinity is refused where JSON data is taken, as the end of a sentence after its
 * path: JSON has no number for it, so the log (and a remote call's request) would write `null`.
 */
export function nonFiniteProblem(value: number): string {
  return `is ${String(value)}, which JSON has no number for (JSON writes it as null, and reads a number too large for a double, such as 1e999, as Infinity): send a finite number`;
}

/**
 * Why a BigInt is refused where JSON data is taken: JSON cannot write one at all (a remote call's
 * request failed to be written, and was answered as if the server were unreachable).
 */
export function bigIntProblem(value: bigint): string {
  const digits = String(value);
  return `is a BigInt (${digits.length > 24 ? `${digits.slice(0, 24)}…` : digits}n), which JSON cannot carry: send it as a string, or as a number when it fits one`;
}

/** Why a scalar JSON cannot carry is refused (a NaN, ±Infinity or a BigInt), or undefined. */
function numberProblem(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : nonFiniteProblem(value);
  return typeof value === 'bigint' ? bigIntProblem(value) : undefined;
}

/**
 * The depth check and size count of `jsonDepthAndSize` (json-depth.ts), a stretch at a time:
 * `step(due)` walks until it knows (true) or the slice is over (false). `tooDeep` when objects and
 * arrays nest more than `maxDepth` levels (a cycle counts as too deep); `sparse` when an array is
 * mostly holes (see `tooSparse`, json-path.ts), which JSON would write as a `null` each; `entries`
 * (properties and items) and `chars` (of string values) as far as the walk went. A part reached
 * twice is walked again only when reached deeper than before.
 */
export class JsonShapeWalk {
  tooDeep = false;
  /**
   * An array of the value is mostly holes: where (`arguments.ids`, below `root`), and why as the end
   * of a sentence. The walk stops there, after the array's first holes, not at its length.
   */
  sparse: { path: string; problem: string } | undefined;
  /**
   * An object of the value has more keys than the `maxKeys` option: where, and why as the end of a
   * sentence (see {@link wideObjectProblem}). The walk stops there, having listed its keys once.
   */
  wide: { path: string; problem: string } | undefined;
  /**
   * With the `finiteNumbers` option, the first NaN, ±Infinity or BigInt of the value, in JSON order:
   * where, and why as the end of a sentence (see {@link nonFiniteProblem}, {@link bigIntProblem}).
   * The walk stops there.
   */
  nonFinite: { path: string; problem: string } | undefined;
  /**
   * Some object in the value has a prototype other than `Object.prototype` or `null` (a class
   * instance, a Date, or parsed JSON whose `__proto__` key a framework's copy turned into the
   * prototype): the value is not plain JSON data, and reading it would see inherited properties.
   */
  notPlain = false;
  entries = 0;
  chars = 0;
  /**
   * The keys the walk listed of each wide object it entered (at least {@link WIDE_OBJECT_KEYS}),
   * as `Object.keys` gave them: a later stage of the same call that needs them (the log's
   * redaction) reads them here instead of listing them again.
   */
  readonly wideKeys = new Map<object, readonly string[]>();
  readonly #maxDepth: number;
  readonly #checkEvery: number;
  readonly #root: string;
  readonly #maxKeys: number;
  readonly #finite: boolean;
  readonly #seen = new Map<object, number>();
  readonly #stack: ShapeFrame[] = [];
  /** The items of arrays are counted in place (see {@link #countedInPlace}) until one had too many keys. */
  #inPlace = true;

  /**
   * `root`: what a path in `sparse` and `wide` starts with (the value itself). `maxKeys`: the most
   * keys of one object (no limit when not given).
   */
  constructor(value: unknown, maxDepth: number, options: ShapeWalkOptions = {}) {
    this.#maxDepth = maxDepth;
    this.#checkEvery = options.checkEvery ?? CHECK_EVERY;
    this.#root = options.root ?? 'value';
    this.#maxKeys = options.maxKeys ?? Number.POSITIVE_INFINITY;
    this.#finite = options.finiteNumbers ?? false;
    if (typeof value === 'string') this.chars = value.length;
    else if (typeof value === 'object' && value !== null) this.#enter(value, 1);
    else if (typeof value === 'number' && !Number.isFinite(value)) {
      if (this.#finite) this.nonFinite = { path: this.#root, problem: nonFiniteProblem(value) };
      // NaN or Infinity: JSON carries it as null (as a remote session sends it)
      else this.notPlain = true;
    } else if (typeof value === 'bigint' && this.#finite) {
      this.nonFinite = { path: this.#root, problem: bigIntProblem(value) };
    }
  }

  step(due: () => boolean): boolean {
    let work = 0;
    const stack = this.#stack;
    while (
      stack.length > 0 &&
      !this.tooDeep &&
      this.sparse === undefined &&
      this.wide === undefined &&
      this.nonFinite === undefined
    ) {
      if (work++ >= this.#checkEvery) {
        work = 0;
        if (due()) return false;
      }
      const frame = stack[stack.length - 1]!;
      const { value, keys } = frame;
      const length = keys === undefined ? (value as unknown[]).length : keys.length;
      if (frame.index >= length) {
        stack.pop();
        continue;
      }
      const index = frame.index;
      const item: unknown =
        keys === undefined ? (value as unknown[])[index] : (value as Record<string, unknown>)[keys[index]!];
      if (keys === undefined && tooSparse(value, index, item, frame)) {
        this.sparse = {
          path: cutPath(framePath(this.#root, stack, stack.length - 1)),
          problem: sparseArrayProblem(length, frame.holes, index, 'pass'),
        };
        break;
      }
      frame.index++;
      this.entries++;
      if (typeof item === 'string') this.chars += item.length;
      else if (typeof item === 'object' && item !== null) {
        this.#enter(item, frame.depth + 1, keys === undefined);
      } else if (this.#finite) {
        const problem = numberProblem(item);
        if (problem !== undefined)
          this.nonFinite = { path: cutPath(framePath(this.#root, stack, stack.length)), problem };
      }
    }
    return true;
  }

  #enter(value: object, depth: number, inArray = false): void {
    if (!this.notPlain && !Array.isArray(value)) {
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) this.notPlain = true;
    }
    if (depth > this.#maxDepth) {
      this.tooDeep = true;
      return;
    }
    if (inArray && this.#inPlace && !Array.isArray(value) && this.#countedInPlace(value)) return;
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    const length = keys === undefined ? (value as unknown[]).length : keys.length;
    if (keys !== undefined && length > this.#maxKeys) {
      this.wide = {
        path: cutPath(framePath(this.#root, this.#stack, this.#stack.length)),
        problem: wideObjectProblem(length, 'taking it (validation, the log, the tool)', 'send'),
      };
      return;
    }
    if (keys !== undefined && length >= WIDE_OBJECT_KEYS) this.wideKeys.set(value, keys);
    // a small object or array of scalars is counted here: no frame, nothing remembered
    if (length <= SMALL_ENTRIES && this.#scalarsCounted(value, keys, length)) return;
    const before = this.#seen.get(value);
    if (before !== undefined && before >= depth) return;
    this.#seen.set(value, depth);
    this.#stack.push({ value, keys, index: 0, depth, holes: 0 });
  }

  /**
   * Counts an item of an array that is an object of at most {@link SMALL_ENTRIES} keys, all of them
   * scalars (a record, as a rule), going through its keys by `for…in`: that lists nothing for an
   * object in fast mode, where `Object.keys` allocates a list per object (for a megabyte of records,
   * a megabyte of garbage that brings the next scavenge closer while they are alive). True when
   * counted; false, counting nothing, for an object with an object or array inside, or with more
   * keys, which ends going in place for the rest of the walk: `for…in` lists a wide object in
   * dictionary mode whole before its first key, and `Object.keys` would then list it again (at most
   * one object is listed twice).
   */
  #countedInPlace(value: object): boolean {
    let length = 0;
    let chars = 0;
    for (const key in value) {
      // own keys only, as Object.keys takes them
      if (!Object.hasOwn(value, key)) continue;
      if (++length > SMALL_ENTRIES) {
        this.#inPlace = false;
        return false;
      }
      const item: unknown = (value as Record<string, unknown>)[key];
      if (typeof item === 'string') chars += item.length;
      else if (typeof item === 'object' && item !== null) return false;
      // named by its path: the object gets a frame
      else if (this.#finite && numberProblem(item) !== undefined) return false;
    }
    this.entries += length;
    this.chars += chars;
    return true;
  }

  /** Counts the entries of `value` when they are all scalars (true); false, counting nothing, otherwise. */
  #scalarsCounted(value: object, keys: string[] | undefined, length: number): boolean {
    let chars = 0;
    for (let index = 0; index < length; index++) {
      const item: unknown =
        keys === undefined ? (value as unknown[])[index] : (value as Record<string, unknown>)[keys[index]!];
      if (typeof item === 'string') chars += item.length;
      else if (typeof item === 'object' && item !== null) return false;
      else if (this.#finite && numberProblem(item) !== undefined) return false;
    }
    this.entries += length;
    this.chars += chars;
    return true;
  }
}

/** {@link JsonShapeWalk} run to the end, pausing whenever `slice` is due. */
export async function jsonShapeSliced(
  value: unknown,
  maxDepth: number,
  slice: Slice,
  options: ShapeWalkOptions = {},
): Promise<Pick<JsonShapeWalk, 'tooDeep' | 'sparse' | 'wide' | 'nonFinite' | 'entries' | 'chars'>> {
  const walk = new JsonShapeWalk(value, maxDepth, options);
  const due = () => slice.due();
  while (!walk.step(due)) await slice.pause();
  return {
    tooDeep: walk.tooDeep,
    sparse: walk.sparse,
    wide: walk.wide,
    nonFinite: walk.nonFinite,
    entries: walk.entries,
    chars: walk.chars,
  };
}

/**
 * The own enumerable string keys of an object, in `Object.keys` order, as a stage before listed them
 * (a {@link JsonShapeWalk}'s `wideKeys`); undefined to list them now.
 */
export type ListedKeys = (object: object) => readonly string[] | undefined;

interface CloneFrame {
  source: object;
  target: Record<string, unknown> | unknown[];
  /** Object: its own enumerable string keys; array: undefined. */
  keys: readonly string[] | undefined;
  /** The keys were listed before: one may have gone since (it is then not copied). */
  listed: boolean;
  index: number;
  length: number;
}

/**
 * `structuredClone(value)` of plain data, a stretch at a time: `step(due)` copies until the copy is
 * complete (true) or the slice is over (false). Plain data is what JSON and JavaScript literals
 * make: primitives other than symbols, objects whose prototype is `Object.prototype` or null, and
 * arrays, shared and cyclic references kept as they are. At anything else (a Date, a Map, a class
 * instance, a function, a proxy) it gives up: `plain` becomes false and the caller clones with
 * `structuredClone`, which knows them all (or throws its DataCloneError). The copy is then what
 * `structuredClone` makes: the same own enumerable string keys in the same order (getters read once
 * each, in order), a `__proto__` key an own data property, a null-prototype object an ordinary one,
 * an array's holes holes; but an array is copied as JSON has it, its items and not its named
 * properties (`Object.assign([1], { note: 'x' })` copies as `[1]`). Finding those would list the
 * array's keys in one call, a string for each index (500,000 items: 35–55 ms of one turn), and
 * arguments reach a tool of a remote session or an MCP client as JSON, without them, anyway. An
 * array costs its length, holes included: the call path refuses an array of mostly holes before
 * (a {@link JsonShapeWalk}'s `sparse`).
 */
export class PlainClone {
  /** False once something other than plain data was met (the copy is then not to be used). */
  plain = true;
  readonly #checkEvery: number;
  readonly #listedKeys: ListedKeys | undefined;
  readonly #copies = new Map<object, object>();
  readonly #stack: CloneFrame[] = [];
  /** The keys of each copy of a wide object whose keys were listed already (`listedKeys`), by the copy. */
  readonly wideKeys = new Map<object, readonly string[]>();
  #value: unknown;

  /** `listedKeys`: the keys of wide objects a walk listed already (listing them again is a long turn). */
  constructor(value: unknown, options: { checkEvery?: number; listedKeys?: ListedKeys } = {}) {
    this.#checkEvery = options.checkEvery ?? CHECK_EVERY;
    this.#listedKeys = options.listedKeys;
    this.#value = this.#copy(value);
  }

  /** The copy, once {@link step} has returned true with {@link plain} still true. */
  get value(): unknown {
    return this.#value;
  }

  step(due: () => boolean): boolean {
    const stack = this.#stack;
    let work = 0;
    while (stack.length > 0 && this.plain) {
      if (work++ >= this.#checkEvery) {
        work = 0;
        if (due()) return false;
      }
      const frame = stack[stack.length - 1]!;
      if (frame.index >= frame.length) {
        stack.pop();
        continue;
      }
      const index = frame.index++;
      if (frame.keys === undefined) {
        const source = frame.source as unknown[];
        const item = source[index];
        const target = frame.target as unknown[];
        // a hole stays a hole, as structuredClone keeps it
        if (item === undefined && !(index in source)) target.length = index + 1;
        else target.push(this.#copy(item));
      } else {
        const key = frame.keys[index]!;
        if (frame.listed && !Object.hasOwn(frame.source, key)) continue;
        const item = this.#copy((frame.source as Record<string, unknown>)[key]);
        if (key === '__proto__') {
          Object.defineProperty(frame.target, key, {
            value: item,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          (frame.target as Record<string, unknown>)[key] = item;
        }
      }
      // listing the keys of a wide object is work too
      const top = stack[stack.length - 1];
      if (top !== undefined && top !== frame && top.keys !== undefined && !top.listed)
        work += top.length >> 6;
    }
    return true;
  }

  /** The copy of a value: a primitive itself, an object or array an empty one to fill (a frame). */
  #copy(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) {
      if (typeof value === 'symbol' || typeof value === 'function') this.plain = false;
      return value;
    }
    const known = this.#copies.get(value);
    if (known !== undefined) return known;
    if (isProxy(value)) {
      this.plain = false;
      return undefined;
    }
    const prototype = Object.getPrototypeOf(value);
    let frame: CloneFrame;
    if (Array.isArray(value)) {
      if (prototype !== Array.prototype) {
        this.plain = false;
        return undefined;
      }
      frame = { source: value, target: [], keys: undefined, listed: false, index: 0, length: value.length };
    } else {
      if (prototype !== Object.prototype && prototype !== null) {
        this.plain = false;
        return undefined;
      }
      const listed = this.#listedKeys?.(value);
      const keys = listed ?? Object.keys(value);
      frame = {
        source: value,
        target: {},
        keys,
        listed: listed !== undefined,
        index: 0,
        length: keys.length,
      };
    }
    this.#copies.set(value, frame.target);
    if (frame.listed) this.wideKeys.set(frame.target, frame.keys!);
    this.#stack.push(frame);
    return frame.target;
  }
}

/**
 * `structuredClone(value)`, a slice at a time for plain data (see {@link PlainClone}); anything else
 * is cloned by `structuredClone` at once, when the sliced copy meets it.
 */
export async function cloneSliced(
  value: unknown,
  slice: Slice,
  options: {
    listedKeys?: ListedKeys;
    /** Filled with the keys of the copies of the wide objects whose keys `listedKeys` gave. */
    copiedKeys?: Map<object, readonly string[]>;
  } = {},
): Promise<unknown> {
  const clone = new PlainClone(value, options);
  const due = () => slice.due();
  while (!clone.step(due)) await slice.pause();
  if (!clone.plain) return structuredClone(value);
  for (const [copy, keys] of clone.wideKeys) options.copiedKeys?.set(copy, keys);
  return clone.value;
}
