import 'dotenv/config';
import { parseArgs } from 'node:util';
import { sandboxPort } from '../dev/dev-settings.js';

/**
 * `npm run simulate:scan -- <channel> [--name 王经理] [--user zhangsan] [--half]`: asks the running dev sandbox
 * WeCom to play a customer scanning that channel's QR code. The sandbox creates the customer and a WelcomeCode
 * and POSTs the encrypted add_external_contact callback to the bot, exactly as WeCom would; this command then
 * shows the welcome the bot sent.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string', default: '王经理' }, user: { type: 'string', default: 'zhangsan' }, half: { type: 'boolean', default: false } },
});
const state = positionals[0];
const base = `http://127.0.0.1:${sandboxPort()}`;

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
