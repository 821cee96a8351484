import type { HydratedDocument, Model } from 'mongoose';

/** True for MongoDB's E11000 duplicate key error (also what FerretDB answers). */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Inserts `doc` unless a document with the same unique key exists: the created document, or null when one did.
 * A unique insert is atomic on MongoDB and FerretDB alike, which is what every "once" in the bot stands on.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function createOnce<T>(model: Model<T, any, any, any, any, any>, doc: Record<string, unknown>): Promise<HydratedDocument<T> | null> {
  try {
    return (await model.create(doc)) as HydratedDocument<T>;
  } catch (err) {
    if (isDuplicateKey(err)) return null;
    throw err;
  }
}

/**
 * The per-document errors of a failed write of `count` documents, by position in what was sent. [] when the command
 * failed as a whole: the driver reports a lost connection or a client closed under way as a bulk write error listing
 * none. A lone document's duplicate key that came as a plain error (some servers and drivers) is listed as its own.
 */
export function writeErrorsOf(err: unknown, count: number): Array<{ index: number; code: number | undefined }> {
  const listed = (err as { writeErrors?: Array<{ index: number; code?: number; err?: { code?: number } }> }).writeErrors ?? [];
  if (!listed.length && count === 1 && isDuplicateKey(err)) return [{ index: 0, code: 11000 }];
  return listed.map((w) => ({ index: w.index, code: w.code ?? w.err?.code }));
}

/**
 * Inserts many documents with deterministic ids in one unordered insert: each is created unless one with its id
 * exists. Returns the indices of `docs` that existed already. Any error but a duplicate key is thrown.
 */
export async function insertManyOnce(collection: { insertMany(docs: never[], opts: { ordered: boolean }): Promise<unknown> }, docs: readonly object[]): Promise<Set<number>> {
  const existed = new Set<number>();
  if (!docs.length) return existed;
  try {
    await collection.insertMany(docs as never[], { ordered: false });
  } catch (err) {
    const writeErrors = writeErrorsOf(err, docs.length);
    // None listed: the command failed as a whole, so nothing is known to be inserted.
    if (!writeErrors.length || writeErrors.some((w) => w.code !== 11000)) throw err;
    for (const w of writeErrors) existed.add(w.index);
  }
  return existed;
}
