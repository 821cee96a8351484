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
