/**
 * Whose value a refusal is about, which its words address: a caller's arguments, told what to send
 * (`is a string: send an integer`); a tool's result, which the tool produced and no one can send
 * again (`is a string where the output schema asks for an integer`); or a tool's schema, whose author
 * is told what to write (`is a string: write an array`).
 */
export type Voice = 'arguments' | 'output' | 'definition';

/**
 * What is wrong with a value (`fault`: `is a string`) and what its schema takes (`expected`: `an
 * integer`), in `voice`: `is a string: send an integer`; for a tool's result `is a string where
 * the output schema asks for an integer`; for a schema `is a string: write an integer`.
 */
export function wantedWords(fault: string, expected: string, voice: Voice = 'arguments'): string {
  if (voice === 'output') return `${fault} where the output schema asks for ${expected}`;
  return `${fault}: ${voice === 'definition' ? 'write' : 'send'} ${expected}`;
}
