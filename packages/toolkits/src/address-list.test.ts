import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAddressList } from './address-list.js';

/** Text with every character that means something in a header (separators, quotes, comments, brackets). */
const awkward = fc.string({
  unit: fc.constantFrom(...'ab Z,;:<>()[]"\\@.'.split('')),
  maxLength: 12,
});
const quoted = (text: string) => `"${text.replace(/[\\"]/g, '\\$&')}"`;
const comment = (text: string) => `(${text.replace(/[\\()]/g, '\\$&')})`;
const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,7}$/);

/** A mailbox as mail programs write it, and the address it holds. */
const mailbox = fc
  .tuple(
    fc.emailAddress(),
    fc.constantFrom('bare', 'quoted name', 'plain name', 'comment', 'nested comment'),
    awkward,
    word,
  )
  .map(([address, form, text, name]) => {
    const written = {
      bare: address,
      'quoted name': `${quoted(text)} <${address}>`,
      'plain name': `${name} ${name} <${address}>`,
      comment: `${address} ${comment(text)}`,
      'nested comment': `${quoted(text)} (${name} ${comment(text)}) <${address}>`,
    }[form];
    return { text: written, address };
  });

describe('parseAddressList', () => {
  it('gives each mailbox of a list, whatever its display name, quoted string or comment holds', () => {
    fc.assert(
      fc.property(
        fc.array(mailbox, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(',', ', ', ' ,\t'),
        (list, separator) => {
          const parsed = parseAddressList(list.map((entry) => entry.text).join(separator));
          expect(parsed).toEqual(list);
        },
      ),
    );
  });

  it("gives a group's members, and nothing for an empty group", () => {
    fc.assert(
      fc.property(
        fc.array(mailbox, { maxLength: 3 }),
        fc.array(mailbox, { maxLength: 3 }),
        word,
        (before, members, name) => {
          const group = `${name}: ${members.map((entry) => entry.text).join(', ')};`;
          const value = [...before.map((entry) => entry.text), group].join(', ');
          expect(parseAddressList(value)).toEqual([...before, ...members]);
        },
      ),
    );
    expect(parseAddressList('undisclosed-recipients:;')).toEqual([]);
  });

  it('reads the cases a comma split got wrong', () => {
    expect(
      parseAddressList(
        '"Smith, Ann" <ann@example.com>, joann@example.com, "Lee, Bob" <bob@example.com> (Bob, at work)',
      ),
    ).toEqual([
      { text: '"Smith, Ann" <ann@example.com>', address: 'ann@example.com' },
      { text: 'joann@example.com', address: 'joann@example.com' },
      { text: '"Lee, Bob" <bob@example.com> (Bob, at work)', address: 'bob@example.com' },
    ]);
    expect(parseAddressList('<"odd, local"@example.com>, <@relay.example:cy@example.com>')).toEqual([
      { text: '<"odd, local"@example.com>', address: '"odd, local"@example.com' },
      { text: '<@relay.example:cy@example.com>', address: 'cy@example.com' },
    ]);
    expect(parseAddressList('')).toEqual([]);
    expect(parseAddressList(' , ,')).toEqual([]);
  });
});
