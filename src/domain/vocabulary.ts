/**
 * The domain's words that every layer shares (templates validate against them, models store them). This module
 * imports nothing, so any layer may import it.
 */

/** Lead stages: the funnel, then the two ways out. */
export const STAGES = ['added', 'engaged', 'qualified', 'opportunity', 'customer', 'lost', 'unsubscribed'] as const;
export type Stage = (typeof STAGES)[number];

/** The funnel in order: reaching a later stage counts as reaching every earlier one. */
export const FUNNEL: readonly Stage[] = ['added', 'engaged', 'qualified', 'opportunity', 'customer'];

/**
 * How a message reaches a customer (the bot cannot message a customer freely): `welcome` (send_welcome_msg),
 * `kf` (the 微信客服 window), `mass` (add_msg_template, which the owner confirms) or `owner` (a reminder to the owner
 * to send it by hand).
 */
export const VIAS = ['welcome', 'kf', 'mass', 'owner'] as const;
export type Via = (typeof VIAS)[number];

/** Grades, best first: S and A get staff time first (the 80/20 rule, docs/ops-guide.md). */
export const GRADES = ['S', 'A', 'B', 'C'] as const;
export type Grade = (typeof GRADES)[number];

/** A lead's role at its company, from its role tag (templates/scoring.yaml). */
export const ROLES = ['decision-maker', 'manager', 'user'] as const;
export type Role = (typeof ROLES)[number];

/** The time zone of days, months and hours when nothing names one (OPS_TIMEZONE, NURTURE_TIMEZONE, SERVICE_TIMEZONE). */
export const DEFAULT_TIMEZONE = 'Asia/Shanghai';
