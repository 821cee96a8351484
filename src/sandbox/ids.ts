import { randomInt } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random id in WeCom's style: prefix + alphanumerics. */
export function randomId(prefix: string, length: number): string {
  let s = prefix;
  for (let i = 0; i < length; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/** Map key of a pair (a member and a customer, a kf account and a customer). */
export function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}
