import type { Socket } from 'node:net';
import { Redis } from 'ioredis';

/** The Redis connection BullMQ and the bot share (blocking commands must never time out, hence no retry cap). */
export function createRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
  // Each (re)connection's socket: ioredis sets `stream` before it says 'connect'.
  redis.on('connect', () => coalesceWrites((redis as unknown as { stream: Socket }).stream));
  return redis;
}

/**
 * Disconnects `redis` and waits until its socket is closed (at most 3 s) and the commands it still had have failed,
 * so that their failures are heard (and logged) before the process exits, not cut off by it or racing it. A client
 * waiting to reconnect has no socket: it ends nothing and fails nothing.
 */
export async function closeRedis(redis: Redis): Promise<void> {
  const ended = new Promise<void>((resolve) => {
    if (redis.status === 'end') return resolve();
    const timer = setTimeout(resolve, 3_000).unref();
    redis.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  redis.disconnect();
  if (redis.status !== 'reconnecting') await ended;
  // The failed commands' callers run before this goes on.
  await new Promise((r) => setImmediate(r));
}

/**
 * Commands issued in one turn of the event loop leave in one socket write. ioredis writes each command to the socket
 * at once, one system call each; on a busy worker those calls (a dozen Redis commands per nurture step, from many
 * steps at a time) were a fifth of its CPU. The socket is corked at a turn's first write and uncorked when the turn
 * ends (setImmediate), so Node sends what was written meanwhile with one writev. Order is kept, and a command waits at
 * most for the rest of its turn. (ioredis's own auto-pipelining batches only commands of one tick, and builds a
 * pipeline object for each batch.)
 */
function coalesceWrites(stream: Socket): void {
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      stream.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args as never);
  } as Socket['write'];
}
