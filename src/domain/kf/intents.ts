import { INTENT_CLASSES, type Intent, type Replies } from '../../content/replies.js';

/**
 * Normalises a message for matching: NFKC (full-width letters, digits and punctuation become half-width), lower case,
 * spaces collapsed. "ＴＤ", "td" and "TD" read the same.
 */
export function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** A Latin keyword (letters, digits, spaces, - and ') matches only as whole words: "t" is not in "price". */
const LATIN = /^[a-z0-9][a-z0-9 '-]*$/;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Spaces and punctuation around a whole message ("T。", " td! ") do not count. */
const EDGES = /^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu;

type Matcher = (normalized: string, bare: string) => boolean;
const compiled = new WeakMap<Intent, Matcher>();

function matcherOf(intent: Intent): Matcher {
  let m = compiled.get(intent);
  if (m) return m;
  const exact = new Set(intent.exact.map((e) => normalize(e).replace(EDGES, '')));
  const words: RegExp[] = [];
  const substrings: string[] = [];
  for (const k of intent.keywords.map(normalize)) {
    if (LATIN.test(k)) words.push(new RegExp(`(^|[^a-z0-9])${escape(k)}($|[^a-z0-9])`, 'u'));
    else substrings.push(k);
  }
  const patterns = intent.patterns.map((p) => new RegExp(p, 'iu'));
  m = (text, bare) => exact.has(bare) || substrings.some((s) => text.includes(s)) || words.some((r) => r.test(text)) || patterns.some((r) => r.test(text));
  compiled.set(intent, m);
  return m;
}

/**
 * The intent a customer's message means, or null (the fallback). A menu click names its intent (menu_id); otherwise
 * every intent that matches competes and the strongest class wins (unsubscribe, subscribe, human, qualify, faq,
 * smalltalk), then the file's order.
 */
export function matchIntent(replies: Pick<Replies, 'intents'>, text: string, menuId?: string | null): Intent | null {
  if (menuId) {
    const clicked = replies.intents.find((i) => i.key === menuId);
    if (clicked) return clicked;
  }
  const normalized = normalize(text);
  if (!normalized) return null;
  const bare = normalized.replace(EDGES, '');
  let best: Intent | null = null;
  for (const intent of replies.intents) {
    if (best && INTENT_CLASSES.indexOf(intent.class) >= INTENT_CLASSES.indexOf(best.class)) continue;
    if (matcherOf(intent)(normalized, bare)) best = intent;
  }
  return best;
}
