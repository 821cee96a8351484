import { spawn, type ChildProcess } from 'node:child_process';

/** Starts `npm start`'s entry point as a separate worker process, the way a deployment runs ROLE=worker. */
export function startWorkerProcess(env: Record<string, string>, logLevel = 'warn'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], {
    env: { ...process.env, ...env, ROLE: 'worker', LOG_LEVEL: logLevel },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Kills a worker process at once (SIGKILL: no shutdown, as in a crash) and waits for it to be gone. */
export async function killWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
