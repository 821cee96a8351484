import { GroupCommit } from '../group-commit.js';
import { updateById } from './batched-updates.js';
import { insertManyOnce } from './create-once.js';
import { KfHandled, KfMessage, kfMessageId } from './models/kf.js';

/** Marks one shared insert takes at most (an insert is many rows to one statement on FerretDB 1.x). */
const MARKS_PER_INSERT = 200;

interface Mark {
  _id: string;
  at: Date;
  outcome: string;
}

const marks = new GroupCommit<Mark>(async (items) => void (await insertManyOnce(KfHandled.collection, items)), MARKS_PER_INSERT, 1);

/**
 * The 客服 message is done: never handled again (docs/architecture.md, "One 客服 message"). A document of its own in
 * `kf_handled`, inserted with the marks of the moment (src/group-commit.ts): on FerretDB an update per message (a
 * query, a transaction and a commit each) had been a third of the database's work in a burst, while an insert
 * writes many rows in one statement. A mark there already (a re-run of a message whose mark was written) is no error.
 */
export function recordHandled(openKfid: string, msgid: string, outcome: string): Promise<void> {
  return marks.add({ _id: kfMessageId(openKfid, msgid), at: new Date(), outcome });
}

/**
 * Whether the message was handled: its mark, or, for a message stored before the marks had a collection of their
 * own (until 2026-12-06), the mark on its `kf_messages` document. Two reads by _id at most; only messages a sync did
 * not store just now are asked about (a page fetched again, a message set aside in a job).
 */
export async function wasHandled(openKfid: string, msgid: string): Promise<boolean> {
  const id = kfMessageId(openKfid, msgid);
  if (await KfHandled.exists({ _id: id })) return true;
  return Boolean((await KfMessage.findById(id, { handledAt: 1 }).lean())?.handledAt);
}

/**
 * Marks stored messages as waiting set aside (src/domain/kf/set-aside.ts), so they are set aside again if Redis loses
 * their queue. A rare path: one update each.
 */
export async function markPending(openKfid: string, msgids: readonly string[]): Promise<void> {
  await Promise.all(msgids.map((msgid) => updateById(KfMessage.collection, kfMessageId(openKfid, msgid), { $set: { pending: true } })));
}

/** Their `kf-inbound` job has handled them (or they were not queued after all): nothing looks for them again. */
export async function clearPending(openKfid: string, msgids: readonly string[]): Promise<void> {
  await Promise.all(msgids.map((msgid) => updateById(KfMessage.collection, kfMessageId(openKfid, msgid), { $unset: { pending: 1 } })));
}
