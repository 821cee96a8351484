import type { Server } from 'node:http';
import type Koa from 'koa';
import { CodedError, ErrorCode } from '../errors.js';

/** Starts `app` on host:port; a port in use is one clear error that says how to choose another. */
export function listen(app: Koa, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new CodedError(ErrorCode.PortInUse, `port ${port} on ${host} is already in use (another bot or program?); set PORT to a free one, e.g. PORT=${port + 1}`));
      } else reject(err);
    });
  });
}
