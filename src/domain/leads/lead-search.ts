// How the lead index (lead-index.ts) searches leads by text: one member per lead in a sorted set, scanned for `q`.

/**
 * Between the fields of a search member, so that a search never matches across two of them (MongoDB matches each
 * field on its own): a character nobody types.
 */
const FIELD = '\u0002';

/**
 * A lead's member of the search set: its external user id, then its name, company and owners' remarks, lower-cased, each
 * a field, then \u0001 and the lead id. The external id is there for the scan to find; only the whole id names a lead
 * (searchMatches), as in MongoDB: a part of a random id is no match.
 */
export function searchMember(row: { id: string; externalUserId: string; name: string | null; corpName: string | null; owners: ReadonlyArray<{ remark: string | null }> }): string {
  return `${[row.externalUserId, row.name, row.corpName, ...row.owners.map((o) => o.remark)].filter(Boolean).join(FIELD).toLowerCase()}\u0001${row.id}`;
}

/** Whether a search member (searchMember) is a lead `q` finds: its name, company or a remark contains q, or q is its external id. */
export function searchMatches(member: string, q: string): boolean {
  const cut = member.lastIndexOf('\u0001');
  const id = member.slice(cut + 1);
  if (id.slice(id.indexOf(':') + 1) === q) return true;
  const lower = q.toLowerCase();
  return member.slice(0, cut).split(FIELD).slice(1).some((f) => f.includes(lower));
}
