/** Markdown for chat answers and reports: byte limits, tables, safe cells. */

/** Longest markdown a robot stream or a response_url message takes, in UTF-8 bytes [D:101031, D:101138]. */
export const ROBOT_MARKDOWN_BYTES = 20_480;

/** UTF-8 length. */
export const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Cuts `text` to at most `max` UTF-8 bytes (never inside a character), ending with … when it was cut. */
export function clipBytes(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  return `${Buffer.from(text, 'utf8').subarray(0, max - 3).toString('utf8').replace(/\uFFFD+$/u, '')}…`;
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
