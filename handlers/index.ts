import { EventDispatcher } from '../src/wecom/events/dispatcher.js';
import { addExternalContact } from './contact/add-external-contact.js';
import { delExternalContact } from './contact/del-external-contact.js';
import { delFollowUser } from './contact/del-follow-user.js';
import { editExternalContact } from './contact/edit-external-contact.js';
import { transferFail } from './contact/transfer-fail.js';
import { changeExternalTag } from './tag/change-external-tag.js';
import { kfMsgOrEvent } from './kf/kf-msg-or-event.js';

/** Every inbound event handler, registered on one dispatcher (a key no family defines fails here, at start-up). */
export function createEventDispatcher(): EventDispatcher {
  return new EventDispatcher()
    .on('change_external_contact.add_external_contact', addExternalContact)
    .on('change_external_contact.add_half_external_contact', addExternalContact)
    .on('change_external_contact.edit_external_contact', editExternalContact)
    .on('change_external_contact.del_external_contact', delExternalContact)
    .on('change_external_contact.del_follow_user', delFollowUser)
    .on('change_external_contact.transfer_fail', transferFail)
    .on('change_external_tag.update', changeExternalTag)
    .on('change_external_tag.delete', changeExternalTag)
    .on('kf_msg_or_event', kfMsgOrEvent);
}
