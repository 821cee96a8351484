/**
 * Work on many documents by `_id`, a bounded number at a time. A filter `_id: {$in: [...]}` is one round trip on
 * MongoDB but a read of the whole collection on FerretDB 1.x (which filters in its own process), while a read or
 * write by one `_id` is an index probe on both; so code that touches a batch of known ids touches them one by one,
 * at most `limit` in flight (docs/architecture.md, "Stores").
 */
export async function eachById<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = 32): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
