import { validateHeaderName, validateHeaderValue } from 'node:http';
import { ToolMuxError } from '@toolmux/core';
import { shownValue } from '@toolmux/core/internal';

/** A URL as a message shows it: its password, if it has one, masked. */
function shownUrl(value: string): string {
  return shownValue(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@]*?:)[^/@]*@/i, '$1***@'));
}

/**
 * The checks of a toolkit factory's options (`mcpToolkit()`, `createHttpToolkit()`, `createApi()`):
 * each refuses a value of the wrong kind or form with TOOL_DEFINITION_INVALID naming the factory and
 * the option, before a process is started, a server is asked or a toolkit is built. Unchecked, a
 * wrong one failed far from its cause: a TypeError from deep inside (`slug: 5`), a refused
 * connection (a header name with a space, an `ftp:` URL), or every call of the toolkit later (a
 * `baseUrl` that is no URL). Header values and environment values are never shown (they may be
 * secrets), only their names.
 */
export class OptionChecks {
  readonly #factory: string;

  constructor(factory: string) {
    this.#factory = factory;
  }

  /** TOOL_DEFINITION_INVALID: `<factory> <name> must be <takes>; got <shown>.` and how to go on. */
  wrong(name: string, takes: string, shown: string, required = false): ToolMuxError {
    return new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `${this.#factory} ${name} must be ${takes}; got ${shown}.${required ? '' : ' Leave it out for its default.'}`,
    });
  }

  /** A string, or nothing when `required` is false. */
  text(name: string, value: unknown, required = false): string | undefined {
    if (value === undefined && !required) return undefined;
    if (typeof value === 'string' && value !== '') return value;
    throw this.wrong(
      name,
      'a non-empty string',
      value === '' ? 'an empty string' : shownValue(value),
      required,
    );
  }

  /** An http(s) URL (a string or a URL object), or nothing when `required` is false. */
  httpUrl(name: string, value: unknown, required = false): URL | undefined {
    if (value === undefined && !required) return undefined;
    const takes = 'an http(s) URL, like https://api.example.com';
    if (typeof value !== 'string' && !(value instanceof URL))
      throw this.wrong(name, takes, shownValue(value), required);
    const text = String(value);
    const url = URL.canParse(text) ? new URL(text) : undefined;
    if (url?.protocol === 'http:' || url?.protocol === 'https:') return url;
    throw this.wrong(name, takes, shownUrl(text), required);
  }

  /** An HTTP header name (a token: no space, colon or control character). */
  headerName(name: string, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && isHeaderName(value)) return value;
    throw this.wrong(name, 'an HTTP header name, like "Authorization" or "X-API-Key"', shownValue(value));
  }

  /** Headers: an object of header names to string values that HTTP can carry (values never shown). */
  headers(name: string, value: unknown): Record<string, string> | undefined {
    if (value === undefined) return undefined;
    const takes = 'an object of HTTP header names to string values';
    if (!isPlainObject(value)) throw this.wrong(name, takes, shownValue(value));
    for (const [header, headerValue] of Object.entries(value)) {
      if (!isHeaderName(header)) {
        throw this.wrong(
          name,
          `${takes} (header names are tokens, like "X-API-Key")`,
          `the header name ${shownValue(header)}`,
        );
      }
      if (typeof headerValue !== 'string' || !isHeaderValue(header, headerValue)) {
        throw this.wrong(
          name,
          `${takes} without line breaks or other control characters`,
          `a value for ${shownValue(header)} that is ${typeof headerValue === 'string' ? 'not one' : shownValue(headerValue)}`,
        );
      }
    }
    return value as Record<string, string>;
  }

  /** An array of strings. */
  strings(name: string, value: unknown): string[] | undefined {
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((each) => typeof each === 'string')) return value;
    throw this.wrong(name, 'an array of strings', shownValue(value));
  }

  /** An object of names to string values (an environment: values never shown). */
  stringRecord(name: string, value: unknown): Record<string, string> | undefined {
    if (value === undefined) return undefined;
    const takes = 'an object of names to string values';
    if (!isPlainObject(value)) throw this.wrong(name, takes, shownValue(value));
    for (const [key, each] of Object.entries(value)) {
      if (typeof each !== 'string')
        throw this.wrong(name, takes, `${shownValue(each)} for ${shownValue(key)}`);
    }
    return value as Record<string, string>;
  }

  /** A function. */
  func(name: string, value: unknown, takes = 'a function'): void {
    if (value !== undefined && typeof value !== 'function') throw this.wrong(name, takes, shownValue(value));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof URL);
}

function isHeaderName(name: string): boolean {
  try {
    validateHeaderName(name);
    return true;
  } catch {
    return false;
  }
}

function isHeaderValue(name: string, value: string): boolean {
  try {
    validateHeaderValue(name, value);
    // undici refuses what node:http takes past Latin-1 (a header is bytes)
    return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
  } catch {
    return false;
  }
}
