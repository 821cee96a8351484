import type Router from '@koa/router';
import type { BotContext } from '../context.js';
import { readTrackedToken, type TrackedLink } from '../domain/delivery/tracked-links.js';
import { recordGroupClick } from '../domain/campaigns/group-click.js';
import { recordClick } from '../domain/leads/record-click.js';
import { Link } from '../store/models/link.js';

/**
 * GET /r/<token>: 302 to the link's real URL, recording the click as a touch on the lead (a click makes an `added`
 * lead `engaged`), or on the campaign group for a link many customers got in one message. The token is signed (src/domain/delivery/tracked-links.ts); links from before signed tokens are
 * looked up by id. Anything else gets 404; a failure to record never blocks the redirect.
 */
export function mountRedirectRoute(router: Router, ctx: BotContext): void {
  router.get('/r/:token', async (c) => {
    const token = c.params.token ?? '';
    const link = readTrackedToken(ctx.linkSecret, token) ?? (await legacyLink(token));
    if (!link) {
      c.status = 404;
      c.body = 'unknown link';
      return;
    }
    c.redirect(link.url);
    // Recorded after answering: the lead lock may be held by a step talking to WeCom; the customer must not wait. A
    // link shared by many customers (a campaign's group message) counts for its group: who clicked is not known.
    const recorded = link.lead ? recordClick(ctx, { ...link, lead: link.lead }) : recordGroupClick(link.deliveryKey);
    void recorded.catch((err: Error) => c.log.warn({ err: err.message }, 'click not recorded'));
  });
}

async function legacyLink(token: string): Promise<TrackedLink | null> {
  if (!/^[A-Za-z0-9_-]{6,32}$/.test(token)) return null;
  const l = await Link.findById(token).lean();
  return l ? { url: l.url, lead: { corpId: l.corpId, externalUserId: l.externalUserId }, deliveryKey: l.deliveryKey } : null;
}
