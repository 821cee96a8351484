import { describe, expect, it } from 'vitest';
import { bytes, clipLines, ROBOT_MARKDOWN_BYTES, table } from '../../src/domain/commands/markdown.js';

describe('a long chat answer', () => {
  const more = (n: number) => `…（还有 ${n} 行未显示，请缩小范围）`;

  it('keeps whole table rows within the robot\'s 20,480 bytes, and says how many rows it left out', () => {
    const rows = Array.from({ length: 600 }, (_, i) => [`渠道${i}`, `2026 工业展第 ${i} 场（华东区）`, i * 3, `${i}%`]);
    const answer = `**渠道列表（600 个）**\n${table(['渠道', '名称', '新增', '转化'], rows)}`;
    expect(bytes(answer)).toBeGreaterThan(ROBOT_MARKDOWN_BYTES);
    const clipped = clipLines(answer, ROBOT_MARKDOWN_BYTES, more);
    expect(bytes(clipped)).toBeLessThanOrEqual(ROBOT_MARKDOWN_BYTES);
    const lines = clipped.split('\n');
    const note = lines.pop()!;
    // Every line kept is a line of the answer, whole; the note counts the rest.
    const all = answer.split('\n');
    expect(lines).toEqual(all.slice(0, lines.length));
    expect(note).toBe(more(all.length - lines.length));
    expect(lines.at(-1)).toMatch(/^\| 渠道\d+ \| .* \|$/);
  });

  it('leaves an answer that fits as it is, and cuts a single overlong line inside it', () => {
    expect(clipLines('短答案\n第二行', 100, more)).toBe('短答案\n第二行');
    const one = '客'.repeat(10_000);
    const cut = clipLines(one, ROBOT_MARKDOWN_BYTES, more);
    expect(bytes(cut)).toBeLessThanOrEqual(ROBOT_MARKDOWN_BYTES);
    expect(cut.endsWith('…')).toBe(true);
  });
});
