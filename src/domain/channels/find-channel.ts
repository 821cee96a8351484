import type { Channel, ChannelCatalog } from '../../content/channels.js';

/** The channel ops staff name in a chat: by its key, or its name (case-insensitively). */
export function findChannel(channels: ChannelCatalog, raw: string): Channel | undefined {
  const q = raw.trim().toLowerCase();
  return channels.get(raw.trim()) ?? channels.all().find((c) => c.key.toLowerCase() === q || c.name.toLowerCase() === q);
}
