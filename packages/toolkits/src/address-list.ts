/** One mailbox of an address-list header (To, Cc, Reply-To). */
export interface Mailbox {
  /** The mailbox as the header writes it, e.g. `"Smith, Ann" <ann@example.com>`. */
  text: string;
  /** Its address alone (the addr-spec), e.g. `ann@example.com`. */
  address: string;
}

/** Where a character of a header value stands (RFC 5322 §3.2): the text itself or one of its nested parts. */
type Where = 'text' | 'quoted' | 'comment' | 'literal';

/**
 * Calls `visit` for each character of a header value with where it stands: in a quoted string
 * (`"Smith, Ann"`, with `\` escapes), a comment (`(work, mostly)`, nested, with escapes), a
 * domain literal (`[192.0.2.1]`), or the text. The delimiters belong to the part they open or close.
 */
function scan(value: string, visit: (index: number, where: Where) => void): void {
  let quoted = false;
  let comments = 0;
  let literal = false;
  for (let index = 0; index < value.length; index++) {
    const char = value[index];
    if (quoted || comments > 0) {
      visit(index, quoted ? 'quoted' : 'comment');
      if (char === '\\' && index + 1 < value.length) visit(++index, quoted ? 'quoted' : 'comment');
      else if (quoted && char === '"') quoted = false;
      else if (!quoted && char === '(') comments++;
      else if (!quoted && char === ')') comments--;
    } else if (literal) {
      visit(index, 'literal');
      if (char === ']') literal = false;
    } else if (char === '"') {
      quoted = true;
      visit(index, 'quoted');
    } else if (char === '(') {
      comments = 1;
      visit(index, 'comment');
    } else if (char === '[') {
      literal = true;
      visit(index, 'literal');
    } else visit(index, 'text');
  }
}

/** The text without its comments: `ann@example.com (Ann, at work)` → `ann@example.com `. */
function withoutComments(text: string): string {
  let kept = '';
  scan(text, (index, where) => {
    if (where !== 'comment') kept += text[index];
  });
  return kept;
}

/** The mailbox of one entry of a list, or `undefined` for an entry without an address. */
function mailboxOf(text: string): Mailbox | undefined {
  let open = -1;
  let close = -1;
  scan(text, (index, where) => {
    if (where !== 'text') return;
    if (text[index] === '<' && open < 0) open = index;
    else if (text[index] === '>' && open >= 0 && close < 0) close = index;
  });
  const spec = open >= 0 ? text.slice(open + 1, close < 0 ? undefined : close) : text;
  // an obsolete route (`<@relay.example:ann@example.com>`) is not part of the address
  const address = withoutComments(spec)
    .replace(/^\s*@[^:]*:/, '')
    .trim();
  return address === '' ? undefined : { text, address };
}

/**
 * The mailboxes of an RFC 5322 address list, in order. A comma separates mailboxes only outside
 * quoted strings (`"Smith, Ann" <ann@example.com>`), comments, angle addresses and domain literals;
 * a group (`Team: a@example.com, b@example.com;`) gives its members. Splitting on every comma cut
 * `"Smith, Ann" <ann@example.com>` into `"Smith` and `Ann" <ann@example.com>`.
 *
 * @example
 * parseAddressList('"Smith, Ann" <ann@example.com>, bob@example.com (Bob)');
 * // [{ text: '"Smith, Ann" <ann@example.com>', address: 'ann@example.com' },
 * //  { text: 'bob@example.com (Bob)', address: 'bob@example.com' }]
 */
export function parseAddressList(value: string): Mailbox[] {
  const mailboxes: Mailbox[] = [];
  let start = 0;
  let inAngle = false;
  const end = (index: number) => {
    const mailbox = mailboxOf(value.slice(start, index).trim());
    if (mailbox) mailboxes.push(mailbox);
    start = index + 1;
  };
  scan(value, (index, where) => {
    if (where !== 'text') return;
    const char = value[index];
    if (char === '<') inAngle = true;
    else if (char === '>') inAngle = false;
    else if (inAngle) return;
    else if (char === ',' || char === ';') end(index);
    // a group's name ends at its colon: its members follow
    else if (char === ':') start = index + 1;
  });
  end(value.length);
  return mailboxes;
}
