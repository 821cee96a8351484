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

  it('refuse a token signed with another key, or changed in any character', () => {
    const token = trackedUrl('http://x', 'secret-secret-secret', link).split('/r/')[1]!;
    expect(readTrackedToken('another-secret-key!', token)).toBeNull();
    const flipped = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    expect(readTrackedToken('secret-secret-secret', flipped)).toBeNull();
    expect(readTrackedToken('secret-secret-secret', 'doesnotexist')).toBeNull();
    expect(readTrackedToken('secret-secret-secret', `${token}.`)).toBeNull();
  });
});
