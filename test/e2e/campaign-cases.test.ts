import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { launchCampaign } from '../../src/domain/campaigns/control.js';
import { dryRun } from '../../src/domain/campaigns/dry-run.js';
import { campaignDetail } from '../../src/domain/campaigns/overview.js';
import { CampaignRun } from '../../src/store/models/campaign-run.js';
import { Delivery } from '../../src/store/models/delivery.js';
import { Fence } from '../../src/store/models/fence.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { TEMPLATES_DIR } from '../helpers/test-bot.js';

const API = 'externalcontact/add_msg_template';
const escape = (s: string) => s.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&');

/**
 * `caseStudy: auto` with a case library that has no general (通用) case: a lead of an industry no case covers has
 * nothing to be sent (docs/ops-guide.md, "Campaigns"). It is targeted and recorded as skipped (`no_case_left`), gets
 * no message and uses none of its caps, and the dry run counts it the same way.
 */
describe('caseStudy: auto when no case study fits a lead', () => {
  let h: Harness;
  let templates: string;
  beforeAll(async () => {
    templates = mkdtempSync(path.join(os.tmpdir(), 'campaign-cases-'));
    cpSync(TEMPLATES_DIR, templates, { recursive: true });
    rmSync(path.join(templates, 'cases', 'general-a.md'));
    h = await startHarness('campaign_cases', {
      env: { TEMPLATES_DIR: templates, CAMPAIGN_QUIET_HOURS: 'none', NURTURE_DAILY_CAP: '1', MASS_MESSAGE_CAP: '1/day' },
      sandbox: { massQuota: '1/day' },
    });
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(templates, { recursive: true, force: true });
  });

  it('skips the lead with no_case_left in the run and in the dry run; no message, no cap or quota used', async () => {
    expect(h.ctx.cases.some((c) => c.industries.includes('通用'))).toBe(false);
    const [edu, mfg] = await seedLeads(h.sandbox, [
      { name: '教育客户', industry: '教育', tags: ['测试/nocase'] },
      { name: '制造客户', industry: '制造业', tags: ['测试/nocase'] },
    ]);
    const c = await createCampaign(h.ctx, { key: 'nocase', name: '同行案例', segment: { tags: { all: ['测试/nocase'] } }, content: { caseStudy: 'auto', text: '同行案例：' }, schedule: { cron: '0 10 * * 1' } }, 'test');

    const dry = await dryRun(h.ctx, c);
    expect(dry).toMatchObject({ targeted: 2, skipped: 1, byRoute: { kf: 0, mass: 1, owner: 0, enroll: 0 } });
    expect(dry.owners).toEqual([{ owner: 'zhangsan', tasks: 1, customers: 1, reminders: 0 }]);
    expect(dry.sample.find((s) => s.name === '教育客户')?.via).toBe('skipped');

    const before = h.sandbox.state.okCallsTo(API).length;
    const { run } = await launchCampaign(h.ctx, 'nocase');
    await h.drain('campaign-run');
    expect((await CampaignRun.findById(run._id).lean())?.status).toBe('finished');

    // One task, for the lead a case fits, with its case's link; nothing for the other.
    const calls = h.sandbox.state.okCallsTo(API).slice(before).map((x) => x.body as { external_userid: string[]; attachments?: Array<{ link: { title: string } }> });
    expect(calls.map((x) => x.external_userid)).toEqual([[mfg!.externalUserId]]);
    expect(calls[0]!.attachments?.[0]?.link.title).toBe('甲厂：排产效率提升 32%');
    expect(await Delivery.findOne({ runId: run._id, externalUserId: edu!.externalUserId }).lean()).toMatchObject({ status: 'skipped', reason: 'no_case_left', via: null });
    expect((await timelineOf(TEST_CORP.corpId, edu!.externalUserId)).map((s) => s.type)).toContain('campaign_skipped');
    // Neither its daily cap nor its mass-message quota was taken.
    expect(await Fence.exists({ _id: { $regex: `^(day|mass)\\|${escape(edu!.id)}\\|` } })).toBeNull();
    expect(await Fence.exists({ _id: { $regex: `^(day|mass)\\|${escape(mfg!.id)}\\|` } })).toBeTruthy();

    const results = (await campaignDetail('nocase'))!.runs[0]!.results;
    expect(results).toMatchObject({ targeted: dry.targeted, skipped: dry.skipped, byRoute: { kf: 0, mass: 1, owner: 0 }, waitingForOwner: 1 });
    expect(results.owners).toEqual(dry.owners);
  });
});
