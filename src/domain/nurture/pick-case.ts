import { GENERAL_INDUSTRY, type CaseStudy } from '../../content/cases.js';

/**
 * The best case study for a lead that it has not been sent yet: one from the lead's industry first (preferring a
 * matching role when the lead's role is known), else a general one (industry 通用). Ties keep file order, so ops
 * staff control priority by naming. Returns null when nothing suitable is left.
 */
export function pickCase(cases: CaseStudy[], lead: { industry?: string | null; role?: string | null }, sent: ReadonlySet<string>): CaseStudy | null {
  const fresh = cases.filter((c) => !sent.has(c.slug));
  const score = (c: CaseStudy) =>
    (lead.industry && c.industries.includes(lead.industry) ? 4 : c.industries.includes(GENERAL_INDUSTRY) ? 1 : 0) +
    (lead.role && c.roles?.includes(lead.role as never) ? 2 : 0);
  let best: CaseStudy | null = null;
  let bestScore = 0;
  for (const c of fresh) {
    const s = score(c);
    // An industry-specific case for another industry (score 0, or role only) is never sent.
    if ((s & 5) === 0) continue;
    if (s > bestScore) [best, bestScore] = [c, s];
  }
  return best;
}
