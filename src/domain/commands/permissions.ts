import type { Config } from '../../config.js';
import type { Level } from './command.js';

/** What a caller is: an admin (OPS_ADMINS), an ops user (OPS_USERIDS), or nobody the bot takes commands from. */
export type Role = 'admin' | 'user';

/** The role of a userid (userids compare case-insensitively: WeCom returns them lower-cased). */
export function roleOf(config: Pick<Config, 'OPS_ADMINS' | 'OPS_USERIDS'>, userId: string): Role | null {
  const id = userId.toLowerCase();
  if (config.OPS_ADMINS.includes(id)) return 'admin';
  if (config.OPS_USERIDS.includes(id)) return 'user';
  return null;
}

/** Whether a role may run a command of `level`: admins everything; ops users read commands and lead-level actions. */
export function allows(role: Role, level: Level): boolean {
  return role === 'admin' || level !== 'admin';
}
