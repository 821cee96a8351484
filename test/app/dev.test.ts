import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/dev/embedded-database.js';
import { baseEnv, runCommand, startCommand, type RunningCommand } from '../helpers/run-command.js';
import { startSilentRedis } from '../helpers/silent-redis.js';
import { deleteKeys, TEMPLATES_DIR, uniqueName } from '../helpers/test-bot.js';
import { waitFor } from '../helpers/wait-for.js';

const DEV = 'src/cli/dev.ts';
const BANNER_END = 'Ctrl-C stops everything.';

/** ferretdb processes serving `dir` (found in /proc: whoever started them). */
function ferretdbsOn(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(args[0] ?? '') === 'ferretdb' && args.includes(`--state-dir=${dir}`)) found.push(Number(entry));
  }
  return found;
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * `npm run dev` in a working directory of its own (its .data/ there): the banner says where everything is, other
 * commands reach the dev sandbox through .data/dev.env, and no start-up error, crash or stop leaves its embedded
 * database running.
 */
describe('npm run dev', () => {
  const prefix = uniqueName('dev');
  let cwd: string;
  let dbDir: string;
  let env: Record<string, string>;
  const runs: RunningCommand[] = [];

  beforeAll(async () => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'wecom-dev-'));
    dbDir = path.join(cwd, '.data', 'db');
    // The fixtures' templates: channel `nurture` has a sequence whose first step is due a second after the add.
    env = baseEnv({ PORT: String(await freePort()), SANDBOX_PORT: String(await freePort()), HOST: '127.0.0.1', QUEUE_PREFIX: prefix, TEMPLATES_DIR, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    // Whatever a failed assertion left behind on this test's own data directory.
    for (const pid of ferretdbsOn(dbDir)) process.kill(pid, 'SIGKILL');
    await deleteKeys(env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix);
    rmSync(cwd, { recursive: true, force: true });
  });

  /** The access tokens cached under the prefix: [key, token]. */
  let cachedTokens: Array<[string, string | null]> = [];
  async function tokensIn(p: string): Promise<Array<[string, string | null]>> {
    const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const keys = (await redis.keys(`${p}:wecom:token:*`)).filter((k) => !k.endsWith(':refresh'));
      return Promise.all(keys.map(async (k) => [k, await redis.get(k)] as [string, string | null]));
    } finally {
      redis.disconnect();
    }
  }

  /** Starts dev and waits for its banner. */
  async function startDev(): Promise<RunningCommand> {
    const run = startCommand(DEV, [], { env, cwd });
    runs.push(run);
    await waitFor(() => run.stdout.includes(BANNER_END) || run.child.exitCode !== null, 'the dev banner', 60_000, 100);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(BANNER_END);
    return run;
  }

  /** The JSON log lines dev printed with message `msg`. */
  const logLines = (run: RunningCommand, msg: string) =>
    run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === msg);

  const devEnvFile = () => path.join(cwd, '.data', 'dev.env');
  const pidOfDatabase = () => (JSON.parse(readFileSync(path.join(dbDir, 'ferretdb.pid'), 'utf8')) as { pid: number }).pid;

  let crashedDatabase: number;
  /** The QR code of expo2026 the first run printed. */
  let firstQr: string | undefined;

  it('prints the database URI and how to run any command against it; .data/dev.env works for every command; each event and message is logged', async () => {
    const dev = await startDev();
    const uri = /database\s+(mongodb:\/\/127\.0\.0\.1:\d+\/wecom_bot_dev)\s/.exec(dev.stdout)?.[1];
    expect(uri, dev.stdout).toBeDefined();
    expect(dev.stdout).toContain('DOTENV_CONFIG_PATH=.data/dev.env npm run channels:sync');
    // The dashboard, its dev token (kept for the next run), and demo data on a first run.
    expect(dev.stdout).toContain('300 demo leads seeded');
    const token = /dashboard\s+http:\/\/127\.0\.0\.1:\d+\/admin\s+\(dev token: (\S+), kept in \.data\/admin-token\)/.exec(dev.stdout)?.[1];
    expect(token, dev.stdout).toBeDefined();
    expect(readFileSync(path.join(cwd, '.data', 'admin-token'), 'utf8').trim()).toBe(token);
    const funnel = await fetch(`http://127.0.0.1:${env.PORT}/admin/api/funnel?from=2000-01-01&to=2999-12-31`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await funnel.json()) as { total: { added: number } }).total.added).toBe(300);
    const devEnv = readFileSync(devEnvFile(), 'utf8');
    expect(devEnv).toContain(`MONGODB_URI=${uri}\n`);
    expect(devEnv).toContain(`SANDBOX_PORT=${env.SANDBOX_PORT}\n`);
    // The bot itself, for simulate:scan: its port and admin token.
    expect(devEnv).toMatch(new RegExp(`^PORT=${env.PORT}$`, 'm'));
    expect(devEnv).toContain(`ADMIN_TOKEN=${token}\n`);

    // The recipe from the banner, run as a newcomer would (from the repository, nothing else set).
    const viaDevEnv = baseEnv({ DOTENV_CONFIG_PATH: devEnvFile() });
    const sync = await runCommand('src/cli/channels-sync.ts', [], { env: viaDevEnv });
    expect(sync.stderr).toBe('');
    expect(sync.stdout).toMatch(/^updated\s+expo2026\s+config_id=\w+\s+qr_code=https:\/\/wework\.qpic\.cn\/sandbox\//m);
    expect(sync.code).toBe(0);
    firstQr = /expo2026\s.*\(QR: (\S+)\)/.exec(dev.stdout)?.[1];
    expect(firstQr, dev.stdout).toBeDefined();

    const scan = await runCommand('src/cli/simulate-scan.ts', ['expo2026', '--name', '李总', '--user', 'lisi'], { env: viaDevEnv });
    expect(scan.stdout).toContain('welcome sent: 李总您好');
    expect(scan.code).toBe(0);
    const customer = /\((wm\w+)\)/.exec(scan.stdout)![1]!;
    // One info line for the handled event, one for the message sent.
    await waitFor(() => logLines(dev, 'new contact recorded').some((l) => l.externalUserId === customer), 'the event logged');
    expect(logLines(dev, 'new contact recorded').filter((l) => l.externalUserId === customer)).toHaveLength(1);
    expect(logLines(dev, 'welcome sent').filter((l) => l.externalUserId === customer)).toEqual([expect.objectContaining({ channel: 'expo2026' })]);

    // A nurture step sends too (here as a mass message the owner confirms): logged.
    const nurture = await runCommand('src/cli/simulate-scan.ts', ['nurture', '--name', '周总', '--user', 'zhangsan'], { env: viaDevEnv });
    expect(nurture.stdout).toContain('channel nurture has no welcome message: the bot sends none');
    const lead = /\((wm\w+)\)/.exec(nurture.stdout)![1]!;
    const sent = await waitFor(() => logLines(dev, 'nurture mass message submitted: the owner confirms it in the client').find((l) => l.externalUserId === lead), 'the nurture send logged', 20_000);
    expect(sent).toMatchObject({ sequence: 'fast', step: 0, via: 'mass', userId: 'zhangsan' });

    // The ops guide's channel created in chat, then a scan of its code: the bot's channel (no warning), and the scan
    // stops as soon as the bot records that it has no welcome.
    const created = await runCommand('src/cli/simulate-ops.ts', ['渠道 new salon11 "11 月沙龙" zhangsan lisi'], { env: viaDevEnv });
    expect(created.stdout).toContain('已新建渠道 **11 月沙龙**（`salon11`）');
    const salon = await runCommand('src/cli/simulate-scan.ts', ['salon11', '--name', '郑总'], { env: viaDevEnv });
    expect(salon.stderr).toBe('');
    expect(salon.stdout).toContain('scanned salon11 → the bot answered the callback with HTTP 200\nchannel salon11 has no welcome message: the bot sends none');
    expect(salon.code).toBe(0);

    // Ops staff @mention the robot in the ops group: the answer comes back through the robot's passive reply.
    const ops = await runCommand('src/cli/simulate-ops.ts', ['统计 7d'], { env: viaDevEnv });
    expect(ops.stderr).toBe('');
    expect(ops.stdout).toMatch(/^\*\*渠道漏斗 .*\n\| 渠道 \| 新增 \|/);
    // The demo's leads and the scan above: at least the scanned one.
    expect(Number(/\| 2026 工业展（expo2026） \| (\d+) \|/.exec(ops.stdout)?.[1])).toBeGreaterThanOrEqual(1);
    expect(ops.code).toBe(0);

    // The demo was written without its jobs: they are made at start, which is not taken for a loss of Redis.
    expect(logLines(dev, 'scheduled the jobs of the data just seeded')).toHaveLength(1);
    expect(logLines(dev, 'scheduled the campaign jobs of the data just seeded')).toHaveLength(1);
    expect(logLines(dev, 'reconciler restored scheduled jobs missing from Redis')).toEqual([]);
    expect(logLines(dev, 'reconciler restored campaign jobs missing from Redis')).toEqual([]);
    cachedTokens = await tokensIn(prefix);
    expect(cachedTokens.length).toBeGreaterThan(0);

    // The run dies without stopping anything (SIGKILL): its database is left running on .data/db.
    crashedDatabase = pidOfDatabase();
    expect(ferretdbsOn(dbDir)).toEqual([crashedDatabase]);
    dev.child.kill('SIGKILL');
    await dev.exited;
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(crashedDatabase)).toBe(true);
  });

  it('the next run stops the database a killed run left on .data/db, and Ctrl-C (SIGTERM) stops everything it started', async () => {
    expect(crashedDatabase).toBeDefined();
    const dev = await startDev();
    expect(dev.stdout).toContain(`Stopping ferretdb pid ${crashedDatabase}, left running on ${dbDir} by an earlier run`);
    // The data is kept: no second demo, the same token.
    expect(dev.stdout).toMatch(/the database has 30\d leads already: no demo seeded/);
    expect(dev.stdout).toContain(`dev token: ${readFileSync(path.join(cwd, '.data', 'admin-token'), 'utf8').trim()}`);
    expect(alive(crashedDatabase)).toBe(false);
    // The sandbox WeCom is new: the tokens the last run cached (ones it never issued) are forgotten, so no call of
    // this run is refused for one (40014).
    for (const [key, token] of await tokensIn(prefix)) expect(cachedTokens).not.toContainEqual([key, token]);
    const calls = (await (await fetch(`http://127.0.0.1:${env.SANDBOX_PORT}/sandbox/calls`)).json()) as Array<{ api: string; errcode: number }>;
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.errcode === 40014)).toEqual([]);
    // The channels' 联系我 codes are put back in the new sandbox: updated in place (no 41044), the same QR codes.
    expect(calls.filter((c) => c.api === 'externalcontact/update_contact_way').length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.errcode === 41044)).toEqual([]);
    expect(/expo2026\s.*\(QR: (\S+)\)/.exec(dev.stdout)?.[1]).toBe(firstQr);
    const database = pidOfDatabase();
    expect(ferretdbsOn(dbDir)).toEqual([database]);
    // The database runs in a process group of its own: a terminal's Ctrl-C (SIGINT to its foreground group) reaches
    // dev, which stops the bot first, its jobs at a safe point, and the database last, not under the bot.
    const pgrp = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
    expect(pgrp(database)).not.toBe(pgrp(dev.child.pid!));

    dev.child.kill('SIGTERM');
    expect((await dev.exited).code).toBe(0);
    expect(dev.stdout).toMatch(/Stopping: the bot first[^\n]*\n(.*\n)*Stopped\.\n/);
    expect(ferretdbsOn(dbDir)).toEqual([]);
    expect(existsSync(path.join(dbDir, 'ferretdb.pid'))).toBe(false);
    expect(existsSync(devEnvFile())).toBe(false);
  });

  it('Ctrl-C while a first run seeds its demo: what it started is stopped before it exits', async () => {
    expect(ferretdbsOn(dbDir)).toEqual([]);
    rmSync(path.join(cwd, '.data'), { recursive: true, force: true });
    const run = startCommand(DEV, [], { env, cwd });
    runs.push(run);
    await waitFor(() => run.stdout.includes('Seeding demo data') || run.child.exitCode !== null, 'the demo seeding', 60_000, 20);
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    // The seeding, its database client closed under it, fails: that is the stop, not an error of its own.
    expect(run.stderr).not.toContain('npm run dev failed');
    expect(code).toBe(0);
    expect(ferretdbsOn(dbDir)).toEqual([]);
  });

  it('--no-demo on an empty database: no demo is seeded, and the banner still gives the dashboard and its token', async () => {
    expect(ferretdbsOn(dbDir)).toEqual([]);
    rmSync(path.join(cwd, '.data'), { recursive: true, force: true });
    const run = startCommand(DEV, ['--no-demo'], { env, cwd });
    runs.push(run);
    await waitFor(() => run.stdout.includes(BANNER_END) || run.child.exitCode !== null, 'the dev banner', 60_000, 100);
    expect(run.stderr).toBe('');
    expect(run.stdout).not.toContain('Seeding demo data');
    expect(run.stdout).not.toContain('demo leads seeded');
    const token = /dashboard\s+http:\/\/127\.0\.0\.1:\d+\/admin\s+\(dev token: (\S+), kept in \.data\/admin-token\)/.exec(run.stdout)?.[1];
    expect(token, run.stdout).toBeDefined();
    const funnel = await fetch(`http://127.0.0.1:${env.PORT}/admin/api/funnel?from=2000-01-01&to=2999-12-31`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await funnel.json()) as { total: { added: number } }).total.added).toBe(0);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(ferretdbsOn(dbDir)).toEqual([]);
  });

  /** Runs dev to its end, watching /proc for the databases it starts on the way. */
  async function failingDev(extra: Record<string, string>): Promise<{ code: number | null; stderr: string; databases: Set<number> }> {
    const run = startCommand(DEV, [], { env: { ...env, ...extra }, cwd });
    runs.push(run);
    const databases = new Set<number>();
    const watch = setInterval(() => ferretdbsOn(dbDir).forEach((p) => databases.add(p)), 20);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    const { code } = await run.exited;
    clearTimeout(timer);
    clearInterval(watch);
    return { code, stderr: run.stderr, databases };
  }

  it('a busy PORT: one line naming the port and PORT, and the database it had started is stopped', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await failingDev({ PORT: String(port) });
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr.trim().split('\n')).toEqual([`port ${port} on 127.0.0.1 is already in use (another bot or program?); set PORT to a free one, e.g. PORT=${port + 1}`]);
      // The database was up when the port turned out to be taken...
      expect(r.databases.size).toBe(1);
      // ...and is gone, with its pid file.
      for (const pid of r.databases) expect(alive(pid)).toBe(false);
      expect(ferretdbsOn(dbDir)).toEqual([]);
      expect(existsSync(path.join(dbDir, 'ferretdb.pid'))).toBe(false);
    } finally {
      busy.close();
    }
  });

  it('a busy SANDBOX_PORT: one line naming it', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await failingDev({ SANDBOX_PORT: String(port) });
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr.trim().split('\n')).toEqual([`port ${port} (the sandbox WeCom) is already in use (another npm run dev?); set SANDBOX_PORT to a free one, e.g. SANDBOX_PORT=${port + 1}`]);
      expect(ferretdbsOn(dbDir)).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it('Ctrl-C after Redis died: the bot is given up on after 10 s, and the database is still stopped', async () => {
    const redis = await startSilentRedis(new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379'), { untilSilenced: true });
    try {
      const run = startCommand(DEV, [], { env: { ...env, REDIS_URL: redis.url }, cwd });
      runs.push(run);
      await waitFor(() => run.stdout.includes(BANNER_END) || run.child.exitCode !== null, 'the dev banner', 60_000, 100);
      expect(run.stdout).toContain(BANNER_END);
      expect(ferretdbsOn(dbDir)).toHaveLength(1);
      await redis.die();
      await new Promise((r) => setTimeout(r, 300));
      const stoppedAt = Date.now();
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(25_000);
      expect(run.stderr).toContain('could not stop the bot: not stopped within 10 s');
      expect(ferretdbsOn(dbDir)).toEqual([]);
    } finally {
      await redis.close();
    }
  });

  it('invalid templates or configuration: the problems, exit 78, and no database left running', async () => {
    const templates = path.join(cwd, 'bad-templates');
    mkdirSync(templates, { recursive: true });
    writeFileSync(path.join(templates, 'channels.yaml'), 'channels:\n  - key: "bad key!"\n    name: A\n');
    const badTemplates = await failingDev({ TEMPLATES_DIR: templates });
    expect(badTemplates.code).toBe(78);
    expect(badTemplates.stderr).toBe(`invalid templates:\n  - ${templates}/channels.yaml: channel #1 (bad key!): key: must be 1-30 characters of A-Z a-z 0-9 _ - (it is the 联系我 state)\n`);
    expect(badTemplates.stderr).not.toMatch(/^\s+at\s/m);

    const badConfig = await failingDev({ WECOM_AGENT_ID: 'abc' });
    expect(badConfig.code).toBe(78);
    expect(badConfig.stderr).toContain('WECOM_AGENT_ID: must be the numeric AgentId');

    for (const r of [badTemplates, badConfig]) for (const pid of r.databases) expect(alive(pid)).toBe(false);
    expect(ferretdbsOn(dbDir)).toEqual([]);
  });
});
