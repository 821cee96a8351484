/**
 * The sandbox WeCom in a process of its own, for benchmarks that measure the bot's memory: what the sandbox keeps
 * (customers, mass messages and their targets) does not count toward the benchmark process. Started by a benchmark
 * with BENCH_SANDBOX_CUSTOMERS customers (`<prefix><i>` for i < N) of the members in BENCH_SANDBOX_OWNERS (customer
 * i belongs to owner i mod the number of owners); prints one JSON line `{ "url": … }` on stdout when it listens, and
 * answers GET /sandbox/calls as the sandbox always does. Ends with its parent (stdin closes) or on SIGTERM.
 */
import { startSandbox } from '../../src/sandbox/index.js';
import { TEST_CORP } from '../fixtures/test-corp.js';

const n = Number(process.env.BENCH_SANDBOX_CUSTOMERS ?? 0);
const owners = (process.env.BENCH_SANDBOX_OWNERS ?? 'zhangsan').split(',');
const prefix = process.env.BENCH_SANDBOX_PREFIX ?? 'wmbench';
const pad = Number(process.env.BENCH_SANDBOX_PAD ?? 8);
const sandbox = await startSandbox({ corpId: TEST_CORP.corpId, secrets: [TEST_CORP.secret] });
for (let i = 0; i < n; i++) {
  sandbox.state.contacts.addCustomer({ externalUserId: `${prefix}${String(i).padStart(pad, '0')}`, userId: owners[i % owners.length]!, name: `客户${i}` });
}
process.stdout.write(`${JSON.stringify({ url: sandbox.url, customers: n })}\n`);
const stop = () => void sandbox.close().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.once('SIGTERM', stop);
