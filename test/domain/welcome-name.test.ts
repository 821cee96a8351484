import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderWithin, LONGEST_NAME, NAME_MAX_CHARS } from '../../src/content/render.js';
import { sendWelcome } from '../../src/domain/welcome/send-welcome.js';
import { bytes } from '../../src/text-bytes.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('renderWithin: a filled text within a byte limit, the name cut rather than the text', () => {
  it('keeps a name up to NAME_MAX_CHARS characters and cuts a longer one to it', () => {
    expect(renderWithin('{{name}}您好', { name: '王经理' }, 4000)).toBe('王经理您好');
    expect(renderWithin('{{name}}您好', { name: '王'.repeat(NAME_MAX_CHARS + 10) }, 4000)).toBe(`${'王'.repeat(NAME_MAX_CHARS)}您好`);
  });

  it('cuts the name further (never inside a character) when the text needs it, however often it appears', () => {
    const text = `{{name}}您好，${'欢'.repeat(1290)}{{name}}`; // 3,879 bytes and the name twice
    const out = renderWithin(text, { name: LONGEST_NAME }, 4000);
    expect(bytes(out)).toBeLessThanOrEqual(4000);
    expect(out).not.toMatch(/[\uD800-\uDFFF\uFFFD]/u); // no half character
    expect(out).toContain(`您好，${'欢'.repeat(1290)}`);
    expect(out.startsWith('\u{1F600}')).toBe(true);
  });
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness('welcome-name');
});
afterAll(async () => h?.stop());

describe('a welcome to a customer with a long name', () => {
  it('is sent within 4000 bytes [D:92137], the name cut to its longest counted length, not refused', async () => {
    // 3,699 bytes as written: within the limit for any name up to 64 characters of 4 bytes (what templates:check counts).
    const text = `{{name}}您好，${'欢'.repeat(1230)}`;
    h.ctx.channels.addStored([{ key: 'longwelcome', name: '长欢迎', tags: [], owners: ['zhangsan'], welcome: { text } }]);
    const longName = '王'.repeat(200); // 600 bytes: the text filled with it is 4,299 bytes
    const { externalUserId, welcomeCode } = h.sandbox.state.contacts.addCustomer({ name: longName, userId: 'zhangsan' });
    const now = Date.now();
    const status = await sendWelcome(
      h.ctx,
      { corpId: TEST_CORP.corpId, externalUserId, userId: 'zhangsan', channelKey: 'longwelcome', welcomeCode, dedupeKey: `welcome-name|${now}`, receivedAt: now, deadline: now + 19_000 },
      { lastAttempt: true },
    );
    expect(status).toBe('sent');
    const sent = h.sandbox.state.welcome.sent.find((w) => w.externalUserId === externalUserId)!;
    expect(bytes(sent.text!)).toBeLessThanOrEqual(4000);
    expect(sent.text).toBe(`${'王'.repeat(NAME_MAX_CHARS)}您好，${'欢'.repeat(1230)}`);
  });
});
