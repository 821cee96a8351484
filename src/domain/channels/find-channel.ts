import type { Channel, ChannelCatalog } from '../../content/channels.js';
import { sameName } from '../width.js';

/**
 * The channel ops staff name in a chat: by its key, or its name (case-insensitively); else the one whose key or name
 * it is but for full-width forms (`expo２０２６`, `2026 工业展(expo)` for `2026 工业展（expo）`).
 */
export function findChannel(channels: ChannelCatalog, raw: string): Channel | undefined {
  const q = raw.trim();
  const lower = q.toLowerCase();
  const all = channels.all();
  return (
    channels.get(q) ??
    all.find((c) => c.key.toLowerCase() === lower || c.name.toLowerCase() === lower) ??
    all.find((c) => sameName(c.key, q, { caseless: true }) || sameName(c.name, q, { caseless: true }))
  );
}
