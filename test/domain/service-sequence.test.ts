import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelCatalog } from '../../src/content/channels.js';
import { moveStage, type StageMoveOut } from '../../src/domain/leads/stage.js';
import { stage as stageCommand } from '../../handlers/commands/stage.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Enrollment, enrollmentId } from '../../src/store/models/enrollment.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { templateDir, templateProblems } from '../helpers/template-dir.js';
import { TEMPLATES_DIR } from '../helpers/test-bot.js';

const FIXTURE_CHANNELS = readFileSync(path.join(TEMPLATES_DIR, 'channels.yaml'), 'utf8');
const service = (key: string, text: string, extra = '') => `key: ${key}\nname: 客户服务 ${key}\nkind: service\n${extra}steps:\n  - delay: 1s\n    text: "${text}"\n`;

/** The test templates with service sequences: `care` for every channel, `vip` for the channel `nurture`. */
function templatesWithService(): string {
  const channels = `serviceSequence: care\n${FIXTURE_CHANNELS.replace('    sequence: fast\n', '    sequence: fast\n    serviceSequence: vip\n')}`;
  return templateDir(
    {
      'channels.yaml': channels,
      'sequences/care.yaml': service('care', '{{name}}您好，感谢签约！使用中有问题随时找我们。'),
      'sequences/vip.yaml': `${service('vip', '{{name}}您好，您的专属实施顾问已就位。')}  - delay: 7d\n    text: "{{name}}您好，用了一周，感觉怎么样？"\n`,
    },
    { from: TEMPLATES_DIR },
  );
}

describe('a lead that becomes a customer gets its service sequence', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('service-seq', { env: { TEMPLATES_DIR: templatesWithService(), NURTURE_DAILY_CAP: '0' } });
  });
  afterAll(async () => h?.stop());

  let n = 0;
  const newLead = async (state: string) => {
    const ext = `wm_svc_${++n}_${Date.now()}`;
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ext, UserID: 'zhangsan', State: state, WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) - 100 }));
    return { corpId: TEST_CORP.corpId, externalUserId: ext };
  };
  const enrollment = (ref: { corpId: string; externalUserId: string }, key: string) => Enrollment.findById(enrollmentId(ref.corpId, ref.externalUserId, key)).lean();

  it("its channel's own (vip), once ever; its marketing sequence ends; the service step is sent to the customer; moved back into the funnel, it ends", async () => {
    const ref = await newLead('nurture');
    expect(await enrollment(ref, 'fast')).toMatchObject({ status: 'active' });
    const out: StageMoveOut = {};
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约' }, out);
    expect(out.serviceEnrolled).toBe(true);
    expect(await enrollment(ref, 'fast')).toMatchObject({ status: 'stopped' });
    const vip = await enrollment(ref, 'vip');
    expect(vip).toMatchObject({ status: 'active', ownerUserId: 'zhangsan', step: 0 });
    expect(await enrollment(ref, 'care')).toBeNull();
    expect((await timelineOf(ref.corpId, ref.externalUserId)).filter((e) => e.type === 'enrolled').map((e) => e.detail.sequence)).toEqual(['fast', 'vip']);

    // Its step goes out to the customer (a customer is not stopped by its stage in a service sequence).
    h.sandbox.state.contacts.addCustomer({ externalUserId: ref.externalUserId, userId: 'zhangsan', name: '王经理' });
    const job = (await h.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(String(vip!._id), 0)))!;
    await job.promote().catch(() => undefined);
    await h.drain('nurture');
    await h.drain('records');
    expect(await Delivery.findOne({ kind: 'nurture', sequenceKey: 'vip', externalUserId: ref.externalUserId }).lean()).toMatchObject({ status: 'submitted', via: 'mass' });
    expect(h.sandbox.state.okCallsTo('externalcontact/add_msg_template').map((c) => c.body as { external_userid: string[]; text?: { content: string } }).find((b) => b.external_userid.includes(ref.externalUserId))?.text?.content).toContain('您的专属实施顾问已就位');

    // Moved back into the funnel (marked 成交 by mistake): no longer a customer to serve, its service sequence ends...
    await moveStage(h.ctx, ref, 'opportunity', { by: 'staff', source: 'api', actor: 'lisi', reason: '还没签约，误标了' });
    expect(await enrollment(ref, 'vip')).toMatchObject({ status: 'stopped', stopReason: 'not_customer' });
    const stopped = (await timelineOf(ref.corpId, ref.externalUserId)).filter((e) => e.type === 'enrollment_stopped' && e.detail.sequence === 'vip');
    expect(stopped.map((e) => e.detail.reason)).toEqual(['not_customer']);
    // ...and made a customer again, it is not restarted: a sequence is entered once, ever.
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约' });
    expect(await Enrollment.countDocuments({ externalUserId: ref.externalUserId, sequenceKey: { $in: ['vip', 'care'] } })).toBe(1);
  });

  it('a move to customer saved without its enrollment (the database failed in between) is completed when staff ask again', async () => {
    const ref = await newLead('notext');
    // The move is saved, and the enrollment after it does not happen (as if the database failed there).
    const noService = { ...h.ctx, channels: new ChannelCatalog(h.ctx.channels.all()) };
    await moveStage(noService, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约' });
    expect(await enrollment(ref, 'care')).toBeNull();
    // Staff retry the request: the stage is there already, the enrollment is made now, once.
    expect(await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约' })).toBeNull();
    expect(await enrollment(ref, 'care')).toMatchObject({ status: 'active' });
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'command', actor: 'lisi' });
    expect(await Enrollment.countDocuments({ externalUserId: ref.externalUserId, sequenceKey: 'care' })).toBe(1);
    expect((await timelineOf(ref.corpId, ref.externalUserId)).filter((e) => e.type === 'stage_changed')).toHaveLength(1);
  });

  it('the chat command says so when asking again made the missed enrollment (not "nothing changed")', async () => {
    const ref = await newLead('notext');
    const noService = { ...h.ctx, channels: new ChannelCatalog(h.ctx.channels.all()) };
    await moveStage(noService, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约' });
    const c = { ...h.ctx, lang: 'zh' as const, t: (zh: string) => zh, caller: { userId: 'lisi', role: 'admin' as const, chatId: null, chatType: 'single' as const }, msgid: `m-${ref.externalUserId}` };
    expect(await stageCommand.run({ lead: ref.externalUserId, stage: 'customer', reason: undefined }, c)).toContain('补上了它的服务序列');
    expect(await enrollment(ref, 'care')).toMatchObject({ status: 'active' });
    // Asked once more: nothing is made, and the answer says nothing changed.
    await expect(stageCommand.run({ lead: ref.externalUserId, stage: 'customer', reason: undefined }, c)).rejects.toThrow('没有变化');
  });

  it("channels.yaml's own for a channel naming none; an opt-out still ends it", async () => {
    const ref = await newLead('notext');
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'command', actor: 'lisi', reason: '签约' });
    expect(await enrollment(ref, 'care')).toMatchObject({ status: 'active' });
    await moveStage(h.ctx, ref, 'unsubscribed', { by: 'system', source: 'unsubscribe' });
    expect(await enrollment(ref, 'care')).toMatchObject({ status: 'stopped', stopReason: 'unsubscribe' });
  });

  it("a 微信客服 customer who is nobody's contact is not enrolled, and its timeline does not say an owner removed it", async () => {
    const ref = { corpId: TEST_CORP.corpId, externalUserId: `wm_svc_kf_${Date.now()}` };
    // As a 微信客服 arrival makes it (src/domain/kf/link-lead.ts): no owner.
    await h.ctx.leads.mutate(ref, { channelKey: 'notext', userId: 'kf:wkAAA', at: new Date() }, () => undefined);
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'command', actor: 'lisi', reason: '签约' });
    expect(await enrollment(ref, 'care')).toBeNull();
    const skipped = (await timelineOf(ref.corpId, ref.externalUserId)).find((e) => e.type === 'enroll_skipped');
    expect(skipped?.detail).toMatchObject({ sequence: 'care', reason: 'no_owner' });
  });

  it('a lost customer who adds us again is back to customer, and is not enrolled a second time', async () => {
    const ref = await newLead('notext');
    await moveStage(h.ctx, ref, 'customer', { by: 'staff', source: 'api', actor: 'lisi', reason: '签约', at: new Date(Date.now() - 80_000) });
    await h.handle(wecomXml('contact/del_follow_user', { ToUserName: TEST_CORP.corpId, ExternalUserID: ref.externalUserId, UserID: 'zhangsan', CreateTime: Math.floor(Date.now() / 1000) - 50 }));
    expect(await enrollment(ref, 'care')).toMatchObject({ status: 'stopped', stopReason: 'churn' });
    await h.handle(wecomXml('contact/add_external_contact', { ToUserName: TEST_CORP.corpId, ExternalUserID: ref.externalUserId, UserID: 'zhangsan', State: 'notext', WelcomeCode: null, CreateTime: Math.floor(Date.now() / 1000) }));
    expect(await Enrollment.countDocuments({ externalUserId: ref.externalUserId, sequenceKey: 'care' })).toBe(1);
  });
});

describe('templates:check on service sequences', () => {
  const problems = (files: Record<string, string>) => templateProblems(templateDir(files, { from: TEMPLATES_DIR }));

  it('a customer sequence must be a service one, a new contact\'s a marketing one, and a service sequence cannot stop at customer', async () => {
    expect(
      await problems({
        'channels.yaml': `serviceSequence: fast\n${FIXTURE_CHANNELS.replace('    sequence: fast\n', '    sequence: care\n    serviceSequence: nowhere\n')}`,
        'sequences/care.yaml': service('care', '感谢签约！'),
        'sequences/ends.yaml': service('ends', '感谢！', 'stopOn: ["stage:customer"]\n'),
      }),
    ).toEqual([
      'sequences/ends.yaml: stopOn: a service sequence is for customers: "stage:customer" would end it as it starts',
      'channels.yaml: channel nurture: sequence: "care" is a service sequence (for customers): name it in serviceSequence, or name a marketing sequence here',
      'channels.yaml: channel nurture: serviceSequence: no sequence "nowhere" in sequences/ (have: care, fast, five, slow)',
      'channels.yaml: serviceSequence: "fast" is a marketing sequence, which ends when a lead becomes a customer: give it kind: service, or name a service sequence',
    ]);
  });

  it('a campaign enrolling in a service sequence must be kind: service (a marketing one leaves customers out and would enroll only prospects)', async () => {
    const enrolling = (key: string, kind: string) => `key: ${key}\nname: 老客户关怀 ${key}\n${kind}segment:\n  stages: [customer]\ncontent:\n  sequence: care\nschedule:\n  cron: "0 10 * * 1"\n`;
    expect(
      await problems({
        'sequences/care.yaml': service('care', '感谢签约！'),
        'campaigns/care-all.yaml': enrolling('care-all', ''),
        'campaigns/care-ok.yaml': enrolling('care-ok', 'kind: service\n'),
      }),
    ).toEqual([
      'campaigns/care-all.yaml: content.sequence: "care" is a service sequence (for customers), whom a marketing campaign leaves out: give the campaign kind: service',
    ]);
  });

  it('a service sequence cannot stop at a funnel stage before customer either: a customer has reached them all, so it would never start', async () => {
    expect(
      await problems({
        'sequences/care.yaml': service('care', '感谢签约！', 'stopOn: ["stage:qualified", "stage:lost"]\n'),
        'sequences/early.yaml': service('early', '感谢！', 'stopOn: ["stage:added"]\n'),
      }),
    ).toEqual([
      'sequences/care.yaml: stopOn: a service sequence is for customers: "stage:qualified" would end it as it starts (a customer has reached every funnel stage)',
      'sequences/early.yaml: stopOn: a service sequence is for customers: "stage:added" would end it as it starts (a customer has reached every funnel stage)',
    ]);
  });
});
