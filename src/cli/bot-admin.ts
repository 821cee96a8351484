import { ChannelCatalog, type Channel } from '../content/channels.js';
import { DEV_ADMIN_TOKEN_FILE, devBotAdmin } from '../dev/dev-settings.js';

// The running bot's admin API as the simulate commands ask it: what the bot knows (its channels, a lead's timeline),
// which the sandbox WeCom cannot say.

/** A GET of the running bot's admin API: its status and JSON, or why it could not be asked. */
export async function askBot<T>(route: string): Promise<{ status: number; body: T } | { error: string }> {
  const bot = await devBotAdmin();
  if (!bot.token) return { error: `no admin token: set ADMIN_TOKEN, or start the bot with \`npm run dev\`, which keeps one in ${DEV_ADMIN_TOKEN_FILE}` };
  let res: Response;
  try {
    res = await fetch(`${bot.url}/admin/api${route}`, { headers: { authorization: `Bearer ${bot.token}` }, signal: AbortSignal.timeout(5_000) });
  } catch {
    return { error: `no bot at ${bot.url} (PORT)` };
  }
  if (res.status === 401) return { error: `the bot at ${bot.url} refused the admin token` };
  const body = (await res.json().catch(() => null)) as T | null;
  return body === null ? { error: `the bot at ${bot.url} has no admin API (HTTP ${res.status}; it needs ADMIN_TOKEN)` } : { status: res.status, body };
}

/** A channel as GET /admin/api/channels gives it (the fields the catalog needs). */
interface BotChannel {
  key: string;
  name: string;
  source: 'templates' | 'command';
  tags: Channel['tags'];
  owners: string[];
  kf?: { scene: string } | null;
}

/**
 * The channels as the bot knows them: channels.yaml and those created in chat (渠道 new), which live in its database,
 * as a catalog that resolves a QR code's state or a 客服 link's scene as the bot does. Null, with the reason, when the
 * bot could not be asked.
 */
export async function botChannelCatalog(): Promise<{ catalog: ChannelCatalog } | { error: string }> {
  const asked = await askBot<BotChannel[]>('/channels');
  if ('error' in asked) return asked;
  if (asked.status !== 200 || !Array.isArray(asked.body)) return { error: `HTTP ${asked.status}` };
  const asChannel = (c: BotChannel): Channel => ({ key: c.key, name: c.name, tags: c.tags, owners: c.owners, ...(c.kf ? { kf: { scene: c.kf.scene } } : {}) });
  const catalog = new ChannelCatalog(asked.body.filter((c) => c.source !== 'command').map(asChannel));
  catalog.addStored(asked.body.filter((c) => c.source === 'command').map(asChannel));
  return { catalog };
}
