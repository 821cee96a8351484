/** Markdown for chat answers and reports: byte limits, tables, safe cells. */
import { bytes, clipBytes } from '../../text-bytes.js';

/** Longest markdown a robot stream or a response_url message takes, in UTF-8 bytes [D:101031, D:101138]. */
export const ROBOT_MARKDOWN_BYTES = 20_480;

export { bytes, clipBytes } from '../../text-bytes.js';

/**
 * A chat answer that fits in `max` bytes: cut after its last whole line that fits (a table keeps whole rows), with a
 * line saying how many were left out, in the answer's words (`more(n)`). One line longer than `max` is cut inside.
 */
export function clipLines(text: string, max: number, more: (n: number) => string): string {
  if (bytes(text) <= max) return text;
  const lines = text.split('\n');
  let kept = 0;
  let size = 0;
  // Room for the note: its length for the largest count it could give.
  const room = max - bytes(`\n${more(lines.length)}`);
  while (kept < lines.length && size + bytes(lines[kept]!) + 1 <= room) size += bytes(lines[kept++]!) + 1;
  if (!kept) return clipBytes(text, max);
  return `${lines.slice(0, kept).join('\n')}\n${more(lines.length - kept)}`;
}

/** A table cell: no line breaks or pipes that would break the row. */
export function cell(value: unknown): string {
  return String(value ?? '').replace(/[\r\n]+/g, ' ').replace(/\|/g, '/');
}

/** A markdown table. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const line = (r: readonly unknown[]) => `| ${r.map(cell).join(' | ')} |`;
  return [line(head), `|${head.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

/** A share (0–1) as a percentage, or – when there was nothing to convert. */
export function percent(share: number | null | undefined): string {
  return share === null || share === undefined ? '–' : `${Math.round(share * 1000) / 10}%`;
}
