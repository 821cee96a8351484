/** Texts measured and cut as WeCom counts them: in UTF-8 bytes. */

/** UTF-8 length. */
export const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * The problem of a text over `max` UTF-8 bytes (a WeCom limit, `note` citing it), or null: the limit, how long the
 * text is, and by how much to shorten it.
 */
export function overBytes(text: string, max: number, note = ''): string | null {
  const n = bytes(text);
  return n <= max ? null : `must be at most ${max} bytes${note ? ` ${note}` : ''}: it is ${n} bytes, shorten it by ${n - max} bytes`;
}

/** Cuts `text` to at most `max` UTF-8 bytes (never inside a character), ending with … when it was cut. */
export function clipBytes(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  return `${Buffer.from(text, 'utf8').subarray(0, max - 3).toString('utf8').replace(/\uFFFD+$/u, '')}…`;
}

/**
 * Cuts `text` to at most `max` characters as WeCom counts them (code points, e.g. a 联系我 code's remark: at most 30
 * [D:92228]), never inside one: an emoji cut in half (a lone UTF-16 surrogate) is refused or shown as garbage.
 */
export function clipChars(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

/**
 * A link as a line of text, `title：url`; a title that ends in its own punctuation (收回投入？) is followed by a space,
 * not by a second mark (收回投入？：http…).
 */
export function linkLine(title: string, url: string): string {
  return `${title}${/[\p{P}]$/u.test(title) ? ' ' : '：'}${url}`;
}

/**
 * A message's text and its link's line (`title：url`) on the line after it, in at most `max` bytes: the text is cut,
 * never the link (a tracked link cut short leads nowhere). Only a link longer than `max` on its own is cut.
 */
export function withLinkLine(text: string | null | undefined, linkLine: string, max: number): string {
  if (!linkLine) return clipBytes(text ?? '', max);
  if (!text) return clipBytes(linkLine, max);
  const room = max - bytes(linkLine) - 1;
  return room >= 3 ? `${clipBytes(text, room)}\n${linkLine}` : clipBytes(`${text}\n${linkLine}`, max);
}
