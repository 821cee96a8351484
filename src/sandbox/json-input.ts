/** Reading fields of untyped JSON request bodies; a present field of the wrong type is errcode 40058. */
import { SandboxApiError } from './errcodes.js';

/** A parsed JSON object body. */
export type Json = Record<string, unknown>;

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The string at `key`, '' and absent both read as undefined. */
export function optString(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new SandboxApiError(40058, `${key} must be a string`);
  return v;
}

/** The number at `key`; numeric strings are accepted because WeCom accepts them for ids such as agentid. */
export function optNumber(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new SandboxApiError(40058, `${key} must be a number`);
  return n;
}

/** The boolean at `key`. */
export function optBool(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new SandboxApiError(40058, `${key} must be a boolean`);
  return v;
}

/** The array at `key`. */
export function optArray(body: Json, key: string): unknown[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new SandboxApiError(40058, `${key} must be an array`);
  return v;
}

/** The array of strings at `key`. */
export function optStringArray(body: Json, key: string): string[] | undefined {
  const v = optArray(body, key);
  if (v === undefined) return undefined;
  if (!v.every((x) => typeof x === 'string')) throw new SandboxApiError(40058, `${key} must be an array of strings`);
  return v as string[];
}

/** The object at `key`. */
export function optObject(body: Json, key: string): Json | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) throw new SandboxApiError(40058, `${key} must be an object`);
  return v;
}

/** UTF-8 byte length: WeCom's content limits are in bytes [D:92137]. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Character count (code points): WeCom's name and state limits are in characters [D:92117, D:92228]. */
export function charLength(s: string): number {
  return [...s].length;
}

/** Truncates to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  if (utf8Length(s) <= max) return s;
  return Buffer.from(s, 'utf8').subarray(0, max).toString('utf8').replace(/\uFFFD+$/, '');
}

const ATTACHMENT_TYPES = ['image', 'link', 'miniprogram', 'video', 'file'];

/** Validates a message `attachments` list (≤ 9, each `{msgtype, <msgtype>: {...}}`) [D:92137]. */
export function checkAttachments(list: unknown[] | undefined): unknown[] {
  const attachments = list ?? [];
  if (attachments.length > 9) throw new SandboxApiError(40058, 'at most 9 attachments');
  for (const a of attachments) {
    // UNCONFIRMED: WeCom may answer 41065 (invalid attachment type) rather than 40058 here.
    if (!isJsonObject(a) || typeof a.msgtype !== 'string' || !ATTACHMENT_TYPES.includes(a.msgtype) || !isJsonObject(a[a.msgtype])) {
      throw new SandboxApiError(40058, 'invalid attachment');
    }
  }
  return attachments;
}

/** Reads `text.content` of a message body. */
export function textContent(body: Json): string | undefined {
  const text = optObject(body, 'text');
  return text ? optString(text, 'content') : undefined;
}

/** Reads an offset cursor ('' or absent = start). */
export function cursorOffset(body: Json): number {
  const cursor = optString(body, 'cursor');
  if (cursor === undefined) return 0;
  const n = Number(cursor);
  if (!Number.isInteger(n) || n < 0) throw new SandboxApiError(40058, 'invalid cursor');
  return n;
}
