import { mkdirSync, realpathSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_SCORING } from '../../src/content/scoring.js';
import { freePort, withDatabase } from '../../src/dev/embedded-database.js';
import { calibrate } from '../../src/domain/scoring/calibrate.js';
import { roleOf, scoreLead } from '../../src/domain/scoring/score.js';
import { Lead } from '../../src/store/models/lead.js';
import { corpEnv } from '../fixtures/test-corp.js';
import { baseEnv, runCommand, startCommand } from '../helpers/run-command.js';
import { seedLeads } from '../helpers/seed-leads.js';
import { startSilentRedis } from '../helpers/silent-redis.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestBot, TEMPLATES_DIR, TEST_CORP, uniqueName, type TestBot } from '../helpers/test-bot.js';
import { timelineOf } from '../../src/store/timeline.js';
import { touchesOf } from '../../src/store/touch-log.js';

/** Every command ops staff and developers run: `npm start` and the scripts under src/cli/. */
const COMMANDS = {
  'npm start': 'src/app/main.ts',
  'npm run dev': 'src/cli/dev.ts',
  'npm run simulate:scan': 'src/cli/simulate-scan.ts',
  'npm run simulate:ops': 'src/cli/simulate-ops.ts',
  'npm run simulate:say': 'src/cli/simulate-say.ts',
  'npm run templates:check': 'src/cli/templates-check.ts',
  'npm run channels:sync': 'src/cli/channels-sync.ts',
  'npm run grades:calibrate': 'src/cli/grades-calibrate.ts',
};

/** No line of a stack trace. */
const STACK = /^\s+at\s/m;

describe('every command line', () => {
  // An empty working directory: answering --help or refusing an option must not create anything (e.g. .data/).
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-cli-'));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it.each(Object.entries(COMMANDS))('%s -- --help prints its usage and exits 0, starting nothing', async (name, entry) => {
    const r = await runCommand(entry, ['--help'], { env: baseEnv(), cwd });
    expect(r.stderr).toBe('');
    expect(r.stdout.startsWith(`Usage: ${name}`)).toBe(true);
    expect(r.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.each(Object.entries(COMMANDS))('%s refuses an unknown option in one line (exit 64)', async (name, entry) => {
    const r = await runCommand(entry, ['--bogus'], { env: baseEnv(), cwd });
    expect(r.code).toBe(64);
    expect(r.stderr.trim().split('\n')).toEqual([`${name}: Unknown option '--bogus' (see ${name} -- --help)`]);
    expect(r.stdout).toBe('');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('start-up errors are one clear message', () => {
  let busy: net.Server;
  let busyPort: number;
  beforeAll(async () => {
    busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    busyPort = (busy.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => busy.close(() => r())));

  it('npm start on a port in use: one line naming the port and PORT, exit 78, and it exits by itself', async () => {
    const name = uniqueName('cli_port');
    const env = corpEnv(
      { sandboxUrl: 'http://127.0.0.1:9', mongoUri: withDatabase(inject('mongoServerUri'), name), prefix: name, templatesDir: TEMPLATES_DIR, role: 'web' },
      { PORT: String(busyPort), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    );
    const started = Date.now();
    const r = await runCommand(COMMANDS['npm start'], [], { env: baseEnv(env) });
    expect(r.code, `stdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${busyPort}`);
    expect(lines[0]).toMatch(/set PORT to a free one, e\.g\. PORT=\d+/);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toContain('EADDRINUSE');
    // It exits by itself: the connections it had opened are closed again.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('npm start stopped after Redis died: exits 1 after SHUTDOWN_TIMEOUT_SECONDS, saying why; a second signal exits at once', async () => {
    for (const secondSignal of [false, true]) {
      // Redis answers until the bot has started, then dies: closing the workers waits on it for ever.
      const silent = await startSilentRedis(new URL(baseEnv().REDIS_URL ?? 'redis://127.0.0.1:6379'), { untilSilenced: true });
      try {
        const name = uniqueName('cli_stop');
        const env = corpEnv(
          { sandboxUrl: 'http://127.0.0.1:9', mongoUri: withDatabase(inject('mongoServerUri'), name), prefix: name, templatesDir: TEMPLATES_DIR, role: 'all' },
          { PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL: silent.url, SHUTDOWN_TIMEOUT_SECONDS: '3' },
        );
        const run = startCommand(COMMANDS['npm start'], [], { env: baseEnv(env) });
        try {
          await waitFor(() => run.stdout.includes('bot started'), 'npm start to start', 30_000, 50);
          await silent.die();
          await new Promise((r) => setTimeout(r, 300));
          const stoppedAt = Date.now();
          run.child.kill('SIGTERM');
          if (secondSignal) {
            await new Promise((r) => setTimeout(r, 300));
            run.child.kill('SIGINT');
          }
          const { code } = await run.exited;
          const took = Date.now() - stoppedAt;
          expect(code, run.stdout.slice(-2000)).toBe(1);
          if (secondSignal) {
            expect(took).toBeLessThan(2_500);
            expect(run.stdout).toContain('second signal: exiting without waiting for active jobs');
          } else {
            expect(took).toBeGreaterThanOrEqual(2_900);
            expect(took).toBeLessThan(10_000);
            expect(run.stdout).toContain('shutdown did not finish in time');
          }
          expect(run.stderr).not.toMatch(STACK);
        } finally {
          run.child.kill('SIGKILL');
        }
      } finally {
        await silent.close();
      }
    }
  });

  it('npm start on a port in use while Redis stops answering: still exit 78, the late connection error logged, not fatal', async () => {
    // Redis answers the connection's ready check and then nothing: the queues' connection check is still waiting
    // when start-up gives up on the port, and fails once the connection is cut, after the queues were closed.
    const silent = await startSilentRedis(new URL(baseEnv().REDIS_URL ?? 'redis://127.0.0.1:6379'));
    try {
      const name = uniqueName('cli_port_redis');
      const env = corpEnv(
        { sandboxUrl: 'http://127.0.0.1:9', mongoUri: withDatabase(inject('mongoServerUri'), name), prefix: name, templatesDir: TEMPLATES_DIR, role: 'web' },
        { PORT: String(busyPort), HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL: silent.url },
      );
      const r = await runCommand(COMMANDS['npm start'], [], { env: baseEnv(env) });
      expect(r.code, `stdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`).toBe(78);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`port ${busyPort}`);
      // The late failure is in the log once, at warn, however many queues it reached.
      const late = r.stdout.split('\n').filter((l) => l.includes('Connection is closed'));
      expect(late, r.stdout.slice(-2000)).toHaveLength(1);
      expect(JSON.parse(late[0]!)).toMatchObject({ level: 40 });
    } finally {
      await silent.close();
    }
  });

  it('a missing WECOM_AGENT_ID says it is required; a wrong one says what it must be', async () => {
    const env = { WECOM_CORP_ID: 'ww1', WECOM_TOKEN: 't', WECOM_ENCODING_AES_KEY: TEST_CORP.encodingAesKey, WECOM_SECRET: 's' };
    const missing = await runCommand(COMMANDS['npm start'], [], { env: baseEnv(env) });
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('WECOM_AGENT_ID: is required');
    expect(missing.stderr).not.toMatch(/nan/i);
    const wrong = await runCommand(COMMANDS['npm start'], [], { env: baseEnv({ ...env, WECOM_AGENT_ID: 'abc' }) });
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toContain('WECOM_AGENT_ID: must be the numeric AgentId');
  });

  it('channels:sync without the corp\'s settings lists them and says where they come from (.env, or dev\'s .data/dev.env)', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-nosettings-'));
    try {
      const r = await runCommand(COMMANDS['npm run channels:sync'], [], { env: baseEnv(), cwd });
      expect(r.code).toBe(78);
      expect(r.stderr).toContain('WECOM_CORP_ID: is required');
      expect(r.stderr).toContain(`Settings come from the environment and from a .env file (there is no ${realpathSync(cwd)}${path.sep}.env; .env.example lists every setting); against a running \`npm run dev\`, put DOTENV_CONFIG_PATH=.data/dev.env before the command, in the folder dev runs in.`);
      // A DOTENV_CONFIG_PATH that names no file is said to.
      const named = await runCommand(COMMANDS['npm run channels:sync'], [], { env: baseEnv({ DOTENV_CONFIG_PATH: '.data/dev.env' }), cwd });
      expect(named.stderr).toContain(`(DOTENV_CONFIG_PATH names ${realpathSync(cwd)}${path.sep}.data${path.sep}dev.env, which does not exist;`);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('templates:check on the shipped templates lists each channel\'s sequences, for new contacts and for customers', async () => {
    const r = await runCommand(COMMANDS['npm run templates:check'], [], { env: baseEnv({ TEMPLATES_DIR: 'templates' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok  channel expo2026 (2026 工业展) tags: 渠道/2026工业展, 行业/制造业; welcome: yes; sequence: onboarding; customers: customer-care');
    expect(r.stdout).toContain('ok  sequence customer-care (新客户服务): service (for customers), 3 steps');
    expect(r.stdout).toContain('templates are valid');
  });

  it('templates:check on a TEMPLATES_DIR that does not exist says so', async () => {
    const r = await runCommand(COMMANDS['npm run templates:check'], [], { env: baseEnv({ TEMPLATES_DIR: '/no/such/templates' }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/no/such/templates: no such folder');
  });
});

/** The admin token of the bots the simulate commands ask, as `npm run dev` gives its bot one. */
const DEV_TOKEN = 'dev-cli-admin-token-0123456789';

describe('simulate:scan', () => {
  let t: TestBot;
  let env: Record<string, string>;
  beforeAll(async () => {
    // A corp with three members, as `npm run dev` starts it, its callbacks going to the test bot.
    t = await startTestBot('cli_scan', { env: { ADMIN_TOKEN: DEV_TOKEN, WECOM_OPS_WEBHOOK_KEY: 'ops-webhook-cli' }, sandbox: { members: ['zhangsan', 'lisi', 'wangwu'], kfAccounts: [{ openKfid: 'wkCLI0001', name: '官方客服', servicers: ['lisi'] }] } });
    t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
    // What .data/dev.env gives a command while `npm run dev` runs: the sandbox, the bot's port and its admin token.
    env = baseEnv({ SANDBOX_PORT: new URL(t.sandbox.url).port, PORT: new URL(t.url).port, ADMIN_TOKEN: DEV_TOKEN, TEMPLATES_DIR });
  });
  afterAll(async () => t?.stop());

  const scan = (...args: string[]) => runCommand(COMMANDS['npm run simulate:scan'], args, { env });

  it('plays a scan of a known channel by a member: the welcome is shown, no warning', async () => {
    const r = await scan('expo2026', '--name', '李总', '--user', 'lisi');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/customer 李总 \(wm\w+\) scanned expo2026 → the bot answered the callback with HTTP 200/);
    expect(r.stdout).toContain('welcome sent: 李总您好，感谢在2026 工业展与我们交流！ (+1 attachment)');
    expect(r.code).toBe(0);
  });

  it('refuses a staff user who is not a member of the sandbox corp, listing the members', async () => {
    const before = t.sandbox.state.contacts.customers.size;
    const r = await scan('expo2026', '--user', 'bob');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('scan failed: "bob" is not a member of the sandbox corp (members: zhangsan, lisi, wangwu)');
    // Nothing happened in the corp: no customer, no callback.
    expect(t.sandbox.state.contacts.customers.size).toBe(before);
  });

  it('warns that an unknown channel key lands on organic, and does not wait for a welcome organic does not have', async () => {
    const started = Date.now();
    const r = await scan('expo2099', '--user', 'wangwu');
    expect(r.stderr.trim()).toBe('warning: the bot has no channel "expo2099" (channels.yaml: expo2026, notext, nurture, slowseq, kfad; created in chat: none); the bot will attribute this customer to "organic"');
    expect(r.stdout).toContain('scanned expo2099 → the bot answered the callback with HTTP 200');
    expect(r.stdout).toContain('channel organic has no welcome message: the bot sends none');
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('without the bot\'s admin API it checks channels.yaml only, and says that a key created in chat cannot be told from an unknown one', async () => {
    // No ADMIN_TOKEN, and run where no `npm run dev` kept one (.data/admin-token).
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-scan-'));
    try {
      const { ADMIN_TOKEN: _, ...noToken } = env;
      const r = await runCommand(COMMANDS['npm run simulate:scan'], ['expo2099', '--user', 'wangwu'], { env: noToken, cwd });
      expect(r.stderr.trim().split('\n')).toEqual([
        'warning: cannot ask the bot for the channels created in chat (no admin token: set ADMIN_TOKEN, or start the bot with `npm run dev`, which keeps one in .data/admin-token); only ' + `${TEMPLATES_DIR}/channels.yaml is checked`,
        `warning: no channel "expo2099" in ${TEMPLATES_DIR}/channels.yaml (channels: expo2026, notext, nurture, slowseq, kfad); unless it was created in chat, the bot will attribute this customer to "organic"`,
      ]);
      expect(r.stdout).toContain('channel organic has no welcome message: the bot sends none');
      expect(r.code).toBe(0);
      // A wrong token is refused by the bot, and said so.
      const wrong = await runCommand(COMMANDS['npm run simulate:scan'], ['expo2099', '--user', 'wangwu'], { env: { ...env, ADMIN_TOKEN: 'not-the-token-of-this-bot' }, cwd });
      expect(wrong.stderr).toContain(`warning: cannot ask the bot for the channels created in chat (the bot at http://127.0.0.1:${env.PORT} refused the admin token)`);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('reads .data/dev.env of a running `npm run dev` by itself (any ports), and an explicit DOTENV_CONFIG_PATH wins over it', async () => {
    // Run where `npm run dev` runs, with nothing in the environment: only its .data/dev.env says where the sandbox is.
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-devenv-'));
    try {
      mkdirSync(path.join(cwd, '.data'));
      writeFileSync(
        path.join(cwd, '.data', 'dev.env'),
        `SANDBOX_PORT=${env.SANDBOX_PORT}\nPORT=${env.PORT}\nADMIN_TOKEN=${DEV_TOKEN}\nTEMPLATES_DIR=${TEMPLATES_DIR}\n`,
      );
      const r = await runCommand(COMMANDS['npm run simulate:scan'], ['expo2026', '--user', 'lisi'], { env: baseEnv(), cwd });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('welcome sent: 王经理您好，感谢在2026 工业展与我们交流！ (+1 attachment)');
      expect(r.code).toBe(0);
      writeFileSync(path.join(cwd, 'other.env'), 'SANDBOX_PORT=9\n');
      const other = await runCommand(COMMANDS['npm run simulate:say'], ['刘女士', '你好'], { env: baseEnv({ DOTENV_CONFIG_PATH: 'other.env' }), cwd });
      expect(other.stderr.trim()).toBe('No sandbox WeCom at http://127.0.0.1:9: start the bot with `npm run dev` first.');
      expect(other.code).toBe(1);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('simulate:say plays a customer writing to the 微信客服 account and shows the conversation and what the bot did', async () => {
    const say = (...args: string[]) => runCommand(COMMANDS['npm run simulate:say'], args, { env });
    const before = Date.now();
    const r = await say('刘女士', '你好，请问报价多少？', '--scene', 'kfad', '--wait', '8');
    expect(r.stderr).toBe('');
    // Times in the service hours' zone (Asia/Shanghai by default), whatever the machine's own.
    const shanghai = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
    const shown = /conversation:\n\s+(\d{2}:\d{2}):\d{2}\s+刘女士/.exec(r.stdout)?.[1];
    expect([shanghai(before), shanghai(Date.now())]).toContain(shown);
    expect(r.stdout).toMatch(/^刘女士 \(wm\w+\) → 客服 wkCLI0001: 你好，请问报价多少？ {3}\(the bot answered the callback with HTTP 200\)/);
    expect(r.stdout).toMatch(/conversation:\n.*刘女士\s+你好，请问报价多少？/);
    expect(r.stdout).toMatch(/bot\s+您好，欢迎咨询！/);
    expect(r.stdout).toContain('报价');
    const did = r.stdout.slice(r.stdout.indexOf('what the bot did:'));
    expect(did).toContain('welcome (msgmenu)');
    // The kfad channel's owner and the ops group are told of the pricing question, in full, in the staff's words.
    expect(did).toContain('told lisi (app message): 【客户意向】客户「刘女士」在微信客服中问：“你好，请问报价多少？”（询价，A 级，渠道「客服广告」）。请尽快跟进。\n');
    expect(did).toContain('told the ops group: **客户意向**\n    客户「刘女士」在微信客服中问：“你好，请问报价多少？”（询价，A 级，渠道「客服广告」）\n');
    // The news of the lead's rise comes a moment after the message's own effects: watched for, and shown whole.
    expect(did).toMatch(/told the ops group: \*\*新的 A 级线索\*\*\n {4}\*\*刘女士\*\* 升为 \*\*A\*\* 级（得分 \d+）· 渠道 客服广告 · 负责人 无 · 主要加分：.+、.+\n/);
    expect(did).toContain('replied (text)');
    // The pricing question qualifies the lead.
    expect(did).toContain('moved the lead: stage engaged → qualified (合格)');
    expect(r.code).toBe(0);
    // An opt-out is said, with the stage it moved the lead to, besides the confirmation the bot sent.
    const td = await say('刘女士', 'TD', '--wait', '8');
    const tdDid = td.stdout.slice(td.stdout.indexOf('what the bot did:'));
    expect(tdDid).toContain('replied (text)');
    expect(tdDid).toMatch(/ {2}the customer opted out: stage \w+ → unsubscribed \(退订\)\n/);
    expect(td.code).toBe(0);
    // A person asked for: the session handed to a servicer on duty, said in words.
    const human = await say('刘女士', '转人工', '--wait', '8');
    expect(human.stdout).toContain('  handed the session to a person (lisi)\n');
    // A scene no channel's 客服 link has is warned about, as the bot would attribute the customer: organic.
    const lost = await say('赵先生', '你好', '--scene', 'nosuch', '--wait', '3');
    expect(lost.stderr.trim()).toBe('warning: no channel of the bot has the 客服 scene "nosuch" (scenes: kfad (kfad)); a new customer entering by it is attributed to "organic"');
    expect(lost.code).toBe(0);
    // WeCom sends no empty message, so the sandbox's customer does not either.
    const empty = await say('钱先生', '  ');
    expect(empty.stderr.trim()).toBe('say failed: a customer cannot send an empty message: give the text they write');
    expect(empty.code).toBe(1);
    const usage = await say('刘女士');
    expect(usage.code).toBe(64);
    expect(usage.stderr.trim()).toBe('npm run simulate:say: give a customer and a text (got 1 argument) (see npm run simulate:say -- --help)');
  });

  it('grades:calibrate prints the thresholds that put at most the top 20 % of active leads in S and A, changing nothing', async () => {
    // A spread of leads: industry, company and channel give each a different fit.
    const now = new Date();
    const rows = Array.from({ length: 20 }, (_, i) => ({
      _id: `${TEST_CORP.corpId}:wm_cal_${i}`, corpId: TEST_CORP.corpId, externalUserId: `wm_cal_${i}`, stage: i === 19 ? 'lost' : 'added',
      industry: i % 2 ? '制造业' : null, corpName: i % 3 ? '甲厂' : null, firstTouch: { channelKey: 'expo2026', userId: 'lisi', at: now },
      // Stored as leads were before the touch log: read all the same.
      touches: Array.from({ length: i % 5 }, () => ({ kind: 'click', at: now })), tags: i % 4 ? [{ group: '角色', name: '决策者' }] : [],
    }));
    await Lead.collection.insertMany(rows as never[]);
    const active = (await Lead.find({ stage: { $nin: ['lost', 'unsubscribed'] } }).lean()).map((l) => scoreLead({ ...l, role: roleOf(l.tags ?? [], DEFAULT_SCORING), touches: touchesOf(l) }, DEFAULT_SCORING, Date.now()).score);
    const expected = calibrate(active);
    const r = await runCommand(COMMANDS['npm run grades:calibrate'], [], { env: t.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${active.length} active leads`);
    expect(r.stdout).toContain(`grades: { S: ${expected.thresholds.S}, A: ${expected.thresholds.A}, B: ${expected.thresholds.B} }`);
    expect(expected.counts.S + expected.counts.A).toBeLessThanOrEqual(active.length * 0.2);
  });

  it('grades:calibrate keeps S and A within 20 % when many leads tie at the cut, and says where it left them out', async () => {
    // 400 more active leads: 20 decision-makers in 制造业, 100 managers who all score the same, 280 with neither. The
    // 20 % cut falls among the managers: counting them all would put over a quarter of the leads in S and A.
    await seedLeads(t.sandbox, [
      ...Array.from({ length: 20 }, (_, i) => ({ name: `决策${i}`, industry: '制造业', tags: ['角色/决策者'] })),
      ...Array.from({ length: 100 }, (_, i) => ({ name: `经理${i}`, tags: ['角色/管理者'] })),
      ...Array.from({ length: 280 }, (_, i) => ({ name: `客户${i}` })),
    ]);
    const now = Date.now();
    const active = (await Lead.find({ stage: { $nin: ['lost', 'unsubscribed'] } }).lean()).map((l) => scoreLead({ ...l, role: roleOf(l.tags ?? [], DEFAULT_SCORING), touches: touchesOf(l) }, DEFAULT_SCORING, now).score);
    const manager = scoreLead({ role: 'manager', firstTouch: { channelKey: 'expo2026' } }, DEFAULT_SCORING, now).score;
    const tied = active.filter((s) => s === manager).length;
    const above = active.filter((s) => s > manager).length;
    // The tie does straddle the cut: the leads above it fit in 20 %, with it they do not.
    expect(above).toBeLessThanOrEqual(active.length * 0.2);
    expect(above + tied).toBeGreaterThan(active.length * 0.25);

    const r = await runCommand(COMMANDS['npm run grades:calibrate'], [], { env: t.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /grades: \{ S: (-?\d+), A: (-?\d+), B: (-?\d+) \}/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const A = Number(m![2]);
    const inSA = active.filter((s) => s >= A).length;
    expect(inSA, r.stdout).toBeLessThanOrEqual(active.length * 0.2);
    expect(A).toBeGreaterThan(manager);
    expect(r.stdout).toContain(`${tied} leads share the score ${manager} where S+A ends: with them S+A would have ${above + tied} leads`);
    expect(r.stdout).toContain(`more than 20 %, so the cut is above them and S+A gets ${inSA} (`);
  });

  it('the sandbox control API answers 400 for a scan by a non-member', async () => {
    const res = await fetch(`${t.sandbox.url}/sandbox/scan`, { method: 'POST', body: JSON.stringify({ state: 'expo2026', userId: 'nobody', name: '甲' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: '"nobody" is not a member of the sandbox corp (members: zhangsan, lisi, wangwu)' });
  });
});

/**
 * The ops guide's example (docs/ops-guide.md, "Running the bot from the ops group"): ops create a channel in chat, and a
 * customer scans its code in the dev sandbox. The shipped templates, whose organic channel has a welcome.
 */
describe('simulate:scan of a channel created in chat', () => {
  const ROBOT = { token: 'robotscan', encodingAesKey: 'SCANrobotKey0123456789abcdefghijklmnopqrstu' };
  let t: TestBot;
  let env: Record<string, string>;
  let cwd: string;
  beforeAll(async () => {
    t = await startTestBot('cli_scan_chat', {
      env: { TEMPLATES_DIR: path.resolve('templates'), ADMIN_TOKEN: DEV_TOKEN, WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan' },
      sandbox: { members: ['zhangsan', 'lisi', 'wangwu'] },
    });
    t.sandbox.state.callback = { url: `${t.url}/wecom/callback`, token: TEST_CORP.token, encodingAesKey: TEST_CORP.encodingAesKey };
    t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
    // Run as a newcomer runs it, from a working directory where `npm run dev` kept its token: no ADMIN_TOKEN given.
    cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-scan-chat-'));
    mkdirSync(path.join(cwd, '.data'));
    writeFileSync(path.join(cwd, '.data', 'admin-token'), `${DEV_TOKEN}\n`, { mode: 0o600 });
    env = baseEnv({ SANDBOX_PORT: new URL(t.sandbox.url).port, PORT: new URL(t.url).port, TEMPLATES_DIR: path.resolve('templates') });
    const created = await runCommand(COMMANDS['npm run simulate:ops'], ['渠道 new salon11 "11 月沙龙" zhangsan lisi'], { env, cwd });
    expect(created.stdout).toContain('已新建渠道 **11 月沙龙**（`salon11`）');
  });
  afterAll(async () => {
    rmSync(cwd, { recursive: true, force: true });
    await t?.stop();
  });

  const scan = (...args: string[]) => runCommand(COMMANDS['npm run simulate:scan'], args, { env, cwd });

  it('is the bot\'s channel: no warning, and the tool stops as soon as the bot records that the channel has no welcome', async () => {
    const started = Date.now();
    const r = await scan('salon11', '--name', '郑总');
    const took = Date.now() - started;
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^customer 郑总 \((wm\w+)\) scanned salon11 → the bot answered the callback with HTTP 200\nchannel salon11 has no welcome message: the bot sends none\n$/);
    expect(r.code).toBe(0);
    // Not the 20 s a welcome could take.
    expect(took).toBeLessThan(10_000);
    // As the bot has it: attributed to salon11, and the timeline says why no welcome went.
    const externalUserId = /\((wm\w+)\)/.exec(r.stdout)![1]!;
    const lead = await Lead.findById(`${TEST_CORP.corpId}:${externalUserId}`).lean();
    expect(lead?.firstTouch?.channelKey).toBe('salon11');
    expect(await timelineOf(TEST_CORP.corpId, externalUserId)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'welcome_skipped', detail: { reason: 'channel_has_no_welcome', channel: 'salon11' } })]));
  });

  it('warns of a key the bot does not know, naming the channels of channels.yaml and those created in chat', async () => {
    const r = await scan('salon12', '--name', '钱总');
    expect(r.stderr.trim()).toBe('warning: the bot has no channel "salon12" (channels.yaml: expo2026, gzh-article; created in chat: salon11); the bot will attribute this customer to "organic"');
    // Organic, whose welcome the bot sends.
    expect(r.stdout).toContain('welcome sent: 钱总您好，很高兴认识您！');
    expect(r.code).toBe(0);
  });
});

describe('simulate:ops', () => {
  const ROBOT = { token: 'robotcli', encodingAesKey: 'CLIrobotKey0123456789abcdefghijklmnopqrstuv' };
  let t: TestBot;
  let env: Record<string, string>;
  beforeAll(async () => {
    // The robot configured as `npm run dev` configures it: zhangsan an ops admin.
    t = await startTestBot('cli_ops', { env: { WECOM_ROBOT_TOKEN: ROBOT.token, WECOM_ROBOT_ENCODING_AES_KEY: ROBOT.encodingAesKey, OPS_ADMINS: 'zhangsan' }, sandbox: { members: ['zhangsan', 'lisi', 'wangwu'] } });
    t.sandbox.state.robot.target = { url: `${t.url}/wecom/robot`, ...ROBOT };
    env = baseEnv({ SANDBOX_PORT: new URL(t.sandbox.url).port });
  });
  afterAll(async () => t?.stop());

  const ops = (...args: string[]) => runCommand(COMMANDS['npm run simulate:ops'], args, { env });

  it('prints the bot\'s answer to a command written to the robot in the ops group', async () => {
    const r = await ops('统计', '7d');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\*\*渠道漏斗 \d{4}-\d{2}-\d{2} ~ \d{4}-\d{2}-\d{2}\*\*（按添加日期）\n这段时间没有新增线索。\n$/);
  });

  it('for a slow command, prints "working on it" and then the answer sent through response_url', async () => {
    const r = await ops('report');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^⏳ Working on "report"; the answer will follow here\.\n\n\*\*Ops daily report · \d{4}-\d{2}-\d{2}\*\*/);
  });

  it('shows a refusal for someone who may not run commands, and wants something to send', async () => {
    expect((await ops('help', '--user', 'wangwu')).stdout.trim()).toBe('Sorry, wangwu may not run ops commands, so nothing was done. Ask an ops admin if you need access.');
    const none = await ops();
    expect(none.code).toBe(64);
    expect(none.stderr.trim()).toBe('npm run simulate:ops: say what to send, e.g. npm run simulate:ops -- "统计 7d" (see npm run simulate:ops -- --help)');
  });
});
