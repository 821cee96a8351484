import { CommandRegistry } from '../../src/domain/commands/registry.js';
import { campaign } from './campaign.js';
import { channel } from './channel.js';
import { grade } from './grade.js';
import { help } from './help.js';
import { lead } from './lead.js';
import { pause } from './pause.js';
import { report } from './report.js';
import { resume } from './resume.js';
import { stage } from './stage.js';
import { stats } from './stats.js';
import { tag } from './tag.js';

/**
 * Every chat command, in the order help lists them. A new command is one file next to these and one line here; a
 * duplicate name or alias fails here, at start-up.
 */
export function createCommandRegistry(): CommandRegistry {
  return new CommandRegistry().add(help).add(stats).add(lead).add(stage).add(grade).add(tag).add(pause).add(resume).add(channel).add(campaign).add(report);
}
