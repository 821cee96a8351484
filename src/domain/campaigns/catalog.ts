import type { BotContext } from '../../context.js';
import { checkCampaignRefs, parseCampaign, type Campaign, type CampaignInput } from '../../content/campaigns.js';
import { campaignKfProblem } from '../../content/kf-text-check.js';
import { TemplateError } from '../../errors.js';
import { createOnce } from '../../store/create-once.js';
import { CampaignRecord, type CampaignFields } from '../../store/models/campaign.js';
import { Pause } from '../../store/models/pause.js';
import { CampaignError } from './campaign-error.js';

/** A stored campaign, its definition parsed. */
export type StoredCampaign = Omit<CampaignFields, 'definition'> & { _id: string; definition: CampaignInput; campaign: Campaign; paused: boolean };

/** Parses a stored definition (it was valid when stored; a later rule change shows here as an error). */
export function parsedDefinition(input: unknown): Campaign {
  const { value, problems } = parseCampaign(input);
  if (!value) throw new Error(`stored campaign definition is no longer valid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return value;
}

/** One stored campaign by key, or null. */
export async function campaignOf(key: string): Promise<StoredCampaign | null> {
  const [doc, paused] = await Promise.all([CampaignRecord.findById(key).lean(), Pause.exists({ _id: `campaign:${key}` })]);
  if (!doc) return null;
  return { ...(doc as unknown as StoredCampaign), campaign: parsedDefinition(doc.definition), paused: Boolean(paused) };
}

/** Every stored campaign, by key. */
export async function listCampaigns(): Promise<StoredCampaign[]> {
  const [docs, paused] = await Promise.all([CampaignRecord.find({}).sort({ _id: 1 }).lean(), Pause.find({ kind: 'campaign' }, { target: 1 }).lean()]);
  const pausedKeys = new Set(paused.map((p) => p.target));
  return docs.map((d) => ({ ...(d as unknown as StoredCampaign), campaign: parsedDefinition(d.definition), paused: pausedKeys.has(String(d._id)) }));
}

/**
 * Loads the campaigns of templates/campaigns/ into the store, keyed: a new file is added, a changed one replaces the
 * stored definition (runs already created keep the one they started with), a deleted one is marked removed (one
 * cancelled stays cancelled, whatever its file becomes). A file
 * whose key belongs to a campaign created through the admin API is an error: keys are unique across both. Returns
 * the keys that changed.
 */
export async function syncFileCampaigns(ctx: Pick<BotContext, 'campaigns'>): Promise<string[]> {
  const changed: string[] = [];
  const clashes: string[] = [];
  for (const [key, f] of ctx.campaigns) {
    const created = await createOnce(CampaignRecord, { _id: key, name: f.campaign.name, source: 'file', definition: f.input, createdBy: 'file' });
    if (created) {
      changed.push(key);
      continue;
    }
    const doc = await CampaignRecord.findById(key).lean();
    if (!doc) continue;
    if (doc.source !== 'file') {
      clashes.push(`${f.file}: key: "${key}" is already the key of a campaign created through the admin API; rename one of them`);
      continue;
    }
    if (JSON.stringify(doc.definition) !== JSON.stringify(f.input) || doc.status === 'removed') {
      await CampaignRecord.updateOne({ _id: key }, { $set: { definition: f.input, name: f.campaign.name, ...(doc.status === 'removed' ? { status: 'active' } : {}) } });
      changed.push(key);
    }
  }
  if (clashes.length) throw new TemplateError(clashes);
  // A cancelled campaign keeps its status: marked removed, a file added again under its key would make it active
  // (docs/ops-guide.md: a cancelled campaign stays cancelled).
  for (const doc of await CampaignRecord.find({ source: 'file', status: { $nin: ['removed', 'cancelled'] } }, { _id: 1 }).lean()) {
    if (ctx.campaigns.has(String(doc._id))) continue;
    await CampaignRecord.updateOne({ _id: doc._id }, { $set: { status: 'removed' } });
    changed.push(String(doc._id));
  }
  return changed;
}

/**
 * Validates a campaign posted through the admin API (or the chat command): its fields, what it names (sequences,
 * channels, cases), a one-off time in the future, and a key no file or stored campaign uses. Returns it parsed.
 */
export function validateNewCampaign(ctx: Pick<BotContext, 'sequences' | 'channels' | 'cases' | 'campaigns' | 'publicBaseUrl'>, input: unknown, now = Date.now()): Campaign {
  const { value, problems } = parseCampaign(input);
  if (!value) throw new CampaignError('invalid', 'invalid campaign', problems);
  const refs = checkCampaignRefs(value, ctx);
  // As a campaign file is checked: a text that would be cut on the 微信客服 route [D:94677].
  const kf = campaignKfProblem(value, ctx, ctx.publicBaseUrl);
  if (kf) refs.push(kf);
  if (value.schedule.at && Date.parse(value.schedule.at) <= now) refs.push({ path: 'schedule.at', message: 'must be in the future (use launch to run it now)' });
  if (refs.length) throw new CampaignError('invalid', 'invalid campaign', refs);
  if (ctx.campaigns.has(value.key)) throw new CampaignError('conflict', `campaign key "${value.key}" is defined in templates/campaigns/${value.key}.yaml`);
  return value;
}

/** Stores a campaign created through the admin API; a key already stored (from a file or the API) is a conflict. */
export async function createCampaign(ctx: Pick<BotContext, 'sequences' | 'channels' | 'cases' | 'campaigns' | 'publicBaseUrl'>, input: CampaignInput, actor: string): Promise<Campaign> {
  const campaign = validateNewCampaign(ctx, input);
  const created = await createOnce(CampaignRecord, { _id: campaign.key, name: campaign.name, source: 'api', definition: input, createdBy: actor });
  if (!created) throw new CampaignError('conflict', `campaign key "${campaign.key}" is taken`);
  return campaign;
}
