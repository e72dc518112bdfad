/**
 * Whose value a refusal is about, which its words address: a caller's arguments, told what to send
 * (`is a string: send an integer`), or a tool's result, which the tool produced and no one can send
 * again (`is a string where the output schema asks for an integer`).
 */
export type Voice = 'arguments' | 'output';

/**
 * What is wrong with a value (`fault`: `is a string`) and what its schema takes (`expected`: `an
 * integer`), in `voice`: `is a string: send an integer`, or for a tool's result `is a string where
 * the output schema asks for an integer`.
 */
export function wantedWords(fault: string, expected: string, voice: Voice = 'arguments'): string {
  return voice === 'output'
    ? `${fault} where the output schema asks for ${expected}`
    : `${fault}: send ${expected}`;
}
