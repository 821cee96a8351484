import { z } from 'zod';
import type { BotContext } from '../../context.js';
import type { PauseKind } from '../../store/models/pause.js';
import type { PauseTarget } from '../pause/pauses.js';
import { findChannel } from '../channels/find-channel.js';
import { foldWidth, sameName } from '../width.js';
import { CommandError, type CommandContext, type Level } from './command.js';
import { findLead } from './find-lead.js';
import { issue } from './parse.js';

/** What to pause as typed: an explicit kind (`序列:onboarding`, `channel:expo2026`, `线索:王经理`) or a bare name. */
export interface TargetArg {
  kind: PauseKind | null;
  name: string;
}

const PREFIXES: Record<string, PauseKind> = { lead: 'lead', 线索: 'lead', sequence: 'sequence', 序列: 'sequence', 培育: 'sequence', channel: 'channel', 渠道: 'channel' };

/** Reads a target word (as typed: the name after the kind keeps its full-width forms). */
export function targetArg(word: string): TargetArg {
  // `序列:x` or `序列：x`: a Chinese keyboard types the full-width colon.
  const colon = word.search(/[:：]/);
  const kind = colon > 0 ? PREFIXES[foldWidth(word.slice(0, colon)).toLowerCase()] : undefined;
  return kind ? { kind, name: word.slice(colon + 1).trim() } : { kind: null, name: word.trim() };
}

/** The target argument of 暂停 and 恢复: a kind with nothing after its colon (`序列：`) names nothing, and says so. */
export const targetField = z
  .string()
  .min(1)
  .max(100)
  .transform(targetArg)
  .superRefine((a, ctx) => {
    if (!a.name) ctx.addIssue(issue('冒号后面缺少名字（例如 序列:onboarding）', 'a name must follow the colon (e.g. sequence:onboarding)'));
  });

/** The key of the sequence a name gives: the key itself, or the key but for full-width forms (`ｆａｓｔ`). */
function sequenceKey(sequences: BotContext['sequences'], name: string): string | undefined {
  return sequences.has(name) ? name : [...sequences.keys()].find((k) => sameName(k, name));
}

/** The kind a target is: as written, else a sequence key, else a channel key or name, else a lead. */
export function targetKind(a: TargetArg, ctx: Pick<BotContext, 'sequences' | 'channels'>): PauseKind {
  if (a.kind) return a.kind;
  if (sequenceKey(ctx.sequences, a.name)) return 'sequence';
  if (findChannel(ctx.channels, a.name)) return 'channel';
  return 'lead';
}

/** Pausing a lead is a lead-level action; a sequence or a channel touches many leads: admins only. */
export function pauseLevel(a: TargetArg | undefined, ctx: Pick<BotContext, 'sequences' | 'channels'>): Level {
  if (!a) return 'read';
  return targetKind(a, ctx) === 'lead' ? 'lead' : 'admin';
}

/** The pause target a chat argument names, and how to call it in the answer. */
export async function resolveTarget(ctx: CommandContext, a: TargetArg): Promise<{ target: PauseTarget; label: string }> {
  const { t } = ctx;
  const kind = targetKind(a, ctx);
  if (kind === 'sequence') {
    const key = sequenceKey(ctx.sequences, a.name);
    if (!key) throw new CommandError('not_found', t(`没有「${a.name}」这个培育序列。现有：${[...ctx.sequences.keys()].join(', ')}`, `No sequence "${a.name}". Sequences: ${[...ctx.sequences.keys()].join(', ')}`));
    return { target: { kind, target: key }, label: t(`培育序列「${key}」`, `sequence ${key}`) };
  }
  if (kind === 'channel') {
    const c = findChannel(ctx.channels, a.name);
    if (!c) throw new CommandError('not_found', t(`没有「${a.name}」这个渠道。`, `No channel "${a.name}".`));
    return { target: { kind, target: c.key }, label: t(`渠道「${c.name}（${c.key}）」`, `channel ${c.name} (${c.key})`) };
  }
  const { id, lead } = await findLead(ctx, a.name);
  return { target: { kind, target: id }, label: t(`线索「${lead.name ?? lead.externalUserId}」`, `lead ${lead.name ?? lead.externalUserId}`) };
}
