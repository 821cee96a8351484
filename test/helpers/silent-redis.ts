import net from 'node:net';

/** A Redis that stops answering: a TCP proxy to a real Redis, and where to reach it. */
export interface SilentRedis {
  url: string;
  /** From now on, every connection's commands are held (Redis stops answering). */
  silence(): void;
  /** Cuts every connection and refuses new ones (Redis died). */
  die(): Promise<void>;
  close(): Promise<void>;
}

/** The INFO command as ioredis writes it (RESP). */
const INFO = /\*1\r\n\$4\r\ninfo\r\n/i;

/**
 * With `untilSilenced`, a proxy that passes everything until `silence()`. Otherwise a proxy to the Redis at `target` that passes each connection's first INFO (ioredis's ready check) and then holds
 * everything the client sends: the connection is ready, and the next command (BullMQ's own INFO, its connection
 * check) is never answered, as when Redis stops answering (stopped, or cut off by the network) right after a process
 * connected.
 */
export async function startSilentRedis(target: URL, opts: { untilSilenced?: boolean } = {}): Promise<SilentRedis> {
  const sockets = new Set<net.Socket>();
  let silenced = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    let silent = false;
    client.on('data', (chunk: Buffer) => {
      if (silent || silenced) return;
      upstream.write(chunk);
      if (!opts.untilSilenced) silent = INFO.test(chunk.toString('latin1'));
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
    silence: () => {
      silenced = true;
    },
    die: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
