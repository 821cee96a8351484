import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/domain/nurture/reconcile.js';
import { jobIds } from '../../src/queues/job-ids.js';
import { migrateEnrollmentIds } from '../../src/store/migrate-enrollment-ids.js';
import { Enrollment, enrollmentId, enrollmentsOf, ledgerId } from '../../src/store/models/enrollment.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('migrate_enrollments');
});
afterAll(async () => h?.stop());

describe('enrollments stored under ObjectIds (before 0.2)', () => {
  it('move to their primary-key ids once, keep their delivery keys, and get their step scheduled again', async () => {
    const corpId = h.ctx.corpId;
    const ext = (i: number) => `wm_mig_${Date.now()}_${i}`;
    const legacy = [0, 1].map((i) => ({
      _id: new mongoose.Types.ObjectId(), corpId, externalUserId: ext(i), sequenceKey: 'fast', ownerUserId: 'zhangsan',
      status: 'active', stopReason: null, step: 1, attempts: 0, dueAt: new Date(Date.now() + 3_600_000), enrolledAt: new Date(), endedAt: null, history: [],
    }));
    await Enrollment.collection.insertMany(legacy as never[]);
    // A move a crash interrupted: the old document is gone, the copy parked.
    const parkedLead = ext(2);
    const parkedId = enrollmentId(corpId, parkedLead, 'fast');
    await mongoose.connection.collection('enrollment_moves').insertOne({
      _id: parkedId,
      doc: { ...legacy[0], _id: undefined, externalUserId: parkedLead, legacyId: 'aaaaaaaaaaaaaaaaaaaaaaaa' },
    } as never);

    await reconcile(h.ctx);

    expect(await Enrollment.collection.countDocuments({ _id: { $type: 'objectId' } } as never)).toBe(0);
    expect(await mongoose.connection.collection('enrollment_moves').countDocuments({})).toBe(0);
    for (const old of legacy) {
      const [moved] = await enrollmentsOf({ corpId, externalUserId: old.externalUserId }, ['fast', 'slow']);
      expect(moved).toMatchObject({ _id: enrollmentId(corpId, old.externalUserId, 'fast'), step: 1, status: 'active' });
      // The steps it sent keep their keys in the exactly-once ledger.
      expect(ledgerId(moved!)).toBe(old._id.toString());
      // Its current step is scheduled under the new id.
      expect(await h.ctx.queues.get('nurture').getJob(jobIds.nurtureStep(String(moved!._id), 1))).toBeTruthy();
    }
    expect((await Enrollment.findById(parkedId).lean())?.legacyId).toBe('aaaaaaaaaaaaaaaaaaaaaaaa');
    expect(await migrateEnrollmentIds(h.ctx.log)).toBe(0);
  });
});
