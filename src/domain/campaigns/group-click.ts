import { CampaignGroup } from '../../store/models/campaign-group.js';

/**
 * A customer opened a link of a campaign message that went to many customers at once (one mass message, one content
 * for all): the click counts for that group and its run. Who clicked is not known, so no lead is touched.
 */
export async function recordGroupClick(groupKey: string, at = new Date()): Promise<void> {
  await CampaignGroup.updateOne({ _id: groupKey }, { $inc: { clicks: 1 }, $set: { lastClickAt: at } });
}
