import net from 'node:net';

/** A Redis that stops answering: a TCP proxy to a real Redis, and where to reach it. */
export interface SilentRedis {
  url: string;
  close(): Promise<void>;
}

/** The INFO command as ioredis writes it (RESP). */
const INFO = /\*1\r\n\$4\r\ninfo\r\n/i;

/**
 * A proxy to the Redis at `target` that passes each connection's first INFO (ioredis's ready check) and then holds
 * everything the client sends: the connection is ready, and the next command (BullMQ's own INFO, its connection
 * check) is never answered, as when Redis stops answering (stopped, or cut off by the network) right after a process
 * connected.
 */
export async function startSilentRedis(target: URL): Promise<SilentRedis> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    let silent = false;
    client.on('data', (chunk: Buffer) => {
      if (silent) return;
      upstream.write(chunk);
      silent = INFO.test(chunk.toString('latin1'));
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
