import { ToolMuxError } from '../errors.js';
import { didYouMean } from './closest-names.js';
import { kindOf, shownValue } from './stored-text.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isFunction = (value: unknown) => typeof value === 'function';
const isString = (value: unknown) => typeof value === 'string';

/**
 * What each option of `new ToolMux()` that is no number, no URL and not `managedAuth` (those have
 * checks of their own: `wholeNumberOf`, `checkOptionUrl`, `checkManagedAuth`) takes, and the test of
 * it. Unchecked, a wrong kind was a TypeError far from its cause (`toolkits: {}` in the constructor,
 * `secretKey: 5` at the first call, `fetch: 'x'` in a tool handler), or a setting silently other than
 * asked: `hostedConnectPage: 'false'` turned the hosted page on.
 */
const OPTION_KINDS = {
  provider: {
    takes: 'a provider: an object with a wrapTools method (new PlainProvider(), new OpenAIProvider(), …)',
    test: (value: unknown) => isObject(value) && isFunction(value.wrapTools),
  },
  toolkits: {
    takes: 'an array of toolkits (defineToolkit() results, builtinToolkits of @toolmux/toolkits)',
    test: Array.isArray,
  },
  store: {
    takes: "a store spec ('sqlite:./path.db', ':memory:', 'postgres://…') or a Store object",
    test: (value: unknown) => isString(value) || isObject(value),
  },
  secretKey: { takes: 'a string: a 32-byte key, base64 or hex', test: isString },
  previousSecretKeys: {
    takes: 'an array of strings: 32-byte keys, base64 or hex',
    test: (value: unknown) => Array.isArray(value) && value.every(isString),
  },
  embed: { takes: 'a function (texts: string[]) => Promise<number[][]>', test: isFunction },
  fetch: { takes: 'a function like globalThis.fetch', test: isFunction },
  logger: {
    takes: 'a logger: an object with debug, warn and error methods (console is one)',
    test: (value: unknown) =>
      isObject(value) && isFunction(value.debug) && isFunction(value.warn) && isFunction(value.error),
  },
  allowedCallbackUrls: {
    takes: 'an array of origins or URL prefixes (["https://app.example.com"])',
    test: Array.isArray,
  },
  hostedConnectPage: { takes: 'true or false', test: (value: unknown) => typeof value === 'boolean' },
} as const;

/**
 * Refuses an option of `new ToolMux()` of the wrong kind (see {@link OPTION_KINDS}), left-out ones
 * (undefined) aside: CONFIG_INVALID naming it, what it takes and the value (its kind only for a string
 * option, as a secret key may be one; a value of the wrong kind is never a string there).
 */
export function checkOptionKinds(options: object): void {
  for (const [name, { takes, test }] of Object.entries(OPTION_KINDS)) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined || test(value)) continue;
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `${name} must be ${takes}; got ${typeof value === 'string' ? 'a string' : shownValue(value)}. Leave it out for its default.`,
    });
  }
}

/**
 * Refuses a key of an options object that `call` does not take (one given as undefined aside), as
 * CONFIG_INVALID naming it, the closest option and every option. Unchecked, a misspelt option was a
 * setting silently left at its default: `toolkit: [acme]` gave a ToolMux no toolkits, and
 * `serve({ host: '0.0.0.0' })` listened on 127.0.0.1 only, out of reach from outside a container.
 */
export function checkOptionNames(
  options: object,
  known: readonly string[],
  call: string,
  {
    code = 'CONFIG_INVALID',
    ignored = [],
  }: {
    code?: 'CONFIG_INVALID' | 'TOOL_DEFINITION_INVALID';
    /** Keys taken and ignored, not named as options (those of the object a definition makes). */
    ignored?: readonly string[];
  } = {},
): void {
  for (const key of Object.keys(options)) {
    if (
      known.includes(key) ||
      ignored.includes(key) ||
      (options as Record<string, unknown>)[key] === undefined
    )
      continue;
    throw new ToolMuxError({
      code,
      message: `${call} has no option ${shownValue(key)}.${didYouMean(key, known)} Its options: ${known.join(', ')}.`,
    });
  }
}

/**
 * The options object of a set-up call (`new ToolMux()`, `createServer()` and the objects in its
 * options, `serve()`, a provider's constructor): `{}` for none (unless `required`), CONFIG_INVALID
 * saying what `call` takes for a value of another kind (its kind only: a string given there may be a
 * secret), and its keys checked by {@link checkOptionNames}.
 */
export function setupOptions<T extends object>(
  value: T | undefined,
  call: string,
  known: readonly string[],
  {
    takes = `an options object ({ ${known.join(', ')} })`,
    required = false,
    code = 'CONFIG_INVALID',
  }: {
    /** What `call` takes, for the message. @default the object of `known` */
    takes?: string;
    /** `undefined` is refused too. */
    required?: boolean;
    /** TOOL_DEFINITION_INVALID for the options of a toolkit's factory. */
    code?: 'CONFIG_INVALID' | 'TOOL_DEFINITION_INVALID';
  } = {},
): T {
  if (value === undefined && !required) return {} as T;
  if (!isObject(value)) {
    throw new ToolMuxError({
      code,
      message: `${call} takes ${takes}${required ? '' : ' or nothing'}; got ${kindOf(value)}.`,
    });
  }
  checkOptionNames(value, known, call, { code });
  return value;
}

/** What an option takes, and the test of it. */
export interface OptionKind {
  readonly takes: string;
  readonly test: (value: unknown) => boolean;
}

/** The options every provider takes (`strict` where a provider has it). */
export const PROVIDER_OPTION_KINDS = {
  strict: { takes: 'true or false', test: (value: unknown) => typeof value === 'boolean' },
  logger: {
    takes: 'a logger: an object with a warn method (console is one)',
    test: (value: unknown) => isObject(value) && isFunction(value.warn),
  },
} as const satisfies Record<string, OptionKind>;

/**
 * {@link PROVIDER_OPTION_KINDS} of a provider whose tools may reach any vendor's model, with
 * `propertyKeys` (see `PropertyKeysMode`).
 */
export const PORTABLE_PROVIDER_OPTION_KINDS = {
  ...PROVIDER_OPTION_KINDS,
  propertyKeys: {
    takes: "'portable' (rename keys a major model API refuses) or 'unchanged'",
    test: (value: unknown) => value === 'portable' || value === 'unchanged',
  },
} as const satisfies Record<string, OptionKind>;

/**
 * A provider's constructor options (`{}` for none), checked: an object, of its options only (see
 * {@link checkOptionNames}), each given one of its kind; CONFIG_INVALID naming the provider and the
 * option otherwise. Unchecked, `strict: 'false'` turned strict mode on (a string is truthy), a
 * misspelt `api: 'response'` handed OpenAI's Responses API tools in the Chat Completions shape, and
 * `{ Strict: true }` was ignored.
 */
export function checkedProviderOptions<T extends object>(
  options: T | undefined,
  provider: string,
  /** What each option takes: one for every key of `T` (the compiler checks it). */
  kinds: { readonly [K in keyof T & string]-?: OptionKind },
): T {
  const checked = setupOptions(options, `new ${provider}()`, Object.keys(kinds));
  for (const [name, { takes, test }] of Object.entries<OptionKind>(kinds)) {
    const value = (checked as Record<string, unknown>)[name];
    if (value === undefined || test(value)) continue;
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `${provider}: ${name} must be ${takes}; got ${shownValue(value)}. Leave it out for its default.`,
    });
  }
  return checked;
}

/**
 * `names`, which the compiler checks to be every key of `T` (a key left out is an error that names
 * it, as `missing`): the options a function checks given ones against stay its type's options.
 *
 * @example const NAMES = everyKeyOf<ServeOptions>()(['port', 'hostname']);
 */
export function everyKeyOf<T>() {
  return <const L extends readonly (keyof T & string)[]>(
    names: L &
      ([Exclude<keyof T, L[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, L[number]> }),
  ): L => names;
}
