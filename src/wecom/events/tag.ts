import { z } from 'zod';
import { changeKeyOf, defineFamily, keyPart } from './family.js';

const common = {
  ToUserName: z.string().min(1),
  FromUserName: z.string(),
  CreateTime: z.coerce.number().int().nonnegative(),
  MsgType: z.literal('event'),
  Event: z.literal('change_external_tag'),
  /** The tag's or the group's id. */
  Id: z.string().min(1),
  /** `tag` or `tag_group`. */
  TagType: z.enum(['tag', 'tag_group']),
  /** Set for a 规则组 tag; only the 客户联系 app hears of it. */
  StrategyId: z.string().optional(),
};

/**
 * 企业客户标签 change events [D:92130], keyed `change_external_tag.<ChangeType>`. The bot keeps tag names (its id cache,
 * each lead's tags, what campaign segments match), so it handles a rename (`update`) and a deletion (`delete`; a
 * group's deletion deletes its tags with no event of their own). `create` and `shuffle` (a new order) change nothing the
 * bot keeps: they are acknowledged and ignored as keys no family defines. No MsgId: the dedupe key is every
 * identifying field.
 */
export const tagEvents = defineFamily({
  name: 'tag',
  transport: 'xml',
  schemas: {
    'change_external_tag.update': z.object({ ...common, ChangeType: z.literal('update') }),
    'change_external_tag.delete': z.object({ ...common, ChangeType: z.literal('delete') }),
  },
  keyOf: (fields) => changeKeyOf(fields, 'change_external_tag'),
  dedupeKey: (e) => [e.Event, e.ChangeType, e.ToUserName, e.TagType, e.Id, e.StrategyId ?? '', e.CreateTime].map(keyPart).join('|'),
});
