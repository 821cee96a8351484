import './dev-env.js';
import path from 'node:path';
import { loadChannels, ORGANIC_KEY, type ChannelCatalog } from '../content/channels.js';
import { DEV_ADMIN_TOKEN_FILE, sandboxPort } from '../dev/dev-settings.js';
import { askBot, botChannelCatalog } from './bot-admin.js';
import { EX_USAGE, readCommandLine } from './command-line.js';

const COMMAND = 'npm run simulate:scan';

/**
 * `npm run simulate:scan -- <channel> [--name 王经理] [--user zhangsan] [--half]`: asks the running dev sandbox
 * WeCom to play a customer scanning that channel's QR code. The sandbox creates the customer and a WelcomeCode
 * and POSTs the encrypted add_external_contact callback to the bot, exactly as WeCom would; this command then
 * shows the welcome the bot sent, or why it sends none. The bot's admin API says which channels it knows (those of
 * templates/channels.yaml and those created in chat) and what it recorded on the lead's timeline.
 */
const { values, positionals } = readCommandLine(
  COMMAND,
  `
Usage: ${COMMAND} -- <channel> [--name 王经理] [--user zhangsan] [--half]

Plays a customer scanning a channel's 联系我 QR code in the sandbox WeCom of a running \`npm run dev\`: the sandbox
sends the bot the encrypted add_external_contact callback (with a WelcomeCode), then this shows the welcome sent,
or why the bot sends none (as soon as the bot records it on the lead's timeline).

  <channel>     the channel key (the code's state): from templates/channels.yaml or created in chat
                (渠道 new); none = organic. A key the bot does not know is warned about: it lands on organic
  --name NAME   the customer's name (default 王经理)
  --user ID     the staff member whose code it is; must be a member of the sandbox corp (default zhangsan)
  --half        the customer skips verification (add_half_external_contact)
  -h, --help    this text

Environment: SANDBOX_PORT (default 3100); PORT (default 3000) and ADMIN_TOKEN (default: the token \`npm run dev\`
keeps in ${DEV_ADMIN_TOKEN_FILE}) reach the bot's admin API for its channels and the lead's timeline; without it,
only TEMPLATES_DIR/channels.yaml is checked (default ./templates). While \`npm run dev\` runs, its settings in
.data/dev.env (all of these) are read first, unless DOTENV_CONFIG_PATH names another file.
`,
  { name: { type: 'string', default: '王经理' }, user: { type: 'string', default: 'zhangsan' }, half: { type: 'boolean', default: false } },
  true,
);
if (positionals.length > 1) {
  console.error(`${COMMAND}: one channel at a time (got ${positionals.join(', ')}) (see ${COMMAND} -- --help)`);
  process.exit(EX_USAGE);
}
const state = positionals[0];
const base = `http://127.0.0.1:${sandboxPort()}`;
const templatesDir = process.env.TEMPLATES_DIR || './templates';
const templatesFile = path.join(templatesDir, 'channels.yaml');
// The channels as the bot knows them; null when the bot could not be asked (then only channels.yaml is checked). A key
// the bot does not know lands on `organic`, as WeCom's State would (the catalog resolves it as the bot does).
const asked = await botChannelCatalog();
const botChannels: ChannelCatalog | null = 'catalog' in asked ? asked.catalog : null;
let channels: ChannelCatalog | null = botChannels;
if (!channels) {
  try {
    channels = await loadChannels(templatesDir);
  } catch (err) {
    console.warn(`warning: cannot read ${templatesFile} (${(err as Error).message.split('\n')[0]}); the channel is not checked`);
  }
}
const channel = channels?.resolve(state);
if (channels && state !== undefined && channel?.key !== state) {
  const known = (fromTemplates: boolean) => channels.all().filter((c) => c.key !== ORGANIC_KEY && channels.isTemplate(c.key) === fromTemplates).map((c) => c.key).join(', ') || 'none';
  if (botChannels) {
    console.warn(`warning: the bot has no channel "${state}" (channels.yaml: ${known(true)}; created in chat: ${known(false)}); the bot will attribute this customer to "${ORGANIC_KEY}"`);
  } else {
    console.warn(`warning: cannot ask the bot for the channels created in chat (${'error' in asked ? asked.error : 'no answer'}); only ${templatesFile} is checked`);
    console.warn(`warning: no channel "${state}" in ${templatesFile} (channels: ${known(true)}); unless it was created in chat, the bot will attribute this customer to "${ORGANIC_KEY}"`);
  }
}

let res: Response;
try {
  res = await fetch(`${base}/sandbox/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ state, userId: values.user, name: values.name, skipVerify: values.half }),
  });
} catch {
  console.error(`No sandbox WeCom at ${base}: start the bot with \`npm run dev\` first.`);
  process.exit(1);
}
const scan = (await res.json()) as { externalUserId?: string; status?: number; error?: string };
if (!res.ok || !scan.externalUserId) {
  console.error(`scan failed: ${scan.error ?? res.status}`);
  process.exit(1);
}
console.log(`customer ${values.name} (${scan.externalUserId}) scanned ${state ?? '(no state: organic)'} → the bot answered the callback with HTTP ${scan.status}`);
// Without the bot to ask, channels.yaml says whether a welcome is coming.
if (!botChannels && channel && !channel.welcome) {
  console.log(`channel ${channel.key} has no welcome message: the bot sends none`);
  process.exit(0);
}

/** The steps of a lead's timeline that say no welcome went (src/domain/leads/arrival.ts, src/domain/welcome/send-welcome.ts). */
const NO_WELCOME = new Set(['welcome_skipped', 'welcome_failed', 'welcome_expired', 'welcome_unknown']);
type Step = { type: string; detail?: Record<string, unknown> };

/** Why the bot sends no welcome, in the words of its timeline step. */
function whyNoWelcome(step: Step): string {
  const d = step.detail ?? {};
  if (step.type === 'welcome_skipped' && d.reason === 'channel_has_no_welcome') return `channel ${String(d.channel ?? channel?.key)} has no welcome message: the bot sends none`;
  // No WelcomeCode: a welcome set in the WeCom admin console, if any, is WeCom's to send [D:92130].
  if (d.reason === 'no_welcome_code') return 'no welcome: the add event came without a WelcomeCode (a welcome set in the WeCom admin console is WeCom\'s to send), so the bot sends none';
  // 41051: the customer already chatted, or the code was used [D:92137].
  if (d.reason === 'chat_already_started') return `no welcome: WeCom refused the WelcomeCode (errcode ${String(d.errcode)}: the customer already chatted with ${values.user}, or the code was used), so the bot sends none`;
  const why = [d.reason, d.errcode === undefined ? undefined : `errcode ${String(d.errcode)}`].filter((x) => x !== undefined && x !== null).map(String).join(', ');
  return `no welcome: the bot recorded ${step.type}${why ? ` (${why})` : ''}`;
}

const lead = `/leads/${encodeURIComponent(scan.externalUserId)}`;
const deadline = Date.now() + 20_000;
while (Date.now() < deadline) {
  const welcomes = (await (await fetch(`${base}/sandbox/welcomes`)).json()) as Array<{ externalUserId: string; text?: string; attachments?: unknown[] }>;
  const w = welcomes.find((x) => x.externalUserId === scan.externalUserId);
  if (w) {
    console.log(`welcome sent: ${w.text ?? ''}${w.attachments?.length ? ` (+${w.attachments.length} attachment)` : ''}`);
    process.exit(0);
  }
  // The bot records on the lead's timeline when it sends no welcome: no need to wait out the 20 s then.
  if (botChannels) {
    const detail = await askBot<{ timeline?: Step[] }>(lead);
    const step = 'body' in detail && detail.status === 200 ? detail.body.timeline?.find((s) => NO_WELCOME.has(s.type)) : undefined;
    if (step) {
      console.log(whyNoWelcome(step));
      process.exit(0);
    }
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.log(
  botChannels
    ? 'no welcome within 20 s, and nothing about it on the lead\'s timeline yet (see the bot log)'
    : 'no welcome within 20 s (does the channel have one? see the bot log and the lead timeline)',
);
