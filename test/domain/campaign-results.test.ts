import { describe, expect, it } from 'vitest';
import { runResults } from '../../src/domain/campaigns/results.js';

// A run's results as 群发 show and the dashboard read them, from its counters and its groups.
const group = (o: { via: 'mass' | 'owner'; size: number; status: string }) => ({ runId: 'r', sender: 'zhangsan', refused: 0, tally: null, clicks: 0, ...o }) as never;

describe('the results of a run under way', () => {
  it('counts the customers of a task sent since the last settled page, as targeted in the audience pass', () => {
    const run = { status: 'running', pass: 0, counters: { targeted: 4, routes: { mass: 2 }, outcomes: { mass_submitted: 2 } } } as never;
    const r = runResults(run, [group({ via: 'mass', size: 2, status: 'submitted' }), group({ via: 'mass', size: 3, status: 'submitted' })]);
    expect(r).toMatchObject({ inProgress: true, targeted: 7, byRoute: { kf: 0, mass: 5, owner: 0 }, waitingForOwner: 5 });
  });

  it('a later pass (leads the daily cap held back, already counted as targeted by the first) does not count them as targeted again', () => {
    // Pass 0: 5 targeted, 2 sent by mass message, 3 held back by the daily cap. Pass 1 (the next day) has sent a task
    // to those 3, its page not settled yet.
    const run = { status: 'running', pass: 1, counters: { targeted: 5, deferred: 3, routes: { mass: 2 }, outcomes: { mass_submitted: 2 } } } as never;
    const r = runResults(run, [group({ via: 'mass', size: 2, status: 'submitted' }), group({ via: 'mass', size: 3, status: 'submitted' })]);
    expect(r).toMatchObject({ inProgress: true, targeted: 5, byRoute: { kf: 0, mass: 5, owner: 0 }, waitingForOwner: 5 });
  });
});
