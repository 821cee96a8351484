import mongoose from 'mongoose';
import type { Logger } from '../logger.js';
import { isDuplicateKey } from './create-once.js';
import { Enrollment, enrollmentId } from './models/enrollment.js';

const BATCH = 500;
/** Where a moving enrollment waits between the removal of its old document and the insert of its new one. */
const MOVES = 'enrollment_moves';

/**
 * Enrollments stored before 0.2 have ObjectIds; a lead's enrollments are now read by primary key
 * (`enrollmentId(corp, customer, sequence)`), so each old one moves to its new id once. The copy keeps the old id as
 * `legacyId`: its delivery keys, and so the exactly-once ledger of the steps it sent, stay the same. The unique index
 * on (corp, customer, sequence) forbids both documents at once, so a move parks the copy in `enrollment_moves`,
 * removes the old document, inserts the copy and drops the parked one; a crash anywhere leaves either the old
 * document or the parked copy, and the next run finishes the move. A step job still naming the old id finds nothing
 * and ends; the reconciler, which runs this first, schedules the step under the new id.
 */
export async function migrateEnrollmentIds(log: Pick<Logger, 'info'>): Promise<number> {
  const moves = mongoose.connection.collection<{ _id: string; doc: Record<string, unknown> }>(MOVES);
  const land = async (m: { _id: string; doc: Record<string, unknown> }) => {
    try {
      await Enrollment.collection.insertOne({ ...m.doc, _id: m._id } as never);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    await moves.deleteOne({ _id: m._id });
  };
  let moved = 0;
  for (const m of await moves.find({}).toArray()) {
    await land(m);
    moved++;
  }
  for (;;) {
    const old = await Enrollment.collection.find({ _id: { $type: 'objectId' } } as never).limit(BATCH).toArray();
    if (!old.length) break;
    for (const doc of old) {
      const { _id, ...rest } = doc as unknown as Record<string, unknown> & { _id: { toString(): string }; corpId: string; externalUserId: string; sequenceKey: string };
      const m = { _id: enrollmentId(rest.corpId, rest.externalUserId, rest.sequenceKey), doc: { ...rest, legacyId: _id.toString() } };
      await moves.replaceOne({ _id: m._id }, m, { upsert: true });
      await Enrollment.collection.deleteOne({ _id } as never);
      await land(m);
      moved++;
    }
  }
  if (moved) log.info({ moved }, 'enrollments moved to their primary-key ids');
  return moved;
}
