import 'dotenv/config';
import mongoose from 'mongoose';
import { loadConfig } from '../config.js';
import { loadTemplates } from '../content/index.js';
import { calibrate, currentCounts } from '../domain/scoring/calibrate.js';
import { roleOf, scoreLead } from '../domain/scoring/score.js';
import { connectMongo } from '../store/connect.js';
import { Lead } from '../store/models/lead.js';
import { touchesOf } from '../store/touch-log.js';
import { readCommandLine } from './command-line.js';
import { exitOnStartupError, settingsHint } from './exit-on-startup-error.js';

const USAGE = `
Usage: npm run grades:calibrate [-- --share-s 0.05 --share-a 0.2 --share-b 0.5]

Scores every active lead (not lost, not unsubscribed) as of now and prints the grade thresholds that would put at
most the top shares in S, S+A and S+A+B (by default 5 %, 20 % and 50 %: the 80/20 rule), next to what the thresholds
in templates/scoring.yaml give today. Leads with the same score get the same grade: where the leads tied at a cut
would take a grade over its share, the cut goes above them, and the output says so. Changes nothing: copy the
numbers into scoring.yaml's grades to use them.
`;

const { values } = readCommandLine('npm run grades:calibrate', USAGE, {
  'share-s': { type: 'string', default: '0.05' },
  'share-a': { type: 'string', default: '0.2' },
  'share-b': { type: 'string', default: '0.5' },
});
const shares = { S: Number(values['share-s']), A: Number(values['share-a']), B: Number(values['share-b']) };
if (!(shares.S > 0 && shares.S < shares.A && shares.A < shares.B && shares.B <= 1)) {
  console.error('npm run grades:calibrate: shares must rise: 0 < S < A < B ≤ 1');
  process.exit(64);
}

let config;
let templates;
try {
  config = loadConfig();
  templates = await loadTemplates(config.TEMPLATES_DIR);
} catch (err) {
  exitOnStartupError(err, settingsHint(err));
}
await connectMongo(config.MONGODB_URI);
try {
  const now = Date.now();
  const scores: number[] = [];
  const fields = { industry: 1, corpName: 1, firstTouch: 1, touchLog: 1, touches: 1, reached: 1, tags: 1, stage: 1 };
  for await (const l of Lead.find({ stage: { $nin: ['lost', 'unsubscribed'] } }, fields).lean().cursor({ batchSize: 2000 })) {
    scores.push(scoreLead({ ...l, role: roleOf(l.tags ?? [], templates.scoring), touches: touchesOf(l) }, templates.scoring, now).score);
    if (scores.length % 20_000 === 0) process.stderr.write(`  scored ${scores.length} leads…\n`);
  }
  const c = calibrate(scores, shares);
  const today = currentCounts(scores, templates.scoring);
  const pct = (n: number) => (scores.length ? `${((n / scores.length) * 100).toFixed(1)} %` : '-');
  const g = templates.scoring.grades;
  console.log(`${scores.length} active leads, scored as of ${new Date(now).toISOString()}\n`);
  console.log('grade   now: threshold  leads            calibrated: threshold  leads');
  for (const grade of ['S', 'A', 'B', 'C'] as const) {
    const nowT = grade === 'C' ? '<' + g.B : String(g[grade]);
    const calT = grade === 'C' ? '<' + c.thresholds.B : String(c.thresholds[grade]);
    console.log(`${grade}       ${nowT.padStart(14)}  ${`${today[grade]} (${pct(today[grade])})`.padEnd(16)} ${calT.padStart(22)}  ${c.counts[grade]} (${pct(c.counts[grade])})`);
  }
  const inGrades = { S: c.counts.S, 'S+A': c.counts.S + c.counts.A, 'S+A+B': c.counts.S + c.counts.A + c.counts.B };
  for (const t of c.ties) {
    const share = `${+(t.share * 100).toFixed(2)} %`;
    console.log(
      `\n${t.tied} leads share the score ${t.score} where ${t.grades} ends: with them ${t.grades} would have ${t.withTied} leads ` +
        `(${pct(t.withTied)}), more than ${share}, so the cut is above them and ${t.grades} gets ${inGrades[t.grades]} (${pct(inGrades[t.grades])}).`,
    );
  }
  console.log(`\nTo use the calibrated thresholds, set in ${config.TEMPLATES_DIR}/scoring.yaml:\n  grades: { S: ${c.thresholds.S}, A: ${c.thresholds.A}, B: ${c.thresholds.B} }`);
} finally {
  await mongoose.disconnect();
}
