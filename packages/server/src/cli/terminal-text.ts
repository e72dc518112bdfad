/**
 * Text from outside (a user id, a tool slug, an error message) shown on an operator's terminal:
 * control characters (C0 and C1: ESC starts a sequence the terminal runs, CSI is one in C1),
 * format characters (the bidirectional overrides and isolates that show `ann‮exe.txt` as
 * `anntxt.exe`, zero-width characters) and line or paragraph separators are shown as `\uXXXX`
 * escapes, so what is printed is what is stored, on one line.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `\uXXXX` for each UTF-16 unit of `character` (as a JSON string writes it). */
function escaped(character: string): string {
  let out = '';
  for (let index = 0; index < character.length; index++)
    out += `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return out;
}

/** `text` with its unsafe characters escaped (a log line's message, a field's value). */
export function terminalText(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escaped) : text;
}

/**
 * A table cell: as it is when it holds no unsafe character, else as a JSON string literal with them
 * escaped, so that an escape is told apart from a backslash the text holds (and the value can be
 * read back with `JSON.parse`).
 */
export function terminalCell(text: string): string {
  return UNSAFE.test(text) ? JSON.stringify(text).replace(UNSAFE_ALL, escaped) : text;
}

/**
 * `text` on one line of the terminal (a message, a description in a table): its runs of white space
 * (line breaks, tabs) as one space, then its unsafe characters escaped.
 */
export function oneLine(text: string): string {
  return terminalText(text.replace(/\s+/g, ' ').trim());
}
