import type { ErrorObject } from 'ajv/dist/2020.js';
import { NameMatcher } from '../util/closest-names.js';
import { type Bound, kindOf, rangeWords } from '../util/range-words.js';
import {
  choiceWords,
  multipleOfWords,
  noFormWords,
  notValidWords,
  patternWords,
  refusedValue,
  typeMismatchWords,
  unknownValueWords,
} from '../util/refusal-words.js';
import { type Voice, wantedWords } from '../util/voice.js';
import { listOf, unknownKeysMessage } from '../util/zod-issues.js';

/**
 * Ajv's errors of a JSON Schema tool's value in the words a zod tool's issues are told in (see
 * `describeZodIssue`): what is wrong and what to send, with the schema's own bounds and options
 * (`is too large: send an integer from 1 to 5`, `has 0 items: send an array of at least 1 item`,
 * `unknown value "c"; use one of a, b`) where Ajv said `must be <= 5`, `must NOT have fewer than 1
 * items`, `must be equal to one of the allowed values`. The schema's words come from the error's
 * `parentSchema` (Ajv's `verbose`), the value's from its `data`; a value from outside is shown only
 * as an unknown value or key, quoted and cut. A tool's result checked against its output schema is
 * told in the output voice (see `Voice`): what the tool returned where the schema asks for what, never
 * what to send (`rows[0].n: is a string where the output schema asks for an integer`).
 */

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON Schema type in words: `a string`, `an integer`, `null`. */
function typeNoun(type: string): string {
  if (type === 'null') return 'null';
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** A keyword's types (`"string"`, `["string", "null"]`, Ajv's `"string,null"`) as a list. */
export function typeList(type: unknown): string[] {
  if (Array.isArray(type)) return type.map(String);
  return typeof type === 'string' ? type.split(',') : [];
}

/** What the types take, in words: `a string or null`. */
function typesInWords(types: readonly string[]): string {
  return listOf(types.map(typeNoun), 'or');
}

/**
 * What a value of `type` is wrong as, and what to send; for a value not a number, by its kind and the
 * types, written once ({@link typeWordsByKind}): 1,000 wrong items are one string, not 1,000 alike.
 */
function typeWords(got: unknown, type: unknown, voice: Voice): string {
  const key = typeof got === 'number' ? undefined : `${voice}\u0000${kindOf(got)}\u0000${String(type)}`;
  let words = key === undefined ? undefined : typeWordsByKind.get(key);
  if (words !== undefined) return words;
  const types = typeList(type);
  words = typeMismatchWords(got, typesInWords(types), {
    wantsInteger: types.includes('integer') && !types.includes('number'),
    showNumbers: false,
    voice,
  });
  if (key !== undefined) {
    if (typeWordsByKind.size >= 1_024) typeWordsByKind.clear();
    typeWordsByKind.set(key, words);
  }
  return words;
}

/** {@link typeWords} by the voice, the value's kind and the keyword's types, forgotten past 1,024. */
const typeWordsByKind = new Map<string, string>();

/** What a schema takes, in words, for a field left out (`a string`, `one of a, b`); undefined when it does not say. */
function expectationOf(schema: unknown): string | undefined {
  if (!isSchema(schema)) return undefined;
  if ('const' in schema) return refusedValue(schema.const);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return choiceWords(schema.enum);
  const types = typeList(schema.type);
  return types.length > 0 ? typesInWords(types) : undefined;
}

const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** The tighter of two bounds (`lower`: the larger one is tighter). */
function tighter(a: Bound | undefined, b: Bound | undefined, lower: boolean): Bound | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  if (a[0] === b[0]) return a[1] ? b : a;
  return (lower ? a[0] > b[0] : a[0] < b[0]) ? a : b;
}

/** A keyword's bound, when the keyword holds a number: `minimum` (the value itself within it) or `exclusiveMinimum`. */
function boundOf(value: unknown, within: boolean): Bound | undefined {
  const bound = number(value);
  return bound === undefined ? undefined : [bound, within];
}

const inclusive = (value: unknown) => boundOf(value, true);
const exclusive = (value: unknown) => boundOf(value, false);

/** The keywords of a size's bounds, by the kind of value they bound (`rangeWords`'s origins). */
const SIZE_KEYWORDS: Record<string, { origin: string; min: string; max: string }> = {
  minLength: { origin: 'string', min: 'minLength', max: 'maxLength' },
  maxLength: { origin: 'string', min: 'minLength', max: 'maxLength' },
  minItems: { origin: 'array', min: 'minItems', max: 'maxItems' },
  maxItems: { origin: 'array', min: 'minItems', max: 'maxItems' },
  minProperties: { origin: 'object', min: 'minProperties', max: 'maxProperties' },
  maxProperties: { origin: 'object', min: 'minProperties', max: 'maxProperties' },
};

/** A number past its `minimum`, `maximum`, `exclusiveMinimum` or `exclusiveMaximum`, with both of the schema's bounds. */
function numberRangeWords(error: ErrorObject, schema: Schema, voice: Voice): string {
  const small = error.keyword === 'minimum' || error.keyword === 'exclusiveMinimum';
  const types = typeList(schema.type);
  return rangeWords({
    origin: 'number',
    small,
    bound: Number((error.params as { limit?: unknown }).limit),
    lower: tighter(inclusive(schema.minimum), exclusive(schema.exclusiveMinimum), true),
    upper: tighter(inclusive(schema.maximum), exclusive(schema.exclusiveMaximum), false),
    got: error.data,
    integer: types.includes('integer') && !types.includes('number'),
    showNumbers: false,
    voice,
  });
}

/** A string, an array or an object past a size its schema sets, with both of the schema's bounds. */
function sizeRangeWords(error: ErrorObject, schema: Schema, voice: Voice): string {
  const { origin, min, max } = SIZE_KEYWORDS[error.keyword]!;
  return rangeWords({
    origin,
    small: error.keyword === min,
    bound: Number((error.params as { limit?: unknown }).limit),
    lower: inclusive(schema[min]),
    upper: inclusive(schema[max]),
    got: error.data,
    integer: true,
    showNumbers: false,
    voice,
  });
}

/** An array with more items than its `prefixItems` and `items: false` (or `unevaluatedItems: false`) allow. */
function tooManyItemsWords(got: unknown, limit: number, schema: Schema, voice: Voice): string {
  return rangeWords({
    origin: 'array',
    small: false,
    bound: limit,
    lower: inclusive(schema.minItems),
    upper: tighter([limit, true], inclusive(schema.maxItems), false),
    got,
    integer: true,
    showNumbers: false,
    voice,
  });
}

/** Kept "did you mean" matchers of the enums refused: an enum of thousands of values is made ready once. */
const enumMatchers = new WeakMap<readonly unknown[], NameMatcher>();

function enumMatcher(values: readonly unknown[]): NameMatcher {
  let matcher = enumMatchers.get(values);
  if (matcher === undefined) {
    matcher = NameMatcher.sorted(values.filter((value): value is string => typeof value === 'string'));
    enumMatchers.set(values, matcher);
  }
  return matcher;
}

/**
 * What the words of one explanation may still do: "did you mean" hints cost a walk of the names
 * each; and whose value they tell of (the caller's arguments, or a tool's result).
 */
export interface WordBudget {
  hints: number;
  readonly voice: Voice;
}

/**
 * The most "did you mean" hints one explanation gives: each walks the allowed names (an enum of 5,000
 * strings: 0.1 ms a hint; 20 of them more than doubled the check of 4,000 values not in it, 1.7 ms).
 */
export const MAX_HINTS = 5;

/** A value not among `values` (an `enum`, a `const`, the values of a union's forms). */
export function unknownAmong(got: unknown, values: readonly unknown[], budget: WordBudget): string {
  // a tool's result gets no hint: the tool, not the model, wrote the value
  const hinted = typeof got === 'string' && budget.hints > 0 && budget.voice !== 'output';
  if (hinted) budget.hints--;
  return unknownValueWords(got, values, hinted ? enumMatcher(values) : undefined, budget.voice).replace(
    /\.$/,
    '',
  );
}

/** A key of an object its schema does not take, with the keys it takes (of many, the first ones). */
function unknownKeyWords(key: string, schema: Schema, budget: WordBudget): string {
  const known = isSchema(schema.properties) ? Object.keys(schema.properties) : [];
  const hint = budget.hints > 0 && budget.voice !== 'output';
  if (hint) budget.hints--;
  return unknownKeysMessage([key], known, { hint, voice: budget.voice }).replace(/\.$/, '');
}

/** The JSON Pointer segment of a key. */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * One of Ajv's errors in words: the JSON Pointer of the value it is about (a key left out: the key's
 * own; a key not taken: its object's, the key named in the words) and what is wrong there and what
 * to send. `keyError`: for a `propertyNames`
 * error, the error of the key itself (its `minLength`, `pattern`…), which Ajv reports before it.
 */
export function ajvErrorWords(
  error: ErrorObject,
  budget: WordBudget,
  keyError?: ErrorObject,
): { pointer: string; message: string } {
  const pointer = error.instancePath;
  const params = error.params as Record<string, unknown>;
  const schema = isSchema(error.parentSchema) ? error.parentSchema : {};
  const got = error.data;
  const voice = budget.voice;
  const at = (message: string) => ({ pointer, message });
  switch (error.keyword) {
    case 'type':
      return at(typeWords(got, params.type, voice));
    case 'enum':
      return at(unknownAmong(got, params.allowedValues as unknown[], budget));
    case 'const':
      return at(unknownAmong(got, [params.allowedValue], budget));
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return at(numberRangeWords(error, schema, voice));
    case 'multipleOf':
      return at(multipleOfWords(String(params.multipleOf), voice));
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
    case 'minProperties':
    case 'maxProperties':
      return at(sizeRangeWords(error, schema, voice));
    case 'pattern':
      return at(patternWords(String(params.pattern), voice));
    case 'items':
    case 'additionalItems':
    case 'unevaluatedItems':
      return at(tooManyItemsWords(got, Number(params.limit ?? params.len), schema, voice));
    case 'uniqueItems':
      return at(
        wantedWords(
          `has the same item at [${String(params.j)}] and [${String(params.i)}]`,
          'an array whose items all differ',
          voice,
        ),
      );
    case 'contains': {
      const least = number(params.minContains) ?? 1;
      const most = number(params.maxContains);
      const size =
        most === undefined
          ? `at least ${least.toLocaleString('en')}`
          : least === 0 || least === most
            ? `${least === 0 ? 'at most' : 'exactly'} ${most.toLocaleString('en')}`
            : `${least.toLocaleString('en')} to ${most.toLocaleString('en')}`;
      return at(
        wantedWords(
          `${most === undefined ? 'has too few' : 'has too few or too many'} items of the kind its "contains" describes`,
          `an array with ${size} of them (see the schema)`,
          voice,
        ),
      );
    }
    case 'required':
    case 'dependentRequired':
    case 'dependencies': {
      const missing = String(params.missingProperty);
      const expectation = isSchema(schema.properties) ? expectationOf(schema.properties[missing]) : undefined;
      const when =
        error.keyword === 'required' ? '' : ` when ${refusedValue(String(params.property))} is given`;
      return {
        pointer: `${pointer}/${escapePointer(missing)}`,
        message:
          voice === 'output'
            ? `is missing${when} where the output schema requires ${expectation ?? 'it'}`
            : `is required${when}${expectation === undefined ? '' : `: ${expectation}`}`,
      };
    }
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return at(
        unknownKeyWords(String(params.additionalProperty ?? params.unevaluatedProperty), schema, budget),
      );
    case 'propertyNames': {
      const name = String(params.propertyName);
      const inner = keyError && ajvErrorWords({ ...keyError, data: name }, { hints: 0, voice }).message;
      // a key not among the ones an `enum` or `const` lists: `has an unknown key "x"; use one of a, b`
      if (inner?.startsWith('unknown value '))
        return at(inner.replace('unknown value ', 'has an unknown key '));
      // the object's path, and the key named in the words, cut: a key may be a megabyte long
      return at(
        `has a key ${refusedValue(name)} that ${inner ?? wantedWords('is not valid', 'a key this object takes (see the schema)', voice)}`,
      );
    }
    case 'not':
      return at(
        wantedWords('matches a form this field must not take', 'a value outside it (see the schema)', voice),
      );
    case 'if':
      return at(
        wantedWords(
          `does not match the schema's "${String(params.failingKeyword)}" for such a value`,
          'a value that does (see the schema)',
          voice,
        ),
      );
    case 'anyOf':
    case 'oneOf':
      return at(noFormWords(got, undefined, voice));
    case 'false schema':
      return at(
        voice === 'output'
          ? 'is there where the output schema allows no value'
          : 'is not allowed here: leave it out',
      );
    default:
      return at(notValidWords(voice));
  }
}

/** A value of a kind none of a union's forms takes: `is a boolean: send one of low, high or null`. */
export function noFormTakesWords(
  got: unknown,
  values: readonly unknown[],
  types: readonly string[],
  voice: Voice,
): string {
  const expected = [...(values.length > 0 ? [choiceWords(values)] : []), ...types.map(typeNoun)];
  return wantedWords(`is ${kindOf(got)}`, listOf(expected, 'or'), voice);
}

/** A value that matches more than one form of a `oneOf` (their numbers). */
export function manyFormsWords(forms: string, voice: Voice): string {
  return wantedWords(
    `matches more than one of the forms this field takes (${forms})`,
    'a value that matches exactly one',
    voice,
  );
}
