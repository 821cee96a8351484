import type { BotContext } from '../../context.js';
import { WecomApiError } from '../../errors.js';
import { attemptFenceId, takeFence, type FenceSpec } from '../../store/delivery-ledger.js';
import { clipBytes, ROBOT_MARKDOWN_BYTES } from './markdown.js';
import { audit, auditOrLater, execute, plan, type CommandRequest, type Result } from './run-command.js';

/** How long a robot message's response_url works: one call within an hour [D:101138]. */
export const RESPONSE_URL_TTL_MS = 3_600_000;

/** A command answered later: the request, and the response_url of its message. */
export interface LaterCommand extends CommandRequest {
  responseUrl: string;
  /** When the robot message arrived (ms). */
  receivedAt: number;
}

/**
 * Runs a slow command (the `ops-command` job) and sends its answer through the message's response_url. The request
 * is planned again exactly as the receiver planned it (the same text, the same rules), so the job carries no
 * decisions of its own; the command runs at most once (a fence per message), the answer goes out at most once and the
 * command is audited once.
 */
export async function runLater(ctx: BotContext, c: LaterCommand): Promise<string> {
  const p = plan(ctx, c);
  if (Date.now() - c.receivedAt > RESPONSE_URL_TTL_MS) {
    // Its answer can no longer reach the chat [D:101138]: a command nobody would hear of (a launch, a new channel) is
    // not run; staff ask again.
    ctx.log.warn({ msgid: c.msgid, text: c.text }, 'slow command not run: its response_url expired while it waited');
    await audit(c, { lang: p.lang, command: p.kind === 'run' ? p.command.name : p.command, outcome: 'expired', detail: 'not run: waited past the response_url\'s hour', later: true, startedAt: c.receivedAt });
    return 'expired';
  }
  if (p.kind === 'run' && !(await takeFence(commandFence(c.msgid)))) {
    // An earlier run of this job started the command and its worker died (BullMQ runs a stalled job again): it may
    // have done it (a launch, a new channel), so it is not done twice. The chat hears so if it heard nothing yet.
    const answer = p.ctx.t(`处理「${c.text}」时服务中断了：它可能已经执行过，为免重复没有再执行。请先查看结果，需要的话再发一次。`, `"${c.text}" was interrupted while it ran: it may have been done, so it was not run again. Check the result, and send it again if needed.`);
    const sent = await respondOnce(ctx, c.msgid, c.responseUrl, answer);
    ctx.log.warn({ msgid: c.msgid, text: c.text, sent }, 'slow command not run again: an earlier run of its job was interrupted');
    await auditOrLater(ctx, c, { lang: p.lang, command: p.command.name, outcome: 'failed', detail: `not run again: an earlier run of its job was interrupted; response_url: ${sent}`, later: true, startedAt: c.receivedAt });
    return `failed:${sent}`;
  }
  const result: Result = p.kind === 'answer' ? { answer: p.answer, outcome: p.outcome } : await execute(p);
  const sent = await respondOnce(ctx, c.msgid, c.responseUrl, result.answer);
  // The command ran and its answer went: an entry the database does not take now is written later.
  await auditOrLater(ctx, c, {
    lang: p.lang,
    command: p.kind === 'run' ? p.command.name : p.command,
    outcome: result.outcome,
    detail: [result.detail, sent === 'sent' ? null : `response_url: ${sent}`].filter(Boolean).join('; ') || clipBytes(result.answer, 300),
    later: true,
    startedAt: c.receivedAt,
  });
  return `${result.outcome}:${sent}`;
}

/** Taken before a slow command runs: a job that runs again for the same message does not run its command again. */
export function commandFence(msgid: string): FenceSpec {
  return { id: attemptFenceId(`robot-command|${msgid}`, 1), kind: 'attempt', for: `robot-command|${msgid}` };
}

/** Whether a response_url is WeCom's (it comes from a verified callback; this keeps a typo'd base from posting anywhere). */
function isWecomUrl(ctx: Pick<BotContext, 'config'>, raw: string): boolean {
  try {
    const url = new URL(raw);
    const base = new URL(ctx.config.WECOM_API_BASE);
    return url.host === base.host || (url.protocol === 'https:' && /(^|\.)qq\.com$/.test(url.hostname));
  } catch {
    return false;
  }
}

/**
 * Posts `markdown` to a robot message's response_url, once: it works once within an hour [D:101138], so a job that
 * runs again after a crash does not post again (a fence per message). Returns what happened.
 */
export async function respondOnce(ctx: Pick<BotContext, 'config' | 'wecom' | 'log'>, msgid: string, responseUrl: string, markdown: string): Promise<'sent' | 'already_sent' | 'not_wecom' | 'failed'> {
  if (!isWecomUrl(ctx, responseUrl)) {
    ctx.log.error({ msgid }, 'response_url is not a WeCom URL; answer not sent');
    return 'not_wecom';
  }
  if (!(await takeFence({ id: attemptFenceId(`robot-response|${msgid}`, 1), kind: 'attempt', for: `robot-response|${msgid}` }))) return 'already_sent';
  try {
    await ctx.wecom.respond(responseUrl, { msgtype: 'markdown', markdown: { content: clipBytes(markdown, ROBOT_MARKDOWN_BYTES) } });
    return 'sent';
  } catch (err) {
    if (!(err instanceof WecomApiError)) throw err;
    ctx.log.warn({ msgid, errcode: err.errcode, reason: err.errmsg }, 'answer through response_url not accepted');
    return 'failed';
  }
}
