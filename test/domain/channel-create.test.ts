import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, plan } from '../../src/domain/commands/run-command.js';
import { syncChannels } from '../../src/domain/channels/sync-channels.js';
import { ChannelRecord } from '../../src/store/models/channel-record.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// `渠道 new` makes a 联系我 code (add_contact_way, state = the channel key) [D:92228]: never two for one key, and an
// attempt that did not finish is completed by the same command sent again.
const ADD = 'externalcontact/add_contact_way';
let h: Harness;
let n = 0;
beforeAll(async () => {
  // WeCom answers within 1 s, or the call counts as lost (timeout: ambiguous).
  h = await startHarness('channel_create', { env: { OPS_ADMINS: 'zhangsan', WECOM_API_TIMEOUT_MS: '1000' }, sandbox: { members: ['zhangsan', 'lisi'] } });
});
afterAll(async () => h?.stop());

/** The command as the ops chat runs it (plan, then run): its answer and outcome. */
async function say(text: string) {
  const p = plan(h.ctx, { msgid: `channel-create-${n++}`, userId: 'zhangsan', chatId: 'wrOPS', chatType: 'group', text });
  if (p.kind !== 'run') throw new Error(`not run: ${p.answer}`);
  return execute(p);
}
/** The 联系我 codes WeCom holds for a state. */
const codesOf = (state: string) => [...h.sandbox.state.contactWays.ways.values()].filter((w) => w.state === state);

describe('渠道 new', () => {
  it('a code whose answer was lost (timeout) is not made again: the command says so, and the same command again completes it with that code', async () => {
    // WeCom makes the code, then its answer comes after the client's timeout.
    h.sandbox.state.inject({ api: ADD, delayAfterMs: 1_500 });
    const first = await say('渠道 new lost01 丢失的回答 zhangsan lisi');
    expect(first.outcome).toBe('failed');
    expect(first.answer).toContain('企业微信没有回答是否已为渠道「lost01」生成二维码');
    expect(first.answer).toContain('请稍后再发一次同样的命令');
    // One call: an ambiguous failure is not retried blindly.
    expect(h.sandbox.state.callsTo(ADD)).toHaveLength(1);
    expect(codesOf('lost01')).toHaveLength(1);
    expect(h.ctx.channels.get('lost01')).toBeUndefined();

    const again = await say('渠道 new lost01 丢失的回答 zhangsan lisi');
    expect(again.outcome).toBe('ok');
    expect(again.answer).toContain('已补全渠道 **丢失的回答**（`lost01`），负责人：zhangsan、lisi。（二维码是上次已生成的那个，没有重复生成。）');
    const [code] = codesOf('lost01');
    expect(codesOf('lost01')).toHaveLength(1);
    expect(h.sandbox.state.callsTo(ADD)).toHaveLength(1);
    expect(again.answer).toContain(`联系我二维码：${code!.qr_code}`);
    expect(await ChannelRecord.findOne({ key: 'lost01' }).lean()).toMatchObject({ source: 'command', configId: code!.config_id, qrCode: code!.qr_code, userIds: ['zhangsan', 'lisi'] });
    expect(h.ctx.channels.get('lost01')).toMatchObject({ key: 'lost01', owners: ['zhangsan', 'lisi'] });
    // And a third time: it exists.
    expect((await say('渠道 new lost01 丢失的回答')).answer).toContain(`渠道「lost01」已经存在，二维码：${code!.qr_code}`);
    expect(codesOf('lost01')).toHaveLength(1);
  });

  it('a claim left by an attempt that made no code (its process died before WeCom answered) is taken over at once: one code', async () => {
    await ChannelRecord.create({ key: 'died01', name: '中断的渠道', userIds: ['zhangsan'], source: 'command', createdBy: 'zhangsan', configId: null });
    const r = await say('渠道 new died01 中断的渠道 zhangsan');
    expect(r.outcome).toBe('ok');
    expect(r.answer).toContain('已新建渠道 **中断的渠道**（`died01`），负责人：zhangsan。');
    expect(codesOf('died01')).toHaveLength(1);
    expect(await ChannelRecord.findOne({ key: 'died01' }).lean()).toMatchObject({ configId: codesOf('died01')[0]!.config_id });
  });

  it('an owner the corp does not have: WeCom refuses the code, the answer names that owner, no channel is left and the key is free again', async () => {
    const r = await say('渠道 new ghost01 幽灵渠道 zhangsan nobody');
    expect(r.outcome).toBe('rejected');
    expect(r.answer).toContain('渠道「ghost01」没有建成：企业微信不认识负责人 nobody（错误码 60111');
    expect(r.answer).not.toContain('zhangsan');
    expect(r.answer).toContain('标识「ghost01」仍可使用');
    expect(h.sandbox.state.callsTo(ADD).at(-1)).toMatchObject({ errcode: 60111 });
    expect(codesOf('ghost01')).toHaveLength(0);
    expect(await ChannelRecord.findOne({ key: 'ghost01' }).lean()).toBeNull();
    expect(h.ctx.channels.get('ghost01')).toBeUndefined();
    // One owner: named without asking anything else.
    expect((await say('渠道 new ghost01 幽灵渠道 nobody2')).answer).toContain('企业微信不认识负责人 nobody2（错误码 60111');
    // Fixed, the same key works.
    const ok = await say('渠道 new ghost01 幽灵渠道 zhangsan lisi');
    expect(ok.outcome).toBe('ok');
    expect(codesOf('ghost01')).toHaveLength(1);
    expect(h.ctx.channels.get('ghost01')).toMatchObject({ owners: ['zhangsan', 'lisi'] });
  });

  it('in English too, naming every unknown owner', async () => {
    const p = plan(h.ctx, { msgid: `channel-create-${n++}`, userId: 'zhangsan', chatId: 'wrOPS', chatType: 'group', text: 'channel new ghost02 Ghost lisi nobody nobody3' });
    if (p.kind !== 'run') throw new Error(`not run: ${p.answer}`);
    const r = await execute(p);
    expect(r).toMatchObject({ outcome: 'rejected' });
    expect(r.answer).toContain('WeCom does not know the owners nobody, nobody3 (errcode 60111');
    expect(await ChannelRecord.findOne({ key: 'ghost02' }).lean()).toBeNull();
  });

  it('WeCom refusing the code gives the key back: the command says so and can be sent again', async () => {
    h.sandbox.state.inject({ api: ADD, errcode: 40058 });
    const r = await say('渠道 new refused01 被拒的渠道 zhangsan');
    expect(r).toMatchObject({ outcome: 'rejected', answer: '企业微信拒绝了这个操作（错误码 40058），没有完成。' });
    expect(await ChannelRecord.findOne({ key: 'refused01' }).lean()).toBeNull();
    expect((await say('渠道 new refused01 被拒的渠道 zhangsan')).outcome).toBe('ok');
    expect(codesOf('refused01')).toHaveLength(1);
  });
});

describe('channels:sync', () => {
  it('a code whose answer was lost (timeout) is found by its state and stored, not made a second time', async () => {
    const before = h.sandbox.state.callsTo(ADD).length;
    // The first code made: WeCom makes it, then its answer comes after the client's timeout.
    h.sandbox.state.inject({ api: ADD, delayAfterMs: 1_500 });
    const results = await syncChannels(h.ctx);
    const first = (h.sandbox.state.callsTo(ADD)[before]!.body as { state: string }).state;
    expect(results.find((r) => r.key === first)).toMatchObject({ action: 'created' });
    // One code for that channel, the one stored; no second call was made for it.
    expect(codesOf(first)).toHaveLength(1);
    expect((await ChannelRecord.findOne({ key: first }).lean())?.configId).toBe(codesOf(first)[0]!.config_id);
    expect(h.sandbox.state.callsTo(ADD).slice(before).filter((c) => (c.body as { state: string }).state === first)).toHaveLength(1);
    for (const r of results.filter((x) => x.action === 'created')) expect(codesOf(r.key)).toHaveLength(1);
  });
});
