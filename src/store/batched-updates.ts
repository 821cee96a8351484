import { GroupCommit } from '../group-commit.js';

/** What a batched update needs of a collection: the driver's bulkWrite (a mongoose model's `.collection` has it). */
export interface BulkWritable {
  bulkWrite(ops: never[], opts: { ordered: boolean }): Promise<unknown>;
}

interface Update {
  id: unknown;
  update: Record<string, unknown>;
}

/**
 * Updates one batch carries at most. FerretDB 1.x keeps the query of each update of a command open (holding one of the
 * database's 100 SQLite connections) until the whole command ends, and each update's write needs one more: a command
 * of about 100 updates, or fewer while other commands hold connections, waits for a connection forever and hangs the
 * database (seen in `npm run bench:kf` with batches of 100). Well below that, a batch still shares one command.
 */
export const UPDATES_PER_COMMAND = 32;
const writers = new WeakMap<BulkWritable, GroupCommit<Update>>();

/**
 * Updates the document `id` of `collection` (no upsert), sharing one unordered bulkWrite with the updates by _id that
 * other callers make meanwhile (src/group-commit.ts): one command to the database for a batch of them instead of one
 * each. The database's work on each stays an update by _id (docs/architecture.md, "Stores"): on FerretDB a bulkWrite
 * of 16 costs it about two thirds of 16 single updates, and the driver a fifth.
 *
 * A batch succeeds or fails as one: when the database refuses any of its updates, every caller gets the error, as
 * after a lost connection, so each must treat an error as "maybe applied" (a nurture step's retry reads its
 * enrollment again). Which update was refused cannot be trusted from FerretDB 1.x: it reports index 0 whatever the
 * position, and stops at the first refusal even in an unordered bulkWrite.
 */
export function updateById(collection: BulkWritable, id: unknown, update: Record<string, unknown>): Promise<void> {
  let w = writers.get(collection);
  if (!w) writers.set(collection, (w = new GroupCommit((items) => writeBatch(collection, items), UPDATES_PER_COMMAND, 1)));
  return w.add({ id, update });
}

async function writeBatch(collection: BulkWritable, items: Update[]): Promise<void> {
  await collection.bulkWrite(items.map((u) => ({ updateOne: { filter: { _id: u.id }, update: u.update } })) as never[], { ordered: false });
}
