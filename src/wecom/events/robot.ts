import { z } from 'zod';
import { CallbackError, ErrorCode } from '../../errors.js';
import { defineFamily, keyPart } from './family.js';

const id = z.string().min(1);
/** What every robot callback carries [D:100719, D:101027]. `chatid` only in group chats. */
const common = {
  msgid: id,
  aibotid: id,
  chatid: z.string().optional(),
  chattype: z.enum(['single', 'group']),
  from: z.object({ userid: id, corpid: z.string().optional() }),
  /** One-shot URL for an answer sent later (one POST within an hour) [D:101138]; absent on stream refreshes. */
  response_url: z.string().url().optional(),
  create_time: z.number().optional(),
};
/** A quoted message travels with the new one; we only read the new one's text. */
const quote = z.object({ msgtype: z.string() }).passthrough().optional();
const media = z.object({ url: z.string() }).passthrough();
const event = <T extends string, P extends z.ZodTypeAny>(type: T, payload: P) =>
  z.object({ ...common, msgtype: z.literal('event'), event: z.object({ eventtype: z.literal(type) }).passthrough().and(payload) });

/**
 * The 智能机器人 (intelligent robot) in API mode: encrypted JSON callbacks on /wecom/robot, receiveid "" [D:100719,
 * D:101027, D:101031]. Messages are keyed by msgtype (`robot.text`, `robot.mixed`, ...); in a group the robot only
 * gets text, mixed and quote (a text with `quote`). `robot.stream` is a stream refresh: WeCom asking for the current
 * content of a stream we opened, never a new message. Events are `robot.event.<eventtype>`. WeCom may deliver a
 * callback twice: the dedupe key is the msgid.
 */
export const robotEvents = defineFamily({
  name: 'robot',
  transport: 'json',
  schemas: {
    'robot.text': z.object({ ...common, msgtype: z.literal('text'), text: z.object({ content: z.string() }), quote }),
    'robot.mixed': z.object({
      ...common,
      msgtype: z.literal('mixed'),
      mixed: z.object({ msg_item: z.array(z.object({ msgtype: z.string(), text: z.object({ content: z.string() }).optional(), image: media.optional() })) }),
      quote,
    }),
    'robot.voice': z.object({ ...common, msgtype: z.literal('voice'), voice: z.object({ content: z.string() }), quote }),
    'robot.image': z.object({ ...common, msgtype: z.literal('image'), image: media }),
    'robot.file': z.object({ ...common, msgtype: z.literal('file'), file: media }),
    'robot.video': z.object({ ...common, msgtype: z.literal('video'), video: media }),
    'robot.stream': z.object({ ...common, msgtype: z.literal('stream'), stream: z.object({ id }) }),
    'robot.event.enter_chat': event('enter_chat', z.object({})),
    'robot.event.template_card_event': event('template_card_event', z.object({})),
    'robot.event.feedback_event': event('feedback_event', z.object({})),
  },
  // Every robot callback names its robot (aibotid); a JSON message without one is not the robot's.
  keyOf: (f) => {
    if (typeof f.aibotid !== 'string' || typeof f.msgtype !== 'string') return null;
    if (f.msgtype !== 'event') return `robot.${f.msgtype}`;
    const type = (f.event as { eventtype?: unknown } | undefined)?.eventtype;
    // An event without its eventtype is missing a field WeCom always sends, not an event of an unknown type.
    if (typeof type !== 'string' || !type) throw new CallbackError(ErrorCode.PayloadMalformed, 'invalid robot event: event.eventtype', 400);
    return `robot.event.${type}`;
  },
  dedupeKey: (e) => `robot|${keyPart(e.msgid)}`,
});

type Schemas = typeof robotEvents.schemas;
/** A robot message a person wrote (not a refresh, not an event). */
export type RobotMessage = z.infer<Schemas['robot.text' | 'robot.mixed' | 'robot.voice' | 'robot.image' | 'robot.file' | 'robot.video']>;
/** A stream-refresh callback. */
export type RobotStreamRefresh = z.infer<Schemas['robot.stream']>;

/** Robot keys that carry a person's message. */
export const ROBOT_MESSAGE_KEYS = ['robot.text', 'robot.mixed', 'robot.voice', 'robot.image', 'robot.file', 'robot.video'] as const;

/**
 * The text a person wrote to the robot, without the leading @mention(s): WeCom keeps `@RobotName ` at the start of the
 * content in a group [D:100719]. Mixed messages give their text parts; voice its transcript; media nothing (null).
 */
export function robotMessageText(m: RobotMessage): string | null {
  let text: string | null = null;
  if (m.msgtype === 'text') text = m.text.content;
  else if (m.msgtype === 'voice') text = m.voice.content;
  else if (m.msgtype === 'mixed') text = m.mixed.msg_item.map((i) => (i.msgtype === 'text' ? (i.text?.content ?? '') : '')).join(' ');
  return text === null ? null : stripMentions(text);
}

/** Removes `@name` mentions at the start and at the end (separated by ordinary or full-width spaces): "@运营助手 统计 7d", "统计 7d @运营助手". */
export function stripMentions(text: string): string {
  return text
    .replace(/^[\s\u3000]*(?:@[^\s\u3000]+[\s\u3000]*)+/u, '')
    .replace(/(?:[\s\u3000]+@[^\s\u3000]+)+[\s\u3000]*$/u, '')
    .trim();
}
