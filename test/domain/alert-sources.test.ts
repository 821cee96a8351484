import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinGrade } from '../../src/domain/leads/grade.js';
import { localDay } from '../../src/domain/nurture/clock.js';
import { WecomApiError } from '../../src/errors.js';
import { Alert } from '../../src/store/models/alert.js';
import { leadId, type LeadRef } from '../../src/store/models/lead.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait-for.js';

// Where ops alerts come from: a lead rising into S or A, churn of an S/A lead, WeCom errors a person must fix. Each
// goes to the ops group's webhook once (raiseAlert's key; its 20 a minute and digest are tested in alerts.test.ts).
const KEY = 'ops-webhook-key-sources';
let h: Harness;
let minutesLater = 0;
beforeAll(async () => {
  h = await startHarness('alert_sources', { env: { WECOM_OPS_WEBHOOK_KEY: KEY }, sandbox: { webhookKeys: [KEY], now: () => Date.now() + minutesLater * 60_000 } });
});
afterAll(async () => h?.stop());

/** The news of an upgrade waits UPGRADE_NEWS_DELAY_MS: its alerts are delayed jobs, run now. */
async function postAlerts(): Promise<void> {
  for (const job of await h.ctx.queues.get('ops-alert').getJobs(['delayed'])) await job.promote();
  await h.drain('ops-alert');
}

async function seed(externalUserId: string, name: string): Promise<LeadRef> {
  const ref = { corpId: h.ctx.corpId, externalUserId };
  const at = new Date(Date.now() - 60_000);
  await h.ctx.leads.mutate(ref, { channelKey: 'expo2026', userId: 'zhangsan', at }, (d) => {
    d.name = name;
    d.corpName = '甲厂';
    d.owners.push({ userId: 'zhangsan', channelKey: 'expo2026', addedAt: at, lastEventAt: at });
  });
  return ref;
}

describe('alert sources', () => {
  it('a lead rising into S or A: one alert per upgrade, after the save, posted to the ops group', async () => {
    const ref = await seed('wm_upgrade', '赵总');
    await pinGrade(h.ctx, ref, 'S', { actor: 'zhangsan' });
    await postAlerts();
    await pinGrade(h.ctx, ref, 'A', { actor: 'zhangsan' }); // S → A is no upgrade
    await pinGrade(h.ctx, ref, 'auto', { actor: 'zhangsan' });
    await pinGrade(h.ctx, ref, 'A', { actor: 'zhangsan' }); // C → A: the second upgrade
    const id = leadId(ref.corpId, ref.externalUserId);
    const alerts = await Alert.find({ kind: 'grade_upgrade' }).sort({ raisedAt: 1 }).lean();
    expect(alerts.map((a) => a._id)).toEqual([`grade|${id}|1`, `grade|${id}|2`]);
    expect(alerts[0]).toMatchObject({ title: '新的 S 级线索' });
    expect(alerts[0]!.text).toMatch(/^\*\*赵总\*\*（甲厂） 升为 \*\*S\*\* 级（得分 \d+，人工定级）· 渠道 2026 工业展 · 负责人 zhangsan/);
    await postAlerts();
    const posted = h.sandbox.state.webhook.sent.filter((m) => m.content?.includes('赵总'));
    expect(posted.map((m) => m.content!.split('\n')[0])).toEqual(['**新的 S 级线索**', '**新的 A 级线索**']);
  });

  it('two upgrades saved before the first is told (B→A→S in one go): the ops group and the owner hear once, of the grade it ends at', async () => {
    const ref = await seed('wm_twice', '钱总');
    await pinGrade(h.ctx, ref, 'A', { actor: 'zhangsan' });
    await pinGrade(h.ctx, ref, 'S', { actor: 'zhangsan' });
    const id = leadId(ref.corpId, ref.externalUserId);
    await postAlerts();
    expect((await Alert.findById(`grade|${id}|1`).lean())?.status).toBe('superseded');
    expect((await Alert.findById(`grade|${id}|2`).lean())?.status).toBe('sent');
    expect(h.sandbox.state.webhook.sent.filter((m) => m.content?.includes('钱总')).map((m) => m.content!.split('\n')[0])).toEqual(['**新的 S 级线索**']);
    for (const job of await h.ctx.queues.get('staff-notice').getJobs(['delayed'])) await job.promote();
    await h.drain('staff-notice');
    const told = h.sandbox.state.appMessages.sent.filter((m) => m.content?.includes('钱总'));
    expect(told.map((m) => m.content!.match(/升为 (\S) 级/)?.[1])).toEqual(['S']);
  });

  it('a rise undone before it is told (a lower grade pinned, or the customer opted out) is told to nobody', async () => {
    const pinned = await seed('wm_undone', '孙总');
    await pinGrade(h.ctx, pinned, 'S', { actor: 'zhangsan' });
    await pinGrade(h.ctx, pinned, 'B', { actor: 'zhangsan' });
    const optedOut = await seed('wm_optout', '吴总');
    await pinGrade(h.ctx, optedOut, 'A', { actor: 'zhangsan' });
    await h.ctx.leads.mutate(optedOut, null, (d) => {
      d.stage = 'unsubscribed';
      d.unsubscribedAt = new Date();
    });
    await postAlerts();
    for (const job of await h.ctx.queues.get('staff-notice').getJobs(['delayed'])) await job.promote();
    await h.drain('staff-notice');
    for (const [ref, reason] of [[pinned, 'grade_changed'], [optedOut, 'unsubscribed']] as const) {
      expect(await Alert.findById(`grade|${leadId(ref.corpId, ref.externalUserId)}|1`).lean()).toMatchObject({ status: 'superseded', reason });
    }
    expect(h.sandbox.state.webhook.sent.filter((m) => /孙总|吴总/.test(m.content ?? ''))).toEqual([]);
    expect(h.sandbox.state.appMessages.sent.filter((m) => /孙总|吴总/.test(m.content ?? ''))).toEqual([]);
  });

  it('churn of an S or A lead alerts once per churn event; churn of a B lead does not', async () => {
    const a = await seed('wm_churn_a', '钱经理');
    await pinGrade(h.ctx, a, 'A', { actor: 'zhangsan' });
    const event = wecomXml('contact/del_follow_user', { ExternalUserID: a.externalUserId, CreateTime: Math.floor(Date.now() / 1000) });
    const { dedupeKey } = await h.handle(event);
    await h.handle(event, { attempt: 1 });
    const churn = await Alert.find({ kind: 'churn' }).lean();
    expect(churn).toHaveLength(1);
    expect(churn[0]).toMatchObject({ _id: `churn|${dedupeKey}`, title: 'A 级线索流失' });
    expect(churn[0]!.text).toContain('**钱经理**（甲厂） 删除了 zhangsan · 渠道 2026 工业展 · 已没有在跟的员工，线索记为流失');
    const b = await seed('wm_churn_b', '孙工');
    await pinGrade(h.ctx, b, 'B', { actor: 'zhangsan' });
    await h.handle(wecomXml('contact/del_follow_user', { ExternalUserID: b.externalUserId, CreateTime: Math.floor(Date.now() / 1000) }));
    expect(await Alert.countDocuments({ kind: 'churn' })).toBe(1);
  });

  it('WeCom errors a person must fix (48002, a token that cannot be fetched) alert once per errcode per day', async () => {
    const day = localDay(Date.now(), h.config.OPS_TIMEZONE);
    h.sandbox.state.inject({ api: 'externalcontact/get', errcode: 48002, times: 3 });
    for (let i = 0; i < 3; i++) await expect(h.ctx.wecom.getExternalContact('wm_x')).rejects.toMatchObject({ errcode: 48002 });
    const perm = await waitFor(() => Alert.findById(`platform|48002|${day}`).lean(), 'the 48002 alert');
    expect(perm).toMatchObject({ kind: 'platform_error', title: '企业微信错误 48002，需要有人处理' });
    expect(perm.text).toContain('可调用接口的应用');
    // The cached token dies and WeCom will not give a new one (the secret was reset in the admin console).
    h.sandbox.state.tokens.expire();
    h.sandbox.state.inject({ api: 'gettoken', errcode: 40001 });
    await expect(h.ctx.wecom.getExternalContact('wm_x')).rejects.toBeInstanceOf(WecomApiError);
    const token = await waitFor(() => Alert.findById(`platform|40001|${day}`).lean(), 'the token alert');
    expect(token.text).toContain('WECOM_SECRET');
    // An ordinary refusal is the caller's business, not an alert.
    h.sandbox.state.inject({ api: 'externalcontact/get', errcode: 84061 });
    await expect(h.ctx.wecom.getExternalContact('wm_x')).rejects.toMatchObject({ errcode: 84061 });
    await new Promise((r) => setTimeout(r, 200));
    expect((await Alert.find({ kind: 'platform_error' }).lean()).map((a) => a._id).sort()).toEqual([`platform|40001|${day}`, `platform|48002|${day}`]);
  });

  it('a burst of new S leads past the 19 a minute alerts may take of the webhook: each alert once, the rest in one digest, none dropped', async () => {
    const before = h.sandbox.state.webhook.sent.length;
    for (let i = 0; i < 24; i++) await pinGrade(h.ctx, await seed(`wm_burst_${i}`, `客户${i}`), 'S', { actor: 'zhangsan' });
    expect(await Alert.countDocuments({ kind: 'grade_upgrade', _id: /wm_burst_/ })).toBe(24);
    await postAlerts();
    // The webhook's minute also holds this file's other alerts: together, 19 (the minute's 20th send is the daily report's).
    const inMinute = h.sandbox.state.webhook.sent.length;
    expect(inMinute).toBe(19);
    const direct = h.sandbox.state.webhook.sent.slice(before).filter((m) => /\*\*客户\d+\*\*/.test(m.content ?? '')).length;
    expect(await Alert.countDocuments({ kind: 'grade_upgrade', _id: /wm_burst_/, status: 'sent' })).toBe(direct);
    minutesLater = 1;
    await h.ctx.redis.del(...(await h.ctx.redis.keys(`${h.ctx.keys.prefix}:webhook:*`)));
    for (const job of await h.ctx.queues.get('ops-alert-digest').getJobs(['delayed'])) await job.promote();
    await h.drain('ops-alert-digest');
    const digest = h.sandbox.state.webhook.sent.slice(inMinute);
    expect(digest).toHaveLength(1);
    expect(digest[0]!.content).toMatch(/^\*\*运营提醒汇总（\d+ 条）\*\*/);
    for (let i = 0; i < 24; i++) expect(h.sandbox.state.webhook.sent.filter((m) => m.content?.includes(`**客户${i}**`)), `客户${i}`).toHaveLength(1);
    expect(await Alert.countDocuments({ kind: 'grade_upgrade', _id: /wm_burst_/, status: { $in: ['sent', 'digested'] } })).toBe(24);
  });
});
