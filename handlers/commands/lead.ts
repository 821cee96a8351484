import { z } from 'zod';
import { defineCommand } from '../../src/domain/commands/command.js';
import { findLead } from '../../src/domain/commands/find-lead.js';
import { leadCard } from '../../src/domain/commands/lead-card.js';

/** `线索` / `lead <name | company | external id>`: one lead's profile, stage, grade and why, owners, touches, enrollments. */
export const lead = defineCommand({
  name: 'lead',
  aliases: { zh: ['线索', '客户'], en: ['who'] },
  params: ['...query'],
  args: z.object({ query: z.string().trim().min(1).max(100) }),
  permission: 'read',
  usage: { zh: '<姓名|公司|外部联系人ID>', en: '<name | company | external id>' },
  help: { zh: '一条线索的资料、阶段、等级和原因、负责人、最近动态、培育', en: 'a lead: profile, stage, grade and why, owners, last touches, enrollments' },
  run: async (a, c) => leadCard(c, (await findLead(c, a.query)).id),
});
