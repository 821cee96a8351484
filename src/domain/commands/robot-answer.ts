import { setTimeout as sleep } from 'node:timers/promises';
import type { BotContext } from '../../context.js';
import { jobIds } from '../../queues/job-ids.js';
import type { AnyEvent, EventKey } from '../../wecom/events/index.js';
import { robotMessageText, type RobotMessage, type RobotStreamRefresh } from '../../wecom/events/robot.js';
import { respondOnce } from './answer-later.js';
import { translator } from './command.js';
import { lineLanguage } from './parse.js';
import { clipBytes, ROBOT_MARKDOWN_BYTES } from './markdown.js';
import { auditOrLater, execute, plan, textOnlyAnswer, type CommandRequest } from './run-command.js';

/** The passive reply to a person's message: a finished stream of markdown [D:101031]. */
export interface StreamReply {
  msgtype: 'stream';
  stream: { id: string; finish: boolean; content: string };
}

const PENDING = 'pending';
/** How long a repeated delivery waits for the first one's reply (WeCom gives up on a callback after about 5 s). */
const DUPLICATE_WAIT_MS = 4_000;

/** Our stream id for a message: its msgid, reversibly, so a refresh finds the message's reply. */
export function streamIdOf(msgid: string): string {
  return `ops-${Buffer.from(msgid, 'utf8').toString('base64url')}`;
}

/** The msgid behind one of our stream ids, or null for a stream that is not ours. */
export function msgidOfStream(streamId: string): string | null {
  return streamId.startsWith('ops-') ? Buffer.from(streamId.slice(4), 'base64url').toString('utf8') || null : null;
}

function streamReply(msgid: string, content: string): StreamReply {
  return { msgtype: 'stream', stream: { id: streamIdOf(msgid), finish: true, content: clipBytes(content, ROBOT_MARKDOWN_BYTES) } };
}

/**
 * The plaintext of the passive reply to one robot callback (the route encrypts and signs it), or null for an empty
 * body. A person's message is a command: answered in the reply when it is done within OPS_COMMAND_BUDGET_MS,
 * otherwise "working on it" now and the answer through response_url. A repeated msgid runs nothing again and gets
 * the same reply (kept in Redis per msgid). A stream refresh is answered from that reply, never taken for a message.
 */
export async function answerRobot(ctx: BotContext, key: EventKey, event: AnyEvent): Promise<unknown> {
  if (key === 'robot.stream') return refresh(ctx, event as RobotStreamRefresh);
  if (key === 'robot.event.enter_chat') {
    // The one callback a plain text reply is allowed for [D:101031].
    return { msgtype: 'text', text: { content: '你好，我是运营助手。在群里 @我 发送「帮助」查看可以运行的命令。 / Hi, I run ops commands: send "help".' } };
  }
  if (!key.startsWith('robot.') || key.startsWith('robot.event.')) return null;
  return answerMessage(ctx, event as RobotMessage);
}

async function refresh(ctx: BotContext, e: RobotStreamRefresh): Promise<unknown> {
  const msgid = msgidOfStream(e.stream.id);
  const stored = msgid ? await ctx.redis.get(ctx.keys.robotReply(msgid)) : null;
  // Our streams are always finished in the first reply, so WeCom has nothing to fetch; answer with what it showed.
  if (!stored || stored === PENDING) return null;
  return JSON.parse(stored) as StreamReply;
}

async function answerMessage(ctx: BotContext, m: RobotMessage): Promise<StreamReply> {
  const key = ctx.keys.robotReply(m.msgid);
  const ttl = ctx.config.DEDUPE_TTL_SECONDS;
  if ((await ctx.redis.set(key, PENDING, 'EX', ttl, 'NX')) !== 'OK') return sameReply(ctx, key, m);
  try {
    const reply = streamReply(m.msgid, await decide(ctx, m));
    await ctx.redis.set(key, JSON.stringify(reply), 'EX', ttl);
    return reply;
  } catch (err) {
    // Nothing was answered: let WeCom's retry try again.
    await ctx.redis.del(key);
    throw err;
  }
}

/**
 * The reply the first delivery of a msgid gave (waiting briefly while it is still being decided); past the wait, that
 * it is being worked on, in the language of the command, as its answer will be.
 */
async function sameReply(ctx: BotContext, key: string, m: RobotMessage): Promise<StreamReply> {
  const deadline = Date.now() + DUPLICATE_WAIT_MS;
  for (;;) {
    const stored = await ctx.redis.get(key);
    if (stored && stored !== PENDING) return JSON.parse(stored) as StreamReply;
    if (!stored || Date.now() > deadline) return streamReply(m.msgid, translator(lineLanguage(ctx.commands, robotMessageText(m) ?? '中'))('处理中…', 'Working on it…'));
    await sleep(50);
  }
}

/** What the message is answered with now; a command that takes longer answers again later. */
async function decide(ctx: BotContext, m: RobotMessage): Promise<string> {
  const startedAt = Date.now();
  const text = robotMessageText(m);
  if (text === null) return textOnlyAnswer(text);
  const req: CommandRequest = { msgid: m.msgid, userId: m.from.userid, chatId: m.chatid ?? null, chatType: m.chattype, text };
  const p = plan(ctx, req);
  ctx.log.info({ msgid: m.msgid, userId: req.userId, chatId: req.chatId, command: p.kind === 'answer' ? p.command : p.command.name, text }, 'chat command');
  if (p.kind === 'answer') {
    // A refusal, an unknown command, bad arguments: the answer goes back even when the database cannot take its entry
    // now (written later), so an outage does not leave the chat without a word.
    await auditOrLater(ctx, req, { lang: p.lang, command: p.command, outcome: p.outcome, detail: p.answer, startedAt });
    return p.answer;
  }
  const t = p.ctx.t;
  const working = t(`⏳ 正在处理「${text}」，完成后结果会发在这里。`, `⏳ Working on "${text}"; the answer will follow here.`);
  const responseUrl = m.response_url;
  if (p.slow && responseUrl) {
    await ctx.queues.add('ops-command', { ...req, responseUrl, receivedAt: startedAt }, { jobId: jobIds.opsCommand(m.msgid) });
    return working;
  }
  const running = execute(p);
  // Without a response_url there is no later: the command answers in the reply however long it takes.
  const budget = responseUrl ? ctx.config.OPS_COMMAND_BUDGET_MS : Infinity;
  const timer = new AbortController();
  const inTime = await Promise.race([running, budget === Infinity ? new Promise<never>(() => undefined) : sleep(budget, null, { signal: timer.signal }).catch(() => null)]);
  timer.abort();
  if (inTime) {
    // The command ran: its answer goes back whatever happens to the record (a failure here would have WeCom's retry run
    // it a second time). An entry the database did not take is written later by a job of its own.
    await auditOrLater(ctx, req, { lang: p.lang, command: p.command.name, outcome: inTime.outcome, detail: inTime.detail ?? clipBytes(inTime.answer, 300), startedAt });
    return inTime.answer;
  }
  // Over the budget: the command goes on in this process and its answer follows through response_url.
  void running
    .then(async (r) => {
      const sent = await respondOnce(ctx, m.msgid, responseUrl!, r.answer);
      await auditOrLater(ctx, req, { lang: p.lang, command: p.command.name, outcome: r.outcome, detail: [r.detail, sent === 'sent' ? null : `response_url: ${sent}`].filter(Boolean).join('; ') || clipBytes(r.answer, 300), later: true, startedAt });
    })
    .catch((err: Error) => ctx.log.error({ msgid: m.msgid, err: err.message }, 'late answer failed'));
  return working;
}
