import { z } from 'zod';
import { changeKeyOf, defineFamily, keyPart } from './family.js';

const id = z.string().min(1);
const common = {
  ToUserName: id,
  FromUserName: z.string(),
  CreateTime: z.coerce.number().int().nonnegative(),
  MsgType: z.literal('event'),
  Event: z.literal('change_external_contact'),
};
const contact = { ...common, UserID: id, ExternalUserID: id };
const addFields = { ...contact, State: z.string().optional(), WelcomeCode: z.string().optional() };

/**
 * 客户联系 change events [D:92130], one schema per ChangeType, keyed `change_external_contact.<ChangeType>`.
 * They carry no MsgId and distinct events can share a CreateTime, so the dedupe key is built from every
 * identifying field: Event + ChangeType + corp + UserID + ExternalUserID + CreateTime + State.
 */
export const contactEvents = defineFamily({
  name: 'contact',
  transport: 'xml',
  schemas: {
    'change_external_contact.add_external_contact': z.object({ ...addFields, ChangeType: z.literal('add_external_contact') }),
    'change_external_contact.add_half_external_contact': z.object({ ...addFields, ChangeType: z.literal('add_half_external_contact') }),
    'change_external_contact.edit_external_contact': z.object({ ...contact, ChangeType: z.literal('edit_external_contact') }),
    'change_external_contact.del_external_contact': z.object({ ...contact, ChangeType: z.literal('del_external_contact'), Source: z.string().optional() }),
    'change_external_contact.del_follow_user': z.object({ ...contact, ChangeType: z.literal('del_follow_user') }),
    'change_external_contact.transfer_fail': z.object({ ...contact, ChangeType: z.literal('transfer_fail'), FailReason: z.string().optional() }),
  },
  keyOf: (fields) => changeKeyOf(fields, 'change_external_contact'),
  dedupeKey: (e) =>
    [e.Event, e.ChangeType, e.ToUserName, e.UserID, e.ExternalUserID, e.CreateTime, 'State' in e ? e.State : ''].map(keyPart).join('|'),
});
