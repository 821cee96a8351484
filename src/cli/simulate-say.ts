import './dev-env.js';
import { ORGANIC_KEY } from '../content/channels.js';
import { sandboxPort } from '../dev/dev-settings.js';
import { UPGRADE_NEWS_DELAY_MS } from '../domain/alerts/lead-alerts.js';
import { stageName } from '../domain/commands/words.js';
import { askBot, botChannelCatalog } from './bot-admin.js';
import { EX_USAGE, readCommandLine } from './command-line.js';

const COMMAND = 'npm run simulate:say';

/**
 * `npm run simulate:say -- <customer> "<text>"`: asks the running dev sandbox WeCom to play a customer writing to its
 * 微信客服 account. The sandbox adds the message to the account's log and POSTs the encrypted kf_msg_or_event callback
 * to the bot, as WeCom would; this command then shows the conversation and what the bot did (its replies, hand-offs,
 * messages to staff and to the ops group, and the lead's stage moves, asked of the bot's admin API).
 */
const { values, positionals } = readCommandLine(
  COMMAND,
  `
Usage: ${COMMAND} -- <customer> "<text>" [--scene <channel>] [--kf <open_kfid>] [--wait <seconds>]

Plays a customer writing to the 微信客服 account of the sandbox WeCom of a running \`npm run dev\`: the sandbox
sends the bot the encrypted kf_msg_or_event callback, the bot pulls the message with kf/sync_msg and answers; this
shows the conversation and what the bot did (its replies, hand-offs, messages to staff, and the stage moves the
message caused, e.g. an opt-out).

  <customer>      a name (a new customer the first time; they enter through the account's link first) or an
                  external_userid (wm…, e.g. a contact made with simulate:scan)
  <text>          what the customer writes, e.g. "报价多少", "转人工", "TD"
  --scene KEY     the link a new customer enters by (a channel's kf scene, e.g. expo2026); none = organic
  --kf ID         the 微信客服 account (default: the sandbox's first)
  --wait SECONDS  how long to watch for what the bot does (default 5)
  -h, --help      this text

Environment: SANDBOX_PORT (default 3100); PORT (default 3000) and ADMIN_TOKEN (default: the token \`npm run dev\`
keeps in .data/admin-token) reach the bot's admin API for the lead's stage moves. While \`npm run dev\` runs, its
settings in .data/dev.env are read first (unless DOTENV_CONFIG_PATH names another file), so this reaches it whatever
ports it uses.
`,
  { scene: { type: 'string' }, kf: { type: 'string' }, wait: { type: 'string', default: '5' } },
  true,
);
if (positionals.length !== 2) {
  console.error(`${COMMAND}: give a customer and a text (got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}) (see ${COMMAND} -- --help)`);
  process.exit(EX_USAGE);
}
const waitS = Number(values.wait);
if (!Number.isFinite(waitS) || waitS <= 0 || waitS > 120) {
  console.error(`${COMMAND}: --wait must be a number of seconds from 1 to 120 (see ${COMMAND} -- --help)`);
  process.exit(EX_USAGE);
}
const [customer, text] = positionals as [string, string];
const base = `http://127.0.0.1:${sandboxPort()}`;

// A scene no channel's 客服 link has lands a new customer on organic, as the bot resolves it (channels.yaml, kf.scene).
if (values.scene !== undefined) {
  const asked = await botChannelCatalog();
  if ('error' in asked) console.warn(`warning: cannot ask the bot for its channels (${asked.error}); the scene "${values.scene}" is not checked`);
  else if (asked.catalog.resolveKf(values.scene).key === ORGANIC_KEY && values.scene !== ORGANIC_KEY) {
    const scenes = asked.catalog.all().filter((c) => c.kf).map((c) => `${c.kf!.scene ?? c.key} (${c.key})`).join(', ') || 'none';
    console.warn(`warning: no channel of the bot has the 客服 scene "${values.scene}" (scenes: ${scenes}); a new customer entering by it is attributed to "${ORGANIC_KEY}"`);
  }
}

interface Said {
  openKfid: string;
  externalUserId: string;
  startedAt: number;
  status: number;
  error?: string;
}
let said: Said;
try {
  const res = await fetch(`${base}/sandbox/kf/say`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customer, text, openKfid: values.kf, scene: values.scene }),
  });
  said = (await res.json()) as Said;
  if (!res.ok) {
    console.error(`say failed: ${said.error ?? res.status}`);
    process.exit(1);
  }
} catch {
  console.error(`No sandbox WeCom at ${base}: start the bot with \`npm run dev\` first.`);
  process.exit(1);
}
console.log(`${customer} (${said.externalUserId}) → 客服 ${said.openKfid}: ${text}   (the bot answered the callback with HTTP ${said.status})`);

type Call = { api: string; at: number; body: Record<string, unknown> | undefined; errcode: number };
const ACTIONS = new Set(['kf/send_msg', 'kf/send_msg_on_event', 'kf/service_state/trans', 'message/send', 'webhook/send']);
const relevant = (c: Call) => {
  if (c.at < said.startedAt || !ACTIONS.has(c.api)) return false;
  const b = c.body ?? {};
  return c.api.startsWith('kf/') ? b.touser === said.externalUserId || b.external_userid === said.externalUserId || c.api === 'kf/send_msg_on_event' : true;
};
// Watch until the bot has been quiet for a while after doing something, or the time is up: longer than the delay of
// the news of a grade's rise (lead-alerts.ts), which comes after the message's own effects.
const QUIET_MS = UPGRADE_NEWS_DELAY_MS + 1500;
const deadline = Date.now() + waitS * 1000;
let seen = 0;
let quietSince = Date.now();
let calls: Call[] = [];
while (Date.now() < deadline) {
  calls = ((await (await fetch(`${base}/sandbox/calls`)).json()) as Call[]).filter(relevant);
  if (calls.length !== seen) {
    seen = calls.length;
    quietSince = Date.now();
  } else if (seen > 0 && Date.now() - quietSince > QUIET_MS) break;
  await new Promise((r) => setTimeout(r, 200));
}

const convo = (await (await fetch(`${base}/sandbox/kf/conversation?openKfid=${encodeURIComponent(said.openKfid)}&externalUserId=${encodeURIComponent(said.externalUserId)}`)).json()) as {
  messages: Array<{ at: number; from: string; who?: string; text: string }>;
  session: { state: number; servicer: string | null } | null;
};
// In the service hours' zone, as the bot reads them (SERVICE_TIMEZONE, in .data/dev.env's environment or the default).
const clock = new Intl.DateTimeFormat('en-GB', { timeZone: process.env.SERVICE_TIMEZONE || 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const time = (ms: number) => clock.format(ms);
console.log('\nconversation:');
for (const m of convo.messages.filter((x) => x.from !== 'event').slice(-12)) {
  const who = m.from === 'customer' ? customer : m.from === 'bot' ? 'bot' : `${m.who ?? 'servicer'} (person)`;
  console.log(`  ${time(m.at)}  ${who.padEnd(12)} ${m.text.replace(/\n/g, '\n                            ')}`);
}
const STATES = ['new', 'the bot', 'queued for a person', 'a person', 'ended'];
if (convo.session) console.log(`  session: ${STATES[convo.session.state] ?? convo.session.state}${convo.session.servicer ? ` (${convo.session.servicer})` : ''}`);
console.log('\nwhat the bot did:');
if (!calls.length) console.log('  nothing within the wait (see the bot log; a person may be serving this customer)');
// A message to staff in full, its lines under the first.
const whole = (text: unknown) => String(text ?? '').replace(/\n/g, '\n    ');
for (const c of calls) {
  const b = c.body ?? {};
  const failed = c.errcode !== 0 ? `  → errcode ${c.errcode}` : '';
  if (c.api === 'kf/service_state/trans') {
    const to = b.service_state === 3 ? `to a person${b.servicer_userid ? ` (${String(b.servicer_userid)})` : ''}` : b.service_state === 2 ? 'to the queue of servicers' : `to state ${String(b.service_state)}`;
    console.log(`  handed the session ${to}${failed}`);
  } else if (c.api === 'message/send') console.log(`  told ${String(b.touser)} (app message): ${whole((b.text as { content?: string } | undefined)?.content)}${failed}`);
  else if (c.api === 'webhook/send') console.log(`  told the ops group: ${whole((b.markdown as { content?: string } | undefined)?.content)}${failed}`);
  else console.log(`  ${c.api === 'kf/send_msg_on_event' ? 'welcome' : 'replied'} (${String(b.msgtype)})${failed}`);
}

// What the message did to the lead's stage (an opt-out, a move up the funnel): the stage moves on its timeline, asked
// of the bot's admin API as simulate:scan does. A move is stamped with the message's time, to the second.
type Step = { at: string; type: string; detail: { from?: string; to?: string; source?: string } };
const moves = await stageMoves();
if ('error' in moves) console.log(`  (its stage moves are not shown: ${moves.error})`);
else {
  for (const m of moves.steps) {
    const move = `stage ${m.detail.from} → ${m.detail.to} (${stageName(String(m.detail.to), 'zh')})`;
    if (m.detail.to === 'unsubscribed') console.log(`  the customer opted out: ${move}`);
    else if (m.detail.source === 'resubscribe') console.log(`  the customer opted back in: ${move}`);
    else console.log(`  moved the lead: ${move}`);
  }
}

async function stageMoves(): Promise<{ steps: Step[] } | { error: string }> {
  const asked = await askBot<{ timeline?: Step[] }>(`/leads/${encodeURIComponent(said.externalUserId)}`);
  if ('error' in asked) return asked;
  if (asked.status === 404) return { steps: [] };
  if (asked.status !== 200) return { error: `the bot answered HTTP ${asked.status}` };
  return { steps: (asked.body.timeline ?? []).filter((s) => s.type === 'stage_changed' && Date.parse(s.at) >= said.startedAt - 1000).sort((a, b) => Date.parse(a.at) - Date.parse(b.at)) };
}
