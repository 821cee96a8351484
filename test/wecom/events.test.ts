import { describe, expect, it } from 'vitest';
import { parseXml } from '../../src/wecom/callback/xml.js';
import { EventDispatcher } from '../../src/wecom/events/dispatcher.js';
import { classifyEvent, KNOWN_EVENT_KEYS, type EventKey } from '../../src/wecom/events/index.js';
import { robotMessageText, type RobotMessage } from '../../src/wecom/events/robot.js';
import { wecomJson, wecomXml } from '../fixtures/wecom/index.js';

const noop = async () => undefined;

describe('event families', () => {
  it('every documented 客户联系 payload classifies to its key, validated, with its dedupe key [D:92130]', () => {
    for (const name of ['add_external_contact', 'add_half_external_contact', 'edit_external_contact', 'del_external_contact', 'del_follow_user', 'transfer_fail']) {
      const parsed = classifyEvent(parseXml(wecomXml(`contact/${name}`)));
      expect(parsed).toMatchObject({ kind: 'known', key: `change_external_contact.${name}` });
      if (parsed.kind === 'known') expect(parsed.dedupeKey).toContain(`change_external_contact|${name}|toUser|zhangsan|woAJ2GCAAAXtWyujaWJHDDGi0mAAAA|1403610513`);
    }
  });

  it('distinct events sharing one CreateTime get distinct dedupe keys; a retried one gets the same key', () => {
    const key = (o: Record<string, string>) => {
      const p = classifyEvent(parseXml(wecomXml('contact/add_external_contact', o)));
      return p.kind === 'known' ? p.dedupeKey : '';
    };
    expect(key({})).toBe(key({}));
    expect(new Set([key({}), key({ UserID: 'lisi' }), key({ ExternalUserID: 'wmOther' }), key({ State: 'other' })]).size).toBe(4);
    // ':' is BullMQ's job-id separator: it never reaches a key.
    expect(key({ State: 'a:b|c' })).not.toMatch(/[:]|a\|b/);
  });

  it('企业客户标签 update and delete classify to their keys; a retried one gets the same key, another tag or time another [D:92130]', () => {
    const key = (o: Record<string, string | number | null> = {}) => {
      const p = classifyEvent(parseXml(wecomXml('tag/change_external_tag', o)));
      return p.kind === 'known' ? `${p.key} ${p.dedupeKey}` : p.key;
    };
    expect(key()).toBe('change_external_tag.update change_external_tag|update|toUser|tag|TAG_ID||1403610513');
    expect(key({ ChangeType: 'delete', TagType: 'tag_group' })).toMatch(/^change_external_tag\.delete .*\|tag_group\|/);
    expect(new Set([key(), key(), key({ Id: 'OTHER' }), key({ CreateTime: 1403610514 })]).size).toBe(3);
    expect(key({ ChangeType: 'shuffle' })).toBe('change_external_tag.shuffle');
    expect(() => classifyEvent(parseXml(wecomXml('tag/change_external_tag', { TagType: 'label' })))).toThrow(/TagType/);
  });

  it('a well-formed event no family defines is unknown (acknowledged and ignored); a known one missing a field is refused', () => {
    expect(classifyEvent(parseXml('<xml><MsgType>event</MsgType><Event>change_external_tag</Event><ChangeType>create</ChangeType></xml>'))).toEqual({ kind: 'unknown', key: 'change_external_tag.create' });
    expect(classifyEvent(parseXml(wecomXml('contact/add_external_contact', { ChangeType: 'some_new_type' })))).toEqual({ kind: 'unknown', key: 'change_external_contact.some_new_type' });
    expect(() => classifyEvent(parseXml(wecomXml('contact/add_external_contact', { UserID: null })))).toThrow(/UserID/);
    expect(classifyEvent({ msgtype: 'text' }, 'json')).toEqual({ kind: 'unknown', key: 'text' });
  });

  it('a 客户联系 or 客户标签 change event without its ChangeType is missing a field (400), not an unknown type', () => {
    for (const name of ['contact/add_external_contact', 'tag/change_external_tag']) {
      let err: unknown;
      try {
        classifyEvent(parseXml(wecomXml(name, { ChangeType: null })));
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ status: 400, message: expect.stringMatching(/ChangeType/) });
    }
  });

  it('an XML event without its Event is missing a field (400); a message of a type no family defines is ignored', () => {
    expect(() => classifyEvent(parseXml('<xml><ToUserName>ww</ToUserName><MsgType>event</MsgType></xml>'))).toThrow(/no Event/);
    expect(classifyEvent(parseXml('<xml><ToUserName>ww</ToUserName><MsgType>text</MsgType></xml>'))).toEqual({ kind: 'unknown', key: 'text' });
  });
});

describe('the robot family (智能机器人, JSON) [D:100719, D:101027]', () => {
  it('every documented robot payload classifies to its key by msgtype, with the msgid as dedupe key', () => {
    const cases: Array<[string, string]> = [
      ['robot/text', 'robot.text'],
      ['robot/quote', 'robot.text'],
      ['robot/mixed', 'robot.mixed'],
      ['robot/voice', 'robot.voice'],
      ['robot/image', 'robot.image'],
      ['robot/stream', 'robot.stream'],
      ['robot/enter_chat', 'robot.event.enter_chat'],
    ];
    for (const [fixture, key] of cases) {
      const json = wecomJson(fixture);
      const parsed = classifyEvent(json, 'json');
      expect(parsed, fixture).toMatchObject({ kind: 'known', key });
      if (parsed.kind === 'known') expect(parsed.dedupeKey).toBe(`robot|${json.msgid as string}`);
    }
  });

  it('the text is what follows the @mention (group content keeps "@Robot "); mixed gives its text parts, voice its transcript', () => {
    const text = (fixture: string, o: Record<string, unknown> = {}) => {
      const p = classifyEvent(wecomJson(fixture, o), 'json');
      return p.kind === 'known' ? robotMessageText(p.event as RobotMessage) : 'not known';
    };
    expect(text('robot/text')).toBe('hello robot');
    expect(text('robot/text', { 'text.content': '@运营助手\u3000统计　7d' })).toBe('统计　7d');
    expect(text('robot/text', { 'text.content': '@RobotA @lisi 帮助' })).toBe('帮助');
    expect(text('robot/text', { 'text.content': '帮助' })).toBe('帮助');
    expect(text('robot/quote')).toBe('这是什么');
    expect(text('robot/mixed')).toBe('这是今日的测试情况');
    expect(text('robot/voice')).toBe('这是语音转成文本的内容');
    expect(text('robot/image')).toBeNull();
  });

  it('a robot message missing a field is refused (400); an unknown msgtype or event is acknowledged and ignored', () => {
    expect(() => classifyEvent(wecomJson('robot/text', { msgid: undefined }), 'json')).toThrow(/msgid/);
    expect(() => classifyEvent(wecomJson('robot/text', { 'from.userid': undefined }), 'json')).toThrow(/from\.userid/);
    expect(() => classifyEvent(wecomJson('robot/text', { text: 'not an object' }), 'json')).toThrow(/text/);
    expect(classifyEvent(wecomJson('robot/text', { msgtype: 'sticker' }), 'json')).toEqual({ kind: 'unknown', key: 'robot.sticker' });
    expect(classifyEvent(wecomJson('robot/enter_chat', { 'event.eventtype': 'disconnected_event' }), 'json')).toEqual({ kind: 'unknown', key: 'robot.event.disconnected_event' });
  });

  it('a robot callback without its msgtype, or an event without its eventtype, is missing a field (400), not an unknown type', () => {
    expect(() => classifyEvent(wecomJson('robot/text', { msgtype: undefined }), 'json')).toThrow(/msgtype/);
    expect(() => classifyEvent({}, 'json')).toThrow(/msgtype/);
    expect(() => classifyEvent(wecomJson('robot/enter_chat', { 'event.eventtype': undefined }), 'json')).toThrow(/eventtype/);
  });
});

describe('the 微信客服 family', () => {
  it('the documented kf_msg_or_event payload classifies, validated; its dedupe key is corp + account + Token [D:94670]', () => {
    const key = (o: Record<string, string | number> = {}) => {
      const p = classifyEvent(parseXml(wecomXml('kf/kf_msg_or_event', o)));
      expect(p).toMatchObject({ kind: 'known', key: 'kf_msg_or_event' });
      return p.kind === 'known' ? p.dedupeKey : '';
    };
    expect(key()).toBe('kf_msg_or_event|ww12345678910|wkxxxxxxxxxxxxxxxxxx|ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR');
    // A retried callback (same Token) is the same; a new callback (new Token) or another account is not; the
    // CreateTime of a retry is the same anyway and does not decide.
    expect(key({ CreateTime: 1348831861 })).toBe(key());
    expect(new Set([key(), key({ Token: 'ENCother' }), key({ OpenKfId: 'wkother' })]).size).toBe(3);
    expect(() => classifyEvent(parseXml(wecomXml('kf/kf_msg_or_event', { Token: null })))).toThrow(/Token/);
  });
});

describe('the event dispatcher', () => {
  it('refuses, at registration, a key no family defines and a second handler for a key', () => {
    expect(() => new EventDispatcher().on('change_external_contact.add_external_contac' as EventKey, noop)).toThrow(/unknown event key/);
    expect(() => new EventDispatcher().on('change_external_contact.del_follow_user', noop).on('change_external_contact.del_follow_user', noop)).toThrow(/already registered/);
    expect(KNOWN_EVENT_KEYS).toContain('change_external_contact.transfer_fail');
  });
});
