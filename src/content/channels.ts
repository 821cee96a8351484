import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { TemplateError } from '../errors.js';
import { bytes } from '../text-bytes.js';
import { LONGEST_NAME, NAME_MAX_CHARS, PLACEHOLDERS, render, strayBraces, strayBracesMessage, unknownPlaceholders } from './render.js';
import { replySchema } from './replies.js';
import { linkDesc, linkTitle } from './sequences.js';
import { byteLimit, parseYaml } from './yaml-file.js';

/** Tag group a bare tag string in channels.yaml goes to. */
export const DEFAULT_TAG_GROUP = '渠道';
/** The channel of contacts with no or an unknown `State`. */
export const ORGANIC_KEY = 'organic';

const tagName = z.string().min(1).max(30, 'WeCom allows at most 30 characters');
const placeholderText = z.string().superRefine((text, ctx) => {
  const unknown = unknownPlaceholders(text);
  if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown placeholder(s) ${unknown.map((p) => `{{${p}}}`).join(', ')}; known: {{name}}, {{channel}}` });
  const stray = strayBraces(text);
  if (stray.length) ctx.addIssue({ code: 'custom', message: strayBracesMessage(stray, PLACEHOLDERS) });
});

const linkSchema = z
  .object({
    title: linkTitle,
    url: z.string().url(),
    desc: linkDesc.optional(),
    picurl: z.string().url().optional(),
  })
  .strict();

/** A welcome's text: at most 4000 bytes once filled [D:92137]. */
export const WELCOME_TEXT_BYTES = 4000;

const welcomeSchema = z
  .object({
    text: placeholderText
      .superRefine(byteLimit(WELCOME_TEXT_BYTES, '[D:92137]'))
      .optional(),
    link: linkSchema.optional(),
  })
  .strict()
  .refine((w) => w.text !== undefined || w.link !== undefined, 'a welcome needs text, link or both');

const channelSchema = z
  .object({
    key: z.string().regex(/^[A-Za-z0-9_-]{1,30}$/, 'must be 1-30 characters of A-Z a-z 0-9 _ - (it is the 联系我 state)'),
    name: z.string().min(1),
    tags: z
      .array(z.union([tagName, z.object({ group: tagName, name: tagName }).strict()]))
      .default([])
      .transform((tags) => tags.map((t) => (typeof t === 'string' ? { group: DEFAULT_TAG_GROUP, name: t } : t))),
    welcome: welcomeSchema.optional(),
    // A sequence key: loadTemplates checks there is one, and lists those there are when not.
    sequence: z.string().min(1).optional(),
    // A service sequence (`kind: service`) for this channel's leads when they become customers; default: the file's.
    serviceSequence: z.string().min(1).optional(),
    owners: z.array(z.string().min(1)).default([]),
    /** What the channel cost (its spend so far, in your currency): the dashboard shows the cost per lead. */
    cost: z.number().nonnegative().optional(),
    /**
     * The channel's 微信客服 link [D:94665]: `channels:sync` creates it with kf/add_contact_way on `account` (an open_kfid
     * or an account's name; default: the first account), with `scene` (default: the channel key); a customer who
     * enters through it is attributed to this channel, and gets `welcome` (text, menu) once, within 20 s [D:95122].
     */
    kf: z
      .object({
        account: z.string().min(1).optional(),
        scene: z.string().regex(/^[0-9a-zA-Z_-]{1,32}$/, 'must be 1-32 of 0-9 a-z A-Z _ - [D:94665]').optional(),
        // One text or menu by kf/send_msg_on_event [D:95122], with no case study (a welcome holds no case's fence).
        welcome: replySchema.refine((w) => !w.caseStudy, 'a 微信客服 welcome sends no case study: use text, link or menu').optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // WeCom counts the text as sent, placeholders filled: {{channel}} is this channel's name, {{name}} the customer's,
    // counted at its longest (a longer name is cut when sent, src/domain/welcome/send-welcome.ts).
    const text = c.welcome?.text;
    if (!text || bytes(text) > WELCOME_TEXT_BYTES) return;
    const filled = bytes(render(text, { name: LONGEST_NAME, channel: c.name }));
    if (filled <= WELCOME_TEXT_BYTES) return;
    ctx.addIssue({
      code: 'custom',
      path: ['welcome', 'text'],
      message: `filled in, with {{channel}} as "${c.name}" and {{name}} at its longest (${NAME_MAX_CHARS} characters, ${bytes(LONGEST_NAME)} bytes), the welcome is ${filled} bytes, over WeCom's 4000 [D:92137]: shorten it by ${filled - WELCOME_TEXT_BYTES} bytes`,
    });
  });

const fileSchema = z
  .object({
    // The service sequence of every channel that names none (the built-in organic one and those made by 渠道 new too).
    serviceSequence: z.string().min(1).optional(),
    channels: z.array(channelSchema),
  })
  .strict();

export type Channel = z.infer<typeof channelSchema>;
export type ChannelTag = Channel['tags'][number];

/** How long an unknown state waits before it makes the catalog look for new stored channels again. */
const RECHECK_MS = 10_000;

/**
 * Channels by key, always including the built-in `organic` channel: those of templates/channels.yaml, and those
 * created by a chat command (`渠道 new`), which live in MongoDB. Stored channels are loaded at start-up and again
 * whenever a contact arrives with a state this process does not know yet (`ensure`), so a channel created in one
 * process attributes its contacts in every process. A key in channels.yaml wins over a stored one.
 */
export class ChannelCatalog {
  private readonly byKey: Map<string, Channel>;
  private readonly fromTemplates: Set<string>;
  private loader: (() => Promise<Channel[]>) | null = null;
  private readonly checkedAt = new Map<string, number>();

  constructor(
    channels: Channel[],
    /** channels.yaml's `serviceSequence`: that of a channel naming none. */
    private readonly defaultServiceSequence?: string,
  ) {
    this.byKey = new Map(channels.map((c) => [c.key, c]));
    if (!this.byKey.has(ORGANIC_KEY)) {
      this.byKey.set(ORGANIC_KEY, { key: ORGANIC_KEY, name: '自然流量', tags: [], owners: [] });
    }
    this.fromTemplates = new Set(this.byKey.keys());
  }

  /** The channel a contact's `State` names; unknown or absent states are attributed to `organic`. */
  resolve(state: string | undefined | null): Channel {
    return (state && this.byKey.get(state)) || this.byKey.get(ORGANIC_KEY)!;
  }

  /**
   * The channel of a 微信客服 customer, from the link they entered by [D:94670]: the channel whose kf link has this
   * `scene`, else the one `scene_param` or `scene` names by key; otherwise organic.
   */
  resolveKf(scene: string | undefined | null, sceneParam?: string | null): Channel {
    const byScene = scene ? this.all().find((c) => c.kf && (c.kf.scene ?? c.key) === scene) : undefined;
    return byScene ?? (sceneParam ? this.byKey.get(sceneParam) : undefined) ?? (scene ? this.byKey.get(scene) : undefined) ?? this.byKey.get(ORGANIC_KEY)!;
  }

  /** The channel with exactly this key, if any. */
  get(key: string): Channel | undefined {
    return this.byKey.get(key);
  }

  /** The service sequence of a lead that came through this channel (its own, else channels.yaml's), if any. */
  serviceSequenceOf(key: string | null | undefined): string | undefined {
    return (key ? this.byKey.get(key)?.serviceSequence : undefined) ?? this.defaultServiceSequence;
  }

  /** channels.yaml's `serviceSequence`, if any. */
  get serviceSequence(): string | undefined {
    return this.defaultServiceSequence;
  }

  /** Every channel, organic included. */
  all(): Channel[] {
    return [...this.byKey.values()];
  }

  /** Whether a channel comes from templates/channels.yaml (else from a chat command). */
  isTemplate(key: string): boolean {
    return this.fromTemplates.has(key);
  }

  /** Adds channels created outside the templates (a key the templates have is kept as the templates say). */
  addStored(channels: readonly Channel[]): void {
    for (const c of channels) if (!this.fromTemplates.has(c.key)) this.byKey.set(c.key, c);
  }

  /** Where stored channels come from (set by the app: MongoDB). */
  useStore(loader: () => Promise<Channel[]>): void {
    this.loader = loader;
  }

  /** Loads the stored channels again. */
  async refresh(): Promise<void> {
    if (this.loader) this.addStored(await this.loader());
  }

  /**
   * Makes sure a state another process may just have created a channel for is known before it is resolved: an
   * unknown state reloads the stored channels (at most every few seconds per state). Known or empty states cost nothing.
   */
  async ensure(state: string | undefined | null, now = Date.now()): Promise<void> {
    if (!state || this.byKey.has(state) || !this.loader) return;
    if (now - (this.checkedAt.get(state) ?? -Infinity) < RECHECK_MS) return;
    this.checkedAt.set(state, now);
    await this.refresh();
  }
}

/** Parses channels.yaml text; every problem names the file, the channel and the field. */
export function parseChannels(text: string, file: string): ChannelCatalog {
  return accepted(checkChannels(text, file));
}

/** The catalog of a checked channels.yaml, or a TemplateError listing its problems. */
function accepted({ catalog, problems }: CheckedChannels): ChannelCatalog {
  if (problems.length || !catalog) throw new TemplateError(problems);
  return catalog;
}

/** channels.yaml as checked: its valid channels, every problem, and the keys written (valid or not). */
export interface CheckedChannels {
  /** The channels that passed their own checks (none: the file is not YAML). */
  catalog?: ChannelCatalog;
  problems: string[];
  /**
   * Every channel key the file names, a channel with problems included: what another file may refer to (a channel
   * that fails its own check is reported as such, not as missing). Null when the file is not YAML.
   */
  written: ReadonlySet<string> | null;
}

/**
 * Checks channels.yaml text without stopping at the first channel with a problem: every problem (file, channel,
 * field), and the channels that passed, so that the checks that build on them (their 微信客服 texts, what other files
 * refer to) still run and report theirs in the same go.
 */
export function checkChannels(text: string, file: string): CheckedChannels {
  const yaml = parseYaml(text, file);
  if (yaml.problems.length) return { problems: yaml.problems, written: null };
  const data: unknown = yaml.data ?? { channels: [] };
  const rawChannels = (data as { channels?: unknown } | null)?.channels;
  const raw: unknown[] = Array.isArray(rawChannels) ? rawChannels : [];
  const written = new Set(raw.map((c) => (c as { key?: unknown } | null)?.key).filter((k): k is string => typeof k === 'string'));
  const parsed = fileSchema.safeParse(data);
  const problems: string[] = [];
  let channels: Channel[];
  const fileService = (data as { serviceSequence?: unknown } | null)?.serviceSequence;
  const serviceSequence = typeof fileService === 'string' && fileService ? fileService : undefined;
  if (parsed.success) channels = parsed.data.channels;
  else {
    for (const issue of parsed.error.issues) {
      const [first, index, ...rest] = issue.path;
      if (first === 'channels' && typeof index === 'number') {
        const key = (raw[index] as { key?: unknown } | null)?.key;
        const label = `channel #${index + 1}${typeof key === 'string' ? ` (${key})` : ''}`;
        problems.push(`${file}: ${label}: ${rest.join('.') || '(channel)'}: ${issue.message}`);
      } else {
        problems.push(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
      }
    }
    // The channels that pass on their own go on to the checks that build on them.
    channels = raw.flatMap((c) => {
      const one = channelSchema.safeParse(c);
      return one.success ? [one.data] : [];
    });
  }
  const seen = new Set<string>();
  const scenes = new Set<string>();
  for (const c of channels) {
    if (seen.has(c.key)) problems.push(`${file}: channel ${c.key}: key: duplicate key (each state must be unique)`);
    seen.add(c.key);
    if (!c.kf) continue;
    const scene = c.kf.scene ?? c.key;
    if (scenes.has(scene)) problems.push(`${file}: channel ${c.key}: kf.scene: "${scene}" is another channel's kf scene`);
    scenes.add(scene);
  }
  return { catalog: new ChannelCatalog(channels, serviceSequence), problems, written };
}

/** Checks `<dir>/channels.yaml` (checkChannels); a missing file means only the organic channel. */
export async function checkChannelsFile(dir: string): Promise<CheckedChannels> {
  const file = path.join(dir, 'channels.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { catalog: new ChannelCatalog([]), problems: [], written: new Set() };
    throw err;
  }
  return checkChannels(text, file);
}

/** Loads `<dir>/channels.yaml`; a missing file means only the organic channel. */
export async function loadChannels(dir: string): Promise<ChannelCatalog> {
  return accepted(await checkChannelsFile(dir));
}
