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
  tag: Array<{ id: string; name: string }>;
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
