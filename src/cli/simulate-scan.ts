import 'dotenv/config';
import path from 'node:path';
import { loadChannels, ORGANIC_KEY, type ChannelCatalog } from '../content/channels.js';
import { sandboxPort } from '../dev/dev-settings.js';
import { EX_USAGE, readCommandLine } from './command-line.js';

const COMMAND = 'npm run simulate:scan';

/**
 * `npm run simulate:scan -- <channel> [--name 王经理] [--user zhangsan] [--half]`: asks the running dev sandbox
 * WeCom to play a customer scanning that channel's QR code. The sandbox creates the customer and a WelcomeCode
 * and POSTs the encrypted add_external_contact callback to the bot, exactly as WeCom would; this command then
 * shows the welcome the bot sent.
 */
const { values, positionals } = readCommandLine(
  COMMAND,
  `
Usage: ${COMMAND} -- <channel> [--name 王经理] [--user zhangsan] [--half]

Plays a customer scanning a channel's 联系我 QR code in the sandbox WeCom of a running \`npm run dev\`: the sandbox
sends the bot the encrypted add_external_contact callback (with a WelcomeCode), then this shows the welcome sent.

  <channel>     the channel key from templates/channels.yaml (the code's state); none = organic
  --name NAME   the customer's name (default 王经理)
  --user ID     the staff member whose code it is; must be a member of the sandbox corp (default zhangsan)
  --half        the customer skips verification (add_half_external_contact)
  -h, --help    this text

Environment: SANDBOX_PORT (default 3100), TEMPLATES_DIR (default ./templates); both are in .data/dev.env while
\`npm run dev\` runs:  DOTENV_CONFIG_PATH=.data/dev.env ${COMMAND} -- expo2026
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

// The channel as the bot will see it: a key the templates do not define lands on `organic`, as WeCom's State would.
const templatesDir = process.env.TEMPLATES_DIR || './templates';
let channels: ChannelCatalog | null = null;
try {
  channels = await loadChannels(templatesDir);
} catch (err) {
  console.warn(`warning: cannot read ${path.join(templatesDir, 'channels.yaml')} (${(err as Error).message.split('\n')[0]}); the channel is not checked`);
}
const channel = channels?.resolve(state);
if (channels && state !== undefined && channel?.key !== state) {
  const known = channels.all().map((c) => c.key).filter((k) => k !== ORGANIC_KEY);
  console.warn(`warning: no channel "${state}" in ${path.join(templatesDir, 'channels.yaml')} (channels: ${known.join(', ') || 'none'}); the bot will attribute this customer to "${ORGANIC_KEY}"`);
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
if (channel && !channel.welcome) {
  console.log(`channel ${channel.key} has no welcome message: the bot sends none`);
  process.exit(0);
}

const deadline = Date.now() + 20_000;
while (Date.now() < deadline) {
  const welcomes = (await (await fetch(`${base}/sandbox/welcomes`)).json()) as Array<{ externalUserId: string; text?: string; attachments?: unknown[] }>;
  const w = welcomes.find((x) => x.externalUserId === scan.externalUserId);
  if (w) {
    console.log(`welcome sent: ${w.text ?? ''}${w.attachments?.length ? ` (+${w.attachments.length} attachment)` : ''}`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.log('no welcome within 20 s (does the channel have one? see the bot log and the lead timeline)');
