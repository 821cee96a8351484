import { describe, expect, it } from 'vitest';
import { bytes, clipBytes, clipChars, linkLine, withLinkLine } from '../../src/text-bytes.js';

describe('withLinkLine', () => {
  const link = '甲厂案例：http://127.0.0.1/r/abc123';
  it('joins text and link when they fit', () => {
    expect(withLinkLine('你好', link, 2048)).toBe(`你好\n${link}`);
    expect(withLinkLine(null, link, 2048)).toBe(link);
    expect(withLinkLine('你好', '', 2048)).toBe('你好');
  });
  it('cuts the text, never the link, to fit', () => {
    const long = '案'.repeat(1000); // 3,000 bytes
    const out = withLinkLine(long, link, 2048);
    expect(bytes(out)).toBeLessThanOrEqual(2048);
    expect(out.endsWith(`…\n${link}`)).toBe(true);
  });
  it('cuts only a link longer than the room on its own', () => {
    const out = withLinkLine('你好', `标题：http://x/${'a'.repeat(3000)}`, 2048);
    expect(bytes(out)).toBeLessThanOrEqual(2048);
    expect(clipBytes('a'.repeat(10), 5)).toBe('aa…');
  });
});

describe('linkLine', () => {
  it('joins a title and its URL with a colon, or a space after a title that ends in its own mark', () => {
    expect(linkLine('甲厂案例', 'http://x/r/1')).toBe('甲厂案例：http://x/r/1');
    expect(linkLine('投入多久收回？', 'http://x/r/1')).toBe('投入多久收回？ http://x/r/1');
    expect(linkLine('复购率提升到 37%。', 'http://x/r/1')).toBe('复购率提升到 37%。 http://x/r/1');
  });
});

describe('clipChars', () => {
  it('cuts to a number of characters (code points), never inside an emoji', () => {
    expect(clipChars('ab😀c', 3)).toBe('ab😀');
    expect(clipChars('ab😀c', 2)).toBe('ab');
    expect(clipChars('短', 30)).toBe('短');
  });
});
