import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../../src/domain/campaigns/catalog.js';
import { checkCorpTags, requestCorpTagCheck, runCorpTagCheck } from '../../src/domain/leads/corp-tag-changes.js';
import { syncContact } from '../../src/domain/leads/sync-profile.js';
import { TagResolver } from '../../src/domain/leads/tag-resolver.js';
import { CorpTag } from '../../src/store/models/corp-tag.js';
import { Lead } from '../../src/store/models/lead.js';
import { buildTagEventXml } from '../../src/sandbox/callback-xml.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { startTestBot, type TestBot } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';
import type { WecomClient } from '../../src/wecom/client.js';

// A corp tag renamed or deleted by an admin in WeCom (change_external_tag [D:92130]), through the HTTP receiver: the
// bot's id cache, every lead's tags and what campaigns match follow, and the ops group hears of config still naming
// the old name.
let t: TestBot;
beforeAll(async () => {
  t = await startTestBot('corp-tags', { env: { WECOM_OPS_WEBHOOK_KEY: 'ops-webhook-tags' } });
  t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
});
afterAll(async () => t?.stop());

const lead = (ext: string) => Lead.findOne({ externalUserId: ext }).lean();
const tagsOf = async (ext: string) => ((await lead(ext))?.tags ?? []).map((x) => `${x.group}/${x.name}`).sort();
const idOf = (group: string, name: string) => t.sandbox.state.tags.findTag(group, name)?.id;
const alerts = () => t.sandbox.state.webhook.sent.filter((m) => JSON.stringify(m.body).includes('标签已改名或删除'));

/** A customer scans the `nurture` channel (tags 渠道/培育 and 行业/制造业) and is tagged. */
async function tagged(): Promise<string> {
  const c = t.newContact({ state: 'nurture' });
  expect((await t.post(c.xml)).status).toBe(200);
  await waitFor(async () => (await tagsOf(c.externalUserId)).length === 2, 'channel tags on the lead', 15_000);
  return c.externalUserId;
}

/**
 * The client, whose get_corp_tag_list answers only when released, after WeCom's answer was read (`read`): a check or a
 * tag creation caught between reading the list and acting on it.
 */
function heldTagList(client: WecomClient): { wecom: WecomClient; read: Promise<void>; release: () => void } {
  let listed!: () => void;
  const read = new Promise<void>((r) => (listed = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const wecom = Object.create(client) as WecomClient;
  wecom.getCorpTagList = async (body) => {
    const res = await client.getCorpTagList(body);
    listed();
    await gate;
    return res;
  };
  return { wecom, read, release };
}

describe('corp tags renamed or deleted in WeCom', () => {
  it('a rename moves the cache, every lead and its industry; config still naming the old name is reported; the old name is made anew', async () => {
    const first = await tagged();
    expect(await tagsOf(first)).toEqual(['渠道/培育', '行业/制造业']);
    expect((await lead(first))?.industry).toBe('制造业');
    await createCampaign(t.bot.ctx, { key: 'mfg', name: '制造业群发', segment: { tags: { all: ['行业/制造业'] } }, content: { text: '您好' }, schedule: { cron: '0 10 * * 1', timezone: 'Asia/Shanghai' } }, 'test');
    const oldId = idOf('渠道', '培育')!;
    // scoring.yaml gives the industry 制造业 points (the fixtures use the defaults, which name none).
    const industryPoints = t.bot.ctx.scoring.fit.industry;
    industryPoints['制造业'] = 20;
    const industryGroup = t.sandbox.state.tags.corpTags.find((g) => g.groupName === '行业')!.groupId;

    // An admin renames the tag 行业/制造业 and the group 渠道: two callbacks.
    expect(await t.sandbox.state.tags.adminRename({ tagId: idOf('行业', '制造业')! }, '制造')).toBe(200);
    expect(await t.sandbox.state.tags.adminRename({ groupId: t.sandbox.state.tags.corpTags.find((g) => g.groupName === '渠道')!.groupId }, '来源')).toBe(200);
    await waitFor(async () => (await tagsOf(first)).join() === '来源/培育,行业/制造', 'lead tags renamed', 15_000);
    const l = await lead(first);
    expect(l?.industry).toBe('制造');
    expect(l?.tagKeys?.slice().sort()).toEqual(['来源/培育', '行业/制造']);
    expect(l?.owners[0]?.tags.map((x) => `${x.group}/${x.name}`).sort()).toEqual(['来源/培育', '行业/制造']);
    // The cache follows the ids: the old names are no longer rows.
    const rows = await CorpTag.find({ tagId: { $in: [oldId, idOf('行业', '制造')] } }).lean();
    expect(rows.map((r) => `${r.group}/${r.name}`).sort()).toEqual(['来源/培育', '行业/制造']);
    expect(await CorpTag.countDocuments({ groupId: industryGroup, name: '制造业' })).toBe(0);

    // The channel and the campaign still name the old names: one alert says so.
    const alert = await waitFor(() => alerts()[0], 'ops alert about names still in use', 15_000);
    const text = JSON.stringify(alert.body);
    expect(text).toContain('「渠道/培育」已改名为「来源/培育」');
    expect(text).toContain('「行业/制造业」已改名为「行业/制造」');
    expect(text).toContain('培育渠道');
    expect(text).toContain('群发 **mfg**');
    expect(text).toContain('评分 scoring.yaml：行业「制造业」');
    expect(text).toContain('案例 **mfg-a**、**mfg-b**');
    delete industryPoints['制造业'];

    // A new customer of the channel gets the name channels.yaml says, a tag made anew, never the renamed one's id.
    const second = await tagged();
    expect(await tagsOf(second)).toEqual(['渠道/培育', '行业/制造业']);
    const newId = (await lead(second))?.tags.find((x) => x.name === '培育')?.id;
    expect(newId).toBeTruthy();
    expect(newId).not.toBe(oldId);
    expect(idOf('渠道', '培育')).toBe(newId);
  });

  it('a deleted group takes its tags off every lead, with the industry', async () => {
    const ext = await tagged();
    const group = t.sandbox.state.tags.corpTags.find((g) => g.groupName === '行业')!.groupId;
    expect(await t.sandbox.state.tags.adminDelete({ groupId: group })).toBe(200);
    await waitFor(async () => !(await tagsOf(ext)).some((x) => x.startsWith('行业/')), 'industry tags removed', 15_000);
    expect((await lead(ext))?.industry).toBeNull();
    expect(await tagsOf(ext)).toEqual(['渠道/培育']);
    expect(await CorpTag.countDocuments({ groupId: group })).toBe(0);
  });

  it('a retried callback is one check; checks asked for while one runs are covered by one', async () => {
    const tag = idOf('渠道', '培育')!;
    const xml = buildTagEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), changeType: 'update', id: tag, tagType: 'tag' });
    const { redis, keys } = t.bot.ctx;
    const before = Number(await redis.get(keys.corpTagChecksAsked()));
    expect((await t.post(xml)).status).toBe(200);
    expect((await t.post(xml)).status).toBe(200);
    await waitFor(async () => Number(await redis.get(keys.corpTagChecksDone())) >= before + 1, 'check done', 15_000);
    expect(Number(await redis.get(keys.corpTagChecksAsked()))).toBe(before + 1);

    const a = await requestCorpTagCheck(t.bot.ctx);
    const b = await requestCorpTagCheck(t.bot.ctx);
    // Whichever job runs first covers both; the other finds nothing left.
    const results = await Promise.all([runCorpTagCheck(t.bot.ctx, a), runCorpTagCheck(t.bot.ctx, b)]);
    expect(results.filter((r) => r === 'covered').length).toBeGreaterThanOrEqual(1);
    expect(Number(await redis.get(keys.corpTagChecksDone()))).toBeGreaterThanOrEqual(b);
  });

  it('a rename made while a check runs, after it read the list, gets a check of its own', async () => {
    const { ctx } = t.bot;
    const ext = await tagged();
    const { wecom, read, release } = heldTagList(ctx.wecom);
    const checking = runCorpTagCheck({ ...ctx, wecom }, await requestCorpTagCheck(ctx));
    await read;
    // Not the tag the test before renamed: a second callback about one tag within a second is taken for a retry.
    expect(await t.sandbox.state.tags.adminRename({ tagId: idOf('行业', '制造业')! }, '制造零')).toBe(200);
    release();
    expect(await checking).not.toBe('covered');
    await waitFor(async () => (await tagsOf(ext)).includes('行业/制造零'), 'the rename checked', 15_000);
  });

  it('a check that died before its alert leaves the alert to the next run', async () => {
    const { ctx } = t.bot;
    await tagged();
    t.sandbox.state.tags.findTag('渠道', '培育')!.name = '培育五';
    // The check's work, and no alert: the process died there. Its job's retry finds its request covered.
    await checkCorpTags(ctx);
    expect(alerts().some((m) => JSON.stringify(m.body).includes('培育五'))).toBe(false);
    const done = Number(await ctx.redis.get(ctx.keys.corpTagChecksDone()));
    expect(await runCorpTagCheck(ctx, done)).toBe('covered');
    const alert = await waitFor(() => alerts().find((m) => JSON.stringify(m.body).includes('「渠道/培育」已改名为「渠道/培育五」')), 'the alert raised by the retry', 15_000);
    expect(JSON.stringify(alert.body)).toContain('培育渠道');
    expect(await ctx.redis.exists(ctx.keys.corpTagsGone())).toBe(0);
  });

  it('create and shuffle change nothing the bot keeps: acknowledged and ignored', async () => {
    const { redis, keys } = t.bot.ctx;
    const before = Number(await redis.get(keys.corpTagChecksAsked()));
    for (const changeType of ['create', 'shuffle'] as const) {
      const xml = buildTagEventXml({ toUserName: TEST_CORP.corpId, createTime: Math.floor(Date.now() / 1000), changeType, id: 'etANY', tagType: 'tag' });
      expect((await t.post(xml)).status).toBe(200);
    }
    expect(Number(await redis.get(keys.corpTagChecksAsked()))).toBe(before);
  });

  it('another process forgets the id it remembered for a renamed name', async () => {
    const { ctx } = t.bot;
    const other = new TagResolver(ctx.wecom, ctx.redis, ctx.keys);
    const [before] = await other.resolve([{ group: '渠道', name: '培育' }]);
    expect(before).toBe(idOf('渠道', '培育'));
    t.sandbox.state.tags.findTag('渠道', '培育')!.name = '培育一';
    await checkCorpTags(ctx);
    const [after] = await other.resolve([{ group: '渠道', name: '培育' }]);
    expect(after).not.toBe(before);
    expect(idOf('渠道', '培育')).toBe(after);
  });

  it('a tag list another process read before a rename does not put the old name back in the cache', async () => {
    const { ctx } = t.bot;
    const id = idOf('渠道', '培育')!;
    // Another process is making a tag: it has read the tag list, and writes what it read to the cache in a moment.
    const { wecom, read, release } = heldTagList(ctx.wecom);
    const making = new TagResolver(wecom, ctx.redis, ctx.keys).resolve([{ group: '渠道', name: '新标签' }]);
    await read;
    t.sandbox.state.tags.findTag('渠道', '培育')!.name = '培育二';
    const checking = checkCorpTags(ctx);
    await Promise.race([checking, new Promise((r) => setTimeout(r, 1_000))]);
    release();
    await making;
    await checking;
    const rows = await CorpTag.find({ tagId: id }).lean();
    expect(rows.map((r) => `${r.group}/${r.name}`)).toEqual(['渠道/培育二']);
  });

  it('a lead written from a profile read before a rename, after the check read it, is checked again', async () => {
    const { ctx } = t.bot;
    const ext = await tagged();
    const id = idOf('渠道', '培育')!;
    // An edit's contact sync reads the customer's profile, then waits: the tag is renamed and checked meanwhile.
    let fetched!: () => void;
    const read = new Promise<void>((r) => (fetched = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const wecom = Object.create(ctx.wecom) as WecomClient;
    wecom.getExternalContact = async (...args: Parameters<WecomClient['getExternalContact']>) => {
      const res = await ctx.wecom.getExternalContact(...args);
      fetched();
      await gate;
      return res;
    };
    const syncing = syncContact({ ...ctx, wecom }, { lead: { corpId: TEST_CORP.corpId, externalUserId: ext }, userId: 'zhangsan', channelKey: null, dedupeKey: `edit-${ext}` });
    await read;
    expect(await t.sandbox.state.tags.adminRename({ tagId: id }, '培育三')).toBe(200);
    await waitFor(async () => (await tagsOf(ext)).includes('渠道/培育三'), 'the check renamed the lead', 15_000);
    release();
    await syncing;
    await waitFor(async () => (await tagsOf(ext)).join() === '渠道/培育三,行业/制造业', 'the lead checked again', 15_000);
    // A check that finds the names as they were leaves the generation as it was: writes during it ask for no other.
    const generation = await ctx.redis.get(ctx.keys.corpTagsGeneration());
    await checkCorpTags(ctx);
    expect(await ctx.redis.get(ctx.keys.corpTagsGeneration())).toBe(generation);
  });

  it('a tag held under its old and its new name is kept once', async () => {
    const { ctx } = t.bot;
    const ext = await tagged();
    const id = idOf('渠道', '培育三')!;
    const ref = { corpId: TEST_CORP.corpId, externalUserId: ext };
    // Marked under the old name while WeCom's profile already had the new one.
    await ctx.leads.mutate(ref, null, (d) => {
      for (const list of [d.tags, d.owners[0]!.tags]) list.push({ group: '渠道', name: '培育三', id }, { group: '渠道', name: '培育', id });
    });
    await checkCorpTags(ctx);
    const l = await lead(ext);
    expect(l?.tags.filter((x) => x.id === id).map((x) => `${x.group}/${x.name}`)).toEqual(['渠道/培育三']);
    expect(l?.owners[0]?.tags.filter((x) => x.id === id)).toHaveLength(1);
    expect(l?.tagKeys?.filter((k) => k === '渠道/培育三')).toHaveLength(1);
  });

  it('a tag list that leaves out tags WeCom still has is not believed: no lead loses a tag, and the check fails to be retried', async () => {
    const { ctx } = t.bot;
    const ext = await tagged();
    const before = await tagsOf(ext);
    const wecom = Object.create(ctx.wecom) as WecomClient;
    // The whole list comes back empty; asked by id, WeCom still has the tags.
    wecom.getCorpTagList = async (body) => (body?.tag_id?.length || body?.group_id?.length ? ctx.wecom.getCorpTagList(body) : { errcode: 0, errmsg: 'ok', tag_group: [] });
    await expect(checkCorpTags({ ...ctx, wecom })).rejects.toThrow(/left out .* it still has/);
    expect(await tagsOf(ext)).toEqual(before);
    expect(await CorpTag.countDocuments({ tagId: idOf('渠道', '培育三') })).toBe(1);
  });

  it('a rename whose callback never came is caught by the nightly check (CORP_TAGS_CHECK_CRON)', async () => {
    const ext = await tagged();
    const held = (await lead(ext))!.tags.find((x) => x.group !== '行业')!;
    // WeCom renames the tag but its change_external_tag callback never reaches the bot (given up after its retries).
    const group = t.sandbox.state.tags.corpTags.find((g) => g.tags.some((x) => x.id === held.id))!;
    group.tags.find((x) => x.id === held.id)!.name = '培育（夜检）';
    const scheduler = await t.bot.ctx.queues.get('corp-tags').getJobScheduler('corp-tags');
    expect(scheduler).toMatchObject({ pattern: '0 3 * * *', tz: 'Asia/Shanghai' });
    // The job its slot adds (the data the schedule gives it).
    await t.bot.ctx.queues.add('corp-tags', { n: 0 });
    await waitFor(async () => (await tagsOf(ext)).includes(`${group.groupName}/培育（夜检）`), 'the lead renamed by the nightly check', 15_000);
    expect(await tagsOf(ext)).not.toContain(`${held.group}/${held.name}`);
    expect(await CorpTag.countDocuments({ tagId: held.id, name: held.name })).toBe(0);
  });

  it('a check that outlives a loss of Redis does not pass the requests made after it off as done', async () => {
    const { ctx } = t.bot;
    const { keys, redis } = ctx;
    // Request 7 (no job: this test runs the check itself), caught after it read WeCom's list.
    await redis.set(keys.corpTagChecksAsked(), '7');
    await redis.set(keys.corpTagChecksDone(), '6');
    const { wecom, read, release } = heldTagList(ctx.wecom);
    const checking = runCorpTagCheck({ ...ctx, wecom }, 7);
    await read;
    // Redis loses the counts (a flush, a failover to an empty replica): requests count from 1 again.
    await redis.del(keys.corpTagChecksAsked(), keys.corpTagChecksDone());
    release();
    await checking;
    expect(await redis.get(keys.corpTagChecksDone())).toBeNull();
    const next = await redis.incr(keys.corpTagChecksAsked());
    expect(next).toBe(1);
    expect(await runCorpTagCheck(ctx, next)).not.toBe('covered');
  });
});
