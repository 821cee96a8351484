import type Router from '@koa/router';
import type { LeadStore } from '../store/lead-repository.js';
import { Link } from '../store/models/link.js';
import { recordStep } from '../store/models/timeline.js';

/**
 * GET /r/<token>: 302 to the link's real URL, recording the click as a touch on the lead (a click makes an `added`
 * lead `engaged`). Unknown tokens get 404; a failure to record never blocks the redirect.
 */
export function mountRedirectRoute(router: Router, leads: LeadStore): void {
  router.get('/r/:token', async (ctx) => {
    const token = ctx.params.token ?? '';
    const link = /^[A-Za-z0-9_-]{6,32}$/.test(token) ? await Link.findById(token).lean() : null;
    if (!link) {
      ctx.status = 404;
      ctx.body = 'unknown link';
      return;
    }
    ctx.redirect(link.url);
    // Recorded after answering: the lead lock may be held by a step talking to WeCom, the customer must not wait.
    const at = new Date();
    const eventKey = `click|${token}|${at.getTime()}`;
    const log = ctx.log;
    void (async () => {
      await Link.updateOne({ _id: link._id }, { $inc: { clicks: 1 }, $set: { lastClickAt: at } });
      await leads.mutate(link.corpId, link.externalUserId, null, (lead) => {
        lead.touches.push({ eventKey, kind: 'click', channelKey: lead.firstTouch?.channelKey, userId: null, at });
        if (lead.stage === 'added') lead.stage = 'engaged';
      });
      await recordStep(link, eventKey, 'link_clicked', { url: link.url, delivery: link.deliveryKey }, at);
    })().catch((err: Error) => log.warn({ err: err.message, token }, 'click not recorded'));
  });
}
