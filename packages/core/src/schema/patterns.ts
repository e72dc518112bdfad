import type { JSONSchema } from '../catalog/types.js';

/**
 * Whether a model API takes a string `pattern`: OpenAI refuses lookaround in any tool schema, strict
 * or not ("Invalid JSON schema: regex lookaround is not supported", the whole request fails), and the
 * grammars of strict mode (OpenAI's, Anthropic's strict tool use) also refuse backreferences and word
 * boundaries. Text inside a character class or after a backslash is read as the plain text it is there.
 *
 * @example
 * isModelPattern('^[a-z]+$'); // true
 * isModelPattern('^(?=.*[A-Z]).{8,}$'); // false
 */
export function isModelPattern(pattern: unknown): boolean {
  if (typeof pattern !== 'string') return false;
  let inClass = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '\\') {
      // \1…\9 and \k<name> refer back to a group; \b and \B are word boundaries (a backspace in a class)
      if (!inClass && /[1-9bBk]/.test(pattern[index + 1] ?? '')) return false;
      index++;
    } else if (inClass) {
      if (char === ']') inClass = false;
    } else if (char === '[') inClass = true;
    else if (char === '(' && /^\?(?:=|!|<=|<!)/.test(pattern.slice(index + 1, index + 4))) return false;
  }
  return true;
}

/**
 * One schema object without a `pattern` model APIs refuse (see {@link isModelPattern}): the pattern
 * is written into the description instead, unless a `format` already says what the string is.
 * Arguments are still validated against the original schema, pattern included.
 */
export function withoutRefusedPattern(schema: JSONSchema): JSONSchema {
  if (!('pattern' in schema) || isModelPattern(schema.pattern)) return schema;
  const { pattern, ...rest } = schema;
  if (typeof pattern !== 'string' || typeof rest.format === 'string') return rest;
  const note = `Must match the regular expression ${pattern}.`;
  return {
    ...rest,
    description: typeof rest.description === 'string' ? `${rest.description} ${note}` : note,
  };
}
