import './dev-env.js';
import { sandboxPort } from '../dev/dev-settings.js';
import { EX_USAGE, readCommandLine } from './command-line.js';

const COMMAND = 'npm run simulate:ops';

/**
 * `npm run simulate:ops -- "统计 7d" [--user zhangsan] [--single]`: asks the running dev sandbox WeCom to play a
 * member of the ops group @mentioning the robot. The sandbox POSTs the signed, encrypted robot callback to the bot
 * exactly as WeCom would and reads the bot's encrypted reply; this prints the answer, and for a slow command also the
 * answer the bot sends later through the message's response_url.
 */
const { values, positionals } = readCommandLine(
  COMMAND,
  `
Usage: ${COMMAND} -- "<command>" [--user zhangsan] [--single]

Plays a member of the ops group @mentioning the robot (智能机器人) in the sandbox WeCom of a running \`npm run dev\`:
the sandbox sends the bot the signed, encrypted robot callback, and this prints the bot's answer (for a slow
command, also the answer it sends later through the message's response_url).

  <command>     what to write after the @mention, e.g. "统计 7d", "线索 王经理", "help"
  --user ID     who writes it (default zhangsan, an ops admin in dev; lisi is an ops member, wangwu neither)
  --single      in a single chat with the robot instead of the ops group
  -h, --help    this text

Environment: SANDBOX_PORT (default 3100). While \`npm run dev\` runs, its settings in .data/dev.env are read first
(unless DOTENV_CONFIG_PATH names another file), so this reaches it whatever ports it uses.
`,
  { user: { type: 'string', default: 'zhangsan' }, single: { type: 'boolean', default: false } },
  true,
);
const text = positionals.join(' ').trim();
if (!text) {
  console.error(`${COMMAND}: say what to send, e.g. ${COMMAND} -- "统计 7d" (see ${COMMAND} -- --help)`);
  process.exit(EX_USAGE);
}
const base = `http://127.0.0.1:${sandboxPort()}`;

let res: Response;
try {
  res = await fetch(`${base}/sandbox/robot/message`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text, userid: values.user, ...(values.single ? { chatid: null } : {}) }),
  });
} catch {
  console.error(`No sandbox WeCom at ${base}: start the bot with \`npm run dev\` first.`);
  process.exit(1);
}
const ex = (await res.json()) as { msgid?: string; status?: number; reply?: { stream?: { content?: string }; text?: { content?: string } } | null; error?: string };
if (!res.ok || !ex.msgid) {
  console.error(`message failed: ${ex.error ?? res.status}`);
  process.exit(1);
}
if (ex.status !== 200) {
  console.error(`the bot answered the robot callback with HTTP ${ex.status}`);
  process.exit(1);
}
const now = ex.reply?.stream?.content ?? ex.reply?.text?.content;
console.log(now ?? '(the bot answered with an empty body)');
// The bot says it is working on it when the answer follows through the response_url.
if (!now?.startsWith('⏳')) process.exit(0);

const deadline = Date.now() + 60_000;
while (Date.now() < deadline) {
  const responses = (await (await fetch(`${base}/sandbox/robot/responses`)).json()) as Array<{ msgid: string; content?: string }>;
  const r = responses.find((x) => x.msgid === ex.msgid);
  if (r) {
    console.log(`\n${r.content ?? '(a card)'}`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.error('no answer through response_url within 60 s (see the bot log)');
process.exit(1);
