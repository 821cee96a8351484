import { z } from 'zod';

/**
 * Who made a change through the admin API (a WeCom userid), kept on the lead's timeline or the campaign's record:
 * trimmed, so a blank one is refused rather than recorded as nobody in particular.
 */
export const actorField = z.string().trim().min(1, 'must name who did it (a WeCom userid)').max(64).default('admin').describe('who did it (a WeCom userid), for the timeline or the record');
