import { describe, expect, it } from 'vitest';
import { reasonName, roleName } from '../../src/domain/commands/words.js';

describe('score contributions in the answer\'s language', () => {
  it('names each kind in Chinese, and leaves English as the score wrote it', () => {
    const zh = ['industry 制造业', 'role decision-maker', 'company', 'channel expo2026', 'reply ×2', 'click', 'case opened ×3', 'intent', '客服 conversation', 'stage qualified'].map((r) => reasonName(r, 'zh'));
    expect(zh).toEqual(['行业 制造业', '角色 决策者', '公司', '渠道 expo2026', '回复 ×2', '点击链接', '打开案例 ×3', '意向', '客服会话', '阶段 合格']);
    expect(reasonName('reply ×2', 'en')).toBe('reply ×2');
    expect(reasonName('something new', 'zh')).toBe('something new');
    expect(roleName('user', 'zh')).toBe('使用者');
  });
});
