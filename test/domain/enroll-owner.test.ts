import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enroll } from '../../src/domain/nurture/enroll.js';
import { Enrollment, enrollmentId } from '../../src/store/models/enrollment.js';
import { Lead } from '../../src/store/models/lead.js';
import { timelineOf } from '../../src/store/timeline.js';
import { TEST_CORP } from '../fixtures/test-corp.js';
import { wecomXml } from '../fixtures/wecom/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// The add handler records the lead (recordArrival) and then enrolls it, in two sections under the lead's lock. A
// deletion handled between the two (events run concurrently; an add whose enroll failed is retried after one) ends the
// member's ownership and releases their enrollments before there is one: the enrollment made after it must not send
// as a member who no longer has the customer.
let h: Harness;
beforeAll(async () => {
  h = await startHarness('enroll-owner');
});
afterAll(async () => h?.stop());

let n = 0;
const now = () => Math.floor(Date.now() / 1000);
const payload = (name: string, o: Record<string, string | number | null>) => wecomXml(`contact/${name}`, { ToUserName: TEST_CORP.corpId, CreateTime: now(), ...o });

/** A lead added by `owners` (in order) through a channel without a sequence: the lead as recordArrival leaves it. */
async function arrived(owners: string[]) {
  const ext = `wm_enroll_owner_${Date.now()}_${n++}`;
  for (const userId of owners) await h.handle(payload('add_external_contact', { ExternalUserID: ext, UserID: userId, State: 'notext', WelcomeCode: null, CreateTime: now() - 10 }));
  return { corpId: TEST_CORP.corpId, externalUserId: ext };
}
/** zhangsan deletes the customer (not a succession). */
const removedBy = (ext: string, userId: string) => h.handle(payload('del_external_contact', { ExternalUserID: ext, UserID: userId, Source: null }));

describe('enrolling a lead whose member deleted the customer meanwhile', () => {
  it('does not enroll it when no active owner is left', async () => {
    const lead = await arrived(['zhangsan']);
    await removedBy(lead.externalUserId, 'zhangsan');
    expect((await Lead.findOne({ externalUserId: lead.externalUserId }).lean())?.owners.map((o) => o.status)).toEqual(['removed']);

    expect(await enroll(h.ctx, lead, 'slow', 'zhangsan')).toBeNull();
    expect(await Enrollment.findById(enrollmentId(lead.corpId, lead.externalUserId, 'slow')).lean()).toBeNull();
    const skipped = (await timelineOf(lead.corpId, lead.externalUserId)).find((e) => e.type === 'enroll_skipped');
    expect(skipped?.detail).toMatchObject({ sequence: 'slow', reason: 'owner_removed' });
  });

  it('enrolls it with another active owner, as the member release would have moved it', async () => {
    const lead = await arrived(['zhangsan', 'lisi']);
    await removedBy(lead.externalUserId, 'zhangsan');
    const e = await enroll(h.ctx, lead, 'slow', 'zhangsan');
    expect(e?.ownerUserId).toBe('lisi');
  });
});
