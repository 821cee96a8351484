import { describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_MS, welcomeDeadline } from '../../src/domain/welcome/plan-welcome.js';

describe('welcomeDeadline: 20 s from the event, less a 1 s margin', () => {
  const receivedAt = 1_800_000_000_500;
  const seconds = (ms: number) => Math.floor(ms / 1000);

  it('counts from the event when the clocks agree and the callback came a few seconds after it', () => {
    // The event at …997.x on WeCom's clock, received 3 s later: 16 s left, not 19.
    const createTime = seconds(receivedAt) - 3;
    expect(welcomeDeadline(receivedAt, createTime)).toMatchObject({ deadline: createTime * 1000 + 999 + 19_000, trusted: true });
  });

  it('counts from our receipt when the event is dated in the same second or later', () => {
    expect(welcomeDeadline(receivedAt, seconds(receivedAt)).deadline).toBe(receivedAt + 19_000);
    expect(welcomeDeadline(receivedAt, seconds(receivedAt) + 4).deadline).toBe(receivedAt + 19_000);
  });

  it('counts from our receipt alone when CreateTime is further from our clock than the tolerance', () => {
    for (const off of [-60, -21, -(CLOCK_TOLERANCE_MS / 1000 + 2), 60]) {
      const r = welcomeDeadline(receivedAt, seconds(receivedAt) + off);
      expect(r, `${off} s`).toMatchObject({ deadline: receivedAt + 19_000, trusted: false });
    }
  });
});
