/** Plaintext XML of 客户联系 `change_external_contact` events, as WeCom puts it inside `<Encrypt>` [D:92130]. */

/** Every ChangeType of `change_external_contact` [D:92130]. */
export type ContactChangeType =
  | 'add_external_contact'
  | 'add_half_external_contact'
  | 'edit_external_contact'
  | 'del_external_contact'
  | 'del_follow_user'
  | 'transfer_fail';

/** One `change_external_contact` event; optional fields are omitted from the XML when absent. */
export interface ContactEvent {
  /** The corp id. */
  toUserName: string;
  /** Seconds since the epoch. Not unique: several events may share one CreateTime [D:96361]. */
  createTime: number;
  changeType: ContactChangeType;
  userId: string;
  externalUserId: string;
  state?: string;
  welcomeCode?: string;
  /** del_external_contact only, e.g. `DELETE_BY_TRANSFER`. */
  source?: string;
  /** transfer_fail only, e.g. `customer_refused`. */
  failReason?: string;
}

/** Wraps a value in CDATA, splitting any `]]>` so the value cannot close the section early. */
function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** A 客户联系 event's XML [D:92130]: the system sender, the event and its fields in order (undefined ones left out). */
function systemEventXml(toUserName: string, createTime: number, event: string, fields: Array<[string, string | undefined]>): string {
  return (
    '<xml>' +
    `<ToUserName>${cdata(toUserName)}</ToUserName>` +
    `<FromUserName>${cdata('sys')}</FromUserName>` +
    `<CreateTime>${Math.floor(createTime)}</CreateTime>` +
    `<MsgType>${cdata('event')}</MsgType>` +
    `<Event>${cdata(event)}</Event>` +
    fields
      .filter((f): f is [string, string] => f[1] !== undefined)
      .map(([tag, v]) => `<${tag}>${cdata(v)}</${tag}>`)
      .join('') +
    '</xml>'
  );
}

/** Builds the plaintext XML WeCom sends for a `change_external_contact` event [D:92130]. */
export function buildContactEventXml(e: ContactEvent): string {
  return systemEventXml(e.toUserName, e.createTime, 'change_external_contact', [
    ['ChangeType', e.changeType],
    ['UserID', e.userId],
    ['ExternalUserID', e.externalUserId],
    ['State', e.state],
    ['WelcomeCode', e.welcomeCode],
    ['Source', e.source],
    ['FailReason', e.failReason],
  ]);
}

/** Builds the plaintext XML of a 微信客服 `kf_msg_or_event` callback: no content, only a Token and the account [D:94670]. */
export function buildKfEventXml(e: { toUserName: string; createTime: number; token: string; openKfid: string }): string {
  return (
    '<xml>' +
    `<ToUserName>${cdata(e.toUserName)}</ToUserName>` +
    `<CreateTime>${Math.floor(e.createTime)}</CreateTime>` +
    `<MsgType>${cdata('event')}</MsgType>` +
    `<Event>${cdata('kf_msg_or_event')}</Event>` +
    `<Token>${cdata(e.token)}</Token>` +
    `<OpenKfId>${cdata(e.openKfid)}</OpenKfId>` +
    '</xml>'
  );
}

/** One `change_external_tag` event: a corp tag or group changed [D:92130]. */
export interface TagEvent {
  toUserName: string;
  /** Seconds since the epoch. */
  createTime: number;
  changeType: 'create' | 'update' | 'delete' | 'shuffle';
  /** The tag's or the group's id. */
  id: string;
  tagType: 'tag' | 'tag_group';
}

/** Builds the plaintext XML WeCom sends for a `change_external_tag` event [D:92130]. */
export function buildTagEventXml(e: TagEvent): string {
  return systemEventXml(e.toUserName, e.createTime, 'change_external_tag', [
    ['Id', e.id],
    ['TagType', e.tagType],
    ['ChangeType', e.changeType],
  ]);
}
