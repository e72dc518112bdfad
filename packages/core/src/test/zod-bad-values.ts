import type { z } from 'zod';

/**
 * Values that break zod schemas, and zod's default wording, for tests that say no refusal a model
 * or a REST client reads is worded as zod's defaults (the REST API's 400s, a tool's arguments).
 */

type Def = { type: string; checks?: Array<{ _zod: { def: Record<string, unknown> } }> } & Record<
  string,
  unknown
>;

const defOf = (schema: z.core.$ZodType) => schema._zod.def as unknown as Def;

/** The schema inside optional / nullable / default / pipe wrappers. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(current);
    if (
      ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)
    )
      current = def.innerType as z.core.$ZodType;
    else if (def.type === 'pipe') current = def.in as z.core.$ZodType;
    else if (def.type === 'lazy') current = (def.getter as () => z.core.$ZodType)();
    else return current;
  }
  return current;
}

/** Values that break `schema`: one per check it makes, and one of a wrong type. */
export function badZodValues(schema: z.core.$ZodType, depth = 0): unknown[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  const checks = (def.checks ?? []).map((check) => check._zod.def);
  const values: unknown[] = [];
  for (const check of checks) {
    if (check.check === 'min_length') values.push(def.type === 'string' ? '' : []);
    if (check.check === 'max_length')
      values.push(
        def.type === 'string'
          ? 'x'.repeat(Number(check.maximum) + 1)
          : new Array(Number(check.maximum) + 1).fill(null),
      );
    if (check.check === 'greater_than') values.push(Number(check.value) - 1);
    if (check.check === 'less_than') values.push(Number(check.value) + 1);
    if (check.check === 'number_format') values.push(1.5, 2 ** 60);
    if (check.check === 'string_format') values.push('#not this format#');
    if (check.check === 'multiple_of') values.push(Number(check.value) + 0.5);
  }
  if (depth > 5) return values;
  switch (def.type) {
    case 'string':
      return [...values, 5];
    case 'number':
    case 'int':
      return [...values, 'five', true];
    case 'boolean':
      return ['yes'];
    case 'enum':
    case 'literal':
      return ['not-one-of-them', 7];
    case 'array':
      return [
        ...values,
        'x',
        ...badZodValues(def.element as z.core.$ZodType, depth + 1).map((item) => [item]),
      ];
    case 'record':
      return [
        ...values,
        'x',
        ...badZodValues(def.keyType as z.core.$ZodType, depth + 1)
          .filter((key) => typeof key === 'string')
          .map((key) => ({ [key as string]: 'x' })),
        ...badZodValues(def.valueType as z.core.$ZodType, depth + 1).map((item) => ({ key: item })),
      ];
    case 'object':
      return [
        ...values,
        'x',
        [],
        { not_a_known_key: 1 },
        ...Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([name, field]) =>
          badZodValues(field, depth + 1).map((item) => ({ [name]: item })),
        ),
      ];
    case 'union':
      return [
        ...values,
        7,
        {},
        { type: 'not-one-of-them' },
        ...(def.options as z.core.$ZodType[]).flatMap((option) => badZodValues(option, depth + 1)),
      ];
    default:
      return values;
  }
}

/** zod's default English wording: it names the rule broken, not what to send. */
export const ZOD_DEFAULTS =
  /Too small|Too big|expected \w+ to (?:have|be)|Invalid input|Invalid option|Invalid string|Invalid number|Invalid key in|Invalid value in|Invalid discriminator|Unrecognized key|received \w+/;
