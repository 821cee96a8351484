import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readTrackedToken, trackedUrl } from '../../src/domain/delivery/tracked-links.js';

const link = { url: 'https://example.com/cases/甲厂?a=1&b=2', lead: { corpId: 'ww1', externalUserId: 'wmABC' }, deliveryKey: 'nurture|65f0|2' };

describe('tracked links', () => {
  it('carry the URL, the lead and the delivery in a token made of URL-safe characters', () => {
    const url = trackedUrl('https://bot.example.com/', 'secret-secret-secret', link);
    expect(url).toMatch(/^https:\/\/bot\.example\.com\/r\/[\w-]+$/);
    expect(readTrackedToken('secret-secret-secret', url.split('/r/')[1]!)).toEqual(link);
  });

  it('a link shared by many customers (one group message) carries its group, and no lead', () => {
    const shared = { url: 'https://example.com/webinar', lead: null, deliveryKey: 'cg|webinar|20261201T020000Z|a1b2c3', caseSlug: 'mfg-a' };
    const token = trackedUrl('http://x', 'secret-secret-secret', shared).split('/r/')[1]!;
    expect(readTrackedToken('secret-secret-secret', token)).toEqual(shared);
  });

  it('show nobody who passes a link on the corp, the customer, the delivery or the URL; one delivery has one link', () => {
    const url = trackedUrl('https://bot.example.com', 'secret-secret-secret', link);
    const token = url.split('/r/')[1]!;
    const decoded = Buffer.from(token.slice(1), 'base64url').toString('latin1') + Buffer.from(token, 'base64url').toString('latin1');
    for (const secret of ['ww1', 'wmABC', 'nurture', 'example.com']) expect(decoded).not.toContain(secret);
    expect(trackedUrl('https://bot.example.com', 'secret-secret-secret', link)).toBe(url);
    expect(trackedUrl('https://bot.example.com', 'secret-secret-secret', { ...link, deliveryKey: 'nurture|65f0|3' })).not.toBe(url);
  });

  it('still read the links sent before (signed, readable tokens)', () => {
    const payload = Buffer.from([link.url, 'ww1', 'wmABC', link.deliveryKey, ''].join('\n')).toString('base64url');
    const legacy = payload + createHmac('sha256', 'secret-secret-secret').update(payload).digest().subarray(0, 9).toString('base64url');
    expect(readTrackedToken('secret-secret-secret', legacy)).toEqual(link);
    expect(readTrackedToken('another-secret-key!', legacy)).toBeNull();
  });

  it('refuse a token signed with another key, or changed in any character', () => {
    const token = trackedUrl('http://x', 'secret-secret-secret', link).split('/r/')[1]!;
    expect(readTrackedToken('another-secret-key!', token)).toBeNull();
    for (const at of [1, 10, 30, token.length - 1]) {
      const flipped = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
      expect(readTrackedToken('secret-secret-secret', flipped)).toBeNull();
    }
    expect(readTrackedToken('secret-secret-secret', 'doesnotexist')).toBeNull();
    expect(readTrackedToken('secret-secret-secret', `${token}.`)).toBeNull();
  });

  it('refuse a sealed token changed in the unused bits of its last character, or with a character added, whatever its length', () => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Delivery keys of six lengths: the base64url body ends with every remainder (0, 2 or 3 characters over a multiple of 4).
    for (let n = 1; n <= 6; n++) {
      const token = trackedUrl('http://x', 'secret-secret-secret', { ...link, deliveryKey: 'k'.repeat(n) }).split('/r/')[1]!;
      expect(readTrackedToken('secret-secret-secret', token)?.deliveryKey).toBe('k'.repeat(n));
      for (const c of chars) {
        if (c !== token.at(-1)) expect(readTrackedToken('secret-secret-secret', token.slice(0, -1) + c)).toBeNull();
        expect(readTrackedToken('secret-secret-secret', token + c)).toBeNull();
      }
    }
  });
});
