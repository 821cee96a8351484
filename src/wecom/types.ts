/** Response and request shapes of the WeCom APIs the bot calls, as WeCom documents them (doc ids on each call in client.ts). */

export interface WecomResponse {
  errcode: number;
  errmsg: string;
}

export interface TokenResponse extends WecomResponse {
  access_token: string;
  expires_in: number;
}

export interface FollowUserTag {
  group_name: string;
  tag_name: string;
  tag_id?: string;
  type: number;
}

export interface FollowUser {
  userid: string;
  remark?: string;
  description?: string;
  createtime?: number;
  tags?: FollowUserTag[];
  state?: string;
  add_way?: number;
}

export interface ExternalContactResponse extends WecomResponse {
  external_contact: {
    external_userid: string;
    name?: string;
    avatar?: string;
    type?: number;
    gender?: number;
    unionid?: string;
    corp_name?: string;
  };
  follow_user?: FollowUser[];
}

export interface CorpTagGroup {
  group_id: string;
  group_name: string;
  /** Only in an answer that names the group or tag by id: it was deleted [D:92117]. */
  deleted?: boolean;
  tag: Array<{ id: string; name: string; deleted?: boolean }>;
}

export interface CorpTagListResponse extends WecomResponse {
  tag_group: CorpTagGroup[];
}

export interface AddCorpTagResponse extends WecomResponse {
  tag_group: CorpTagGroup;
}

export interface LinkAttachment {
  msgtype: 'link';
  link: { title: string; url: string; desc?: string; picurl?: string };
}

export interface WelcomeMessage {
  welcome_code: string;
  text?: { content: string };
  attachments?: LinkAttachment[];
}

export interface ContactWay {
  type: 1 | 2;
  scene: 1 | 2;
  state?: string;
  skip_verify?: boolean;
  user?: string[];
  remark?: string;
}

export interface AddContactWayResponse extends WecomResponse {
  config_id: string;
  qr_code: string;
}

export interface GetContactWayResponse extends WecomResponse {
  contact_way: ContactWay & { config_id: string; qr_code?: string };
}

/** externalcontact/get_follow_user_list: the userids of the members with 客户联系 [D:92571]. */
export interface FollowUserListResponse extends WecomResponse {
  follow_user: string[];
}

/** externalcontact/list_contact_way: the config_ids of the 联系我 codes made between start_time and end_time [D:92228]. */
export interface ListContactWayResponse extends WecomResponse {
  contact_way: Array<{ config_id: string }>;
  next_cursor?: string;
}

export interface MsgTemplate {
  chat_type: 'single';
  external_userid: string[];
  sender: string;
  text?: { content: string };
  attachments?: LinkAttachment[];
}

export interface AddMsgTemplateResponse extends WecomResponse {
  msgid: string;
  fail_list?: string[];
}

export interface GroupMsgSendResultResponse extends WecomResponse {
  next_cursor?: string;
  /** status 0 unsent, 1 sent, 2 not a friend, 3 the customer already received another mass message. */
  send_list: Array<{ external_userid: string; userid: string; status: number; send_time?: number }>;
}

/** A message kf/send_msg or send_msg_on_event sends [D:94677]: text, or a menu (head, items, tail). */
export type KfOutboundMessage =
  | { msgtype: 'text'; text: { content: string } }
  | {
      msgtype: 'msgmenu';
      msgmenu: {
        head_content?: string;
        list: Array<{ type: 'click'; click: { id: string; content: string } } | { type: 'view'; view: { url: string; content: string } } | { type: 'text'; text: { content: string; no_newline?: number } }>;
        tail_content?: string;
      };
    };

/** One message or event from kf/sync_msg [D:94670]; events carry their ids inside `event`. */
export interface KfSyncedMessage {
  msgid: string;
  open_kfid?: string;
  external_userid?: string;
  servicer_userid?: string;
  send_time: number;
  /** 3 the customer, 4 a system event, 5 a servicer in the WeCom client. */
  origin: number;
  msgtype: string;
  text?: { content: string; menu_id?: string };
  event?: {
    event_type: string;
    open_kfid?: string;
    external_userid?: string;
    servicer_userid?: string;
    scene?: string;
    scene_param?: string;
    welcome_code?: string;
    fail_msgid?: string;
    fail_type?: number;
    change_type?: number;
    old_servicer_userid?: string;
    new_servicer_userid?: string;
    msg_code?: string;
    status?: number;
    recall_msgid?: string;
  };
  [other: string]: unknown;
}

export interface KfSyncMsgResponse extends WecomResponse {
  next_cursor: string;
  /** An int, 0 or 1; an empty page may have more. */
  has_more: number;
  msg_list: KfSyncedMessage[];
}

export interface KfServiceStateResponse extends WecomResponse {
  service_state: number;
  servicer_userid?: string;
}

export interface KfCustomerBatchgetResponse extends WecomResponse {
  customer_list: Array<{
    external_userid: string;
    nickname?: string;
    avatar?: string;
    gender?: number;
    unionid?: string;
    enter_session_context?: { scene?: string; scene_param?: string; wechat_channels?: { nickname?: string; scene?: number } };
  }>;
  invalid_external_userid?: string[];
}

export interface KfServicerListResponse extends WecomResponse {
  servicer_list: Array<{ userid?: string; department_id?: number; status?: number; stop_type?: number }>;
}

export interface KfAccountListResponse extends WecomResponse {
  account_list: Array<{ open_kfid: string; name: string; avatar?: string; manage_privilege?: boolean }>;
}
