/** The sandbox WeCom's HTTP face: `/cgi-bin/*` in WeCom's shapes, plus a loopback control API under `/sandbox/*`. */
import { STATUS_CODES, createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import { SandboxApiError, errmsgFor } from './errcodes.js';
import type { ApiRoute } from './area.js';
import { isJsonObject, type Json } from './json-input.js';
import type { CallRecord, SandboxFault } from './core.js';
import { SandboxState, type SandboxStateOptions } from './state.js';

/** Options of startSandbox(). */
export interface SandboxOptions extends SandboxStateOptions {
  /** 0 = ephemeral (default). */
  port?: number;
  /** default 127.0.0.1: the control API has no auth, so keep it on loopback. */
  host?: string;
}

/** A running sandbox. */
export interface Sandbox {
  /** e.g. http://127.0.0.1:54321 (use as WECOM_API_BASE). */
  url: string;
  state: SandboxState;
  close(): Promise<void>;
}

type Query = Record<string, string>;

const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Reads the raw request body as UTF-8 text. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new SandboxApiError(47001, 'body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Flattens koa's query (repeated keys keep the first value). */
function flatQuery(q: Record<string, string | string[] | undefined>): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries(q)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first;
  }
  return out;
}

/** Parses a body: JSON when it is JSON, else the raw text (kept for the call record); undefined when empty. */
function parseBody(raw: string): { value: unknown; json: boolean } {
  if (raw.trim() === '') return { value: undefined, json: false };
  try {
    return { value: JSON.parse(raw) as unknown, json: true };
  } catch {
    return { value: raw, json: false };
  }
}

/** Serves one /cgi-bin/ request: fault, then token, rate limit, body, domain rule; records the call on arrival. */
async function serveApi(ctx: Koa.Context, state: SandboxState, routes: Record<string, ApiRoute>, api: string): Promise<void> {
  const call: CallRecord = { api, at: state.now(), query: flatQuery(ctx.query), body: undefined, errcode: NaN, httpStatus: 0 };
  state.record(call);
  const answer = (httpStatus: number, errcode: number, payload: unknown, type = 'application/json'): void => {
    ctx.status = httpStatus;
    ctx.type = type;
    ctx.body = type === 'application/json' ? JSON.stringify(payload) : payload;
    call.errcode = errcode;
    call.httpStatus = httpStatus;
  };
  try {
    // An oversized body is answered like any unreadable one: 47001.
    const raw = await readBody(ctx.req).catch(() => undefined);
    const { value: body, json } = raw === undefined ? { value: '<body too large>', json: false } : parseBody(raw);
    call.body = body;
    const route = routes[api];
    if (!route) {
      answer(404, 404, { errcode: 404, errmsg: 'not found' });
      return;
    }
    const fault = state.takeFault(api);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.httpStatus !== undefined) {
      answer(fault.httpStatus, -1, STATUS_CODES[fault.httpStatus] ?? 'Error', 'text/plain');
    } else if (fault?.errcode !== undefined) {
      answer(200, fault.errcode, { errcode: fault.errcode, errmsg: errmsgFor(fault.errcode, 'injected fault') });
    } else {
      try {
        if (api !== 'gettoken' && !route.noToken) state.tokens.check(call.query);
        if (state.hitRateLimit(api)) throw new SandboxApiError(45009);
        if (route.body && !(json && isJsonObject(body))) throw new SandboxApiError(47001);
        const data = route.run(call.query, route.body ? (body as Json) : {});
        answer(200, 0, { errcode: 0, errmsg: 'ok', ...data });
      } catch (err) {
        if (!(err instanceof SandboxApiError)) throw err;
        answer(200, err.errcode, { errcode: err.errcode, errmsg: errmsgFor(err.errcode, err.message) });
      }
    }
    if (fault?.delayAfterMs) await sleep(fault.delayAfterMs);
  } catch (err) {
    // A sandbox bug, not a WeCom behaviour: fail loudly.
    answer(500, -1, { errcode: -1, errmsg: `sandbox internal error: ${err instanceof Error ? err.message : String(err)}` });
  }
}

/** Serves the control API used by other processes (dev CLI); returns false for an unknown control path. */
async function serveControl(ctx: Koa.Context, state: SandboxState, path: string): Promise<boolean> {
  const readJson = async (): Promise<Json> => {
    const { value, json } = parseBody(await readBody(ctx.req));
    if (value === undefined) return {};
    if (!json || !isJsonObject(value)) throw new Error('body must be a JSON object');
    return value;
  };
  const key = `${ctx.method} ${path}`;
  try {
    switch (key) {
      case 'GET /sandbox/calls':
        ctx.body = state.calls;
        return true;
      case 'GET /sandbox/welcomes':
        ctx.body = state.welcome.sent;
        return true;
      case 'GET /sandbox/messages':
        ctx.body = state.appMessages.sent;
        return true;
      case 'GET /sandbox/webhook':
        ctx.body = state.webhook.sent;
        return true;
      case 'POST /sandbox/robot/message': {
        // A person @mentions the robot: the encrypted callback goes to the bot; the decrypted reply comes back.
        const b = await readJson();
        if (typeof b.text !== 'string') throw new Error('text is required');
        if (b.userid !== undefined && typeof b.userid !== 'string') throw new Error('userid must be a string');
        if (b.chatid !== undefined && b.chatid !== null && typeof b.chatid !== 'string') throw new Error('chatid must be a string or null');
        try {
          ctx.body = await state.robot.say({ text: b.text, userid: b.userid as string | undefined, chatid: b.chatid as string | null | undefined });
        } catch (err) {
          ctx.status = 502;
          ctx.body = { error: `callback delivery failed: ${err instanceof Error ? err.message : String(err)}` };
        }
        return true;
      }
      case 'GET /sandbox/robot/responses':
        ctx.body = state.robot.responses;
        return true;
      case 'POST /sandbox/scan': {
        const b = await readJson();
        if (typeof b.userId !== 'string' || typeof b.name !== 'string') throw new Error('userId and name are required strings');
        if (b.state !== undefined && typeof b.state !== 'string') throw new Error('state must be a string');
        // WeCom only issues 联系我 codes for the corp's members: a scan of anyone else's code cannot happen.
        if (state.members && !state.members.has(b.userId)) {
          throw new Error(`"${b.userId}" is not a member of the sandbox corp (members: ${[...state.members].join(', ')})`);
        }
        const opts = { userId: b.userId, name: b.name, state: b.state, skipVerify: b.skipVerify === true };
        try {
          ctx.body = await state.contacts.scan(opts);
        } catch (err) {
          ctx.status = 502;
          ctx.body = { error: `callback delivery failed: ${err instanceof Error ? err.message : String(err)}` };
        }
        return true;
      }
      case 'POST /sandbox/kf/say': {
        // A customer writes to a 客服 account (simulate:say): by nickname or external_userid; created on first use.
        const b = await readJson();
        if (typeof b.customer !== 'string' || typeof b.text !== 'string') throw new Error('customer and text are required strings');
        // WeCom's client sends no empty message: a text is at least one character that is not a space.
        if (!b.text.trim()) throw new Error('a customer cannot send an empty message: give the text they write');
        const openKfid = typeof b.openKfid === 'string' ? b.openKfid : [...state.kf.accounts.keys()][0];
        if (!openKfid) throw new Error('the sandbox corp has no 微信客服 account');
        const known = [...state.kf.customers].find(([id, c]) => id === b.customer || c.nickname === b.customer)?.[0];
        const contact = [...state.contacts.customers.values()].find((c) => c.externalUserId === b.customer || c.name === b.customer)?.externalUserId;
        const externalUserId = known ?? contact ?? `wm${Buffer.from(String(b.customer)).toString('hex').slice(0, 28).padEnd(28, '0')}`;
        const nickname = /^wm/.test(String(b.customer)) ? undefined : String(b.customer);
        const startedAt = state.now();
        const entered = known ? null : await state.kf.customerEnters(openKfid, externalUserId, { scene: typeof b.scene === 'string' ? b.scene : '', nickname });
        const said = await state.kf.customerSays(openKfid, externalUserId, b.text, { nickname });
        ctx.body = { openKfid, externalUserId, startedAt, status: said.status, welcomeCode: entered?.welcomeCode ?? null };
        return true;
      }
      case 'GET /sandbox/kf/conversation': {
        const q = flatQuery(ctx.query);
        if (!q.openKfid || !q.externalUserId) throw new Error('openKfid and externalUserId are required');
        ctx.body = { messages: state.kf.conversation(q.openKfid, q.externalUserId), session: state.kf.session(q.openKfid, q.externalUserId) ?? null, transfers: state.kf.transfers.filter((t) => t.externalUserId === q.externalUserId) };
        return true;
      }
      case 'POST /sandbox/reset':
        state.reset({ all: (await readJson()).all === true });
        ctx.body = { ok: true };
        return true;
      case 'POST /sandbox/expire-tokens':
        state.tokens.expire();
        ctx.body = { ok: true };
        return true;
      case 'POST /sandbox/inject': {
        const b = await readJson();
        if (typeof b.api !== 'string') throw new Error('api is required');
        state.inject(b as unknown as SandboxFault);
        ctx.body = { ok: true };
        return true;
      }
      default:
        return false;
    }
  } catch (err) {
    ctx.status = 400;
    ctx.body = { error: err instanceof Error ? err.message : String(err) };
    return true;
  }
}

/** Builds the koa app serving `state`. */
export function createSandboxApp(state: SandboxState): Koa {
  const app = new Koa();
  app.silent = true;
  const routes = state.routes();
  app.use(async (ctx) => {
    const path = ctx.path;
    if (path.startsWith('/sandbox/') && (await serveControl(ctx, state, path))) return;
    await serveApi(ctx, state, routes, path.startsWith('/cgi-bin/') ? path.slice('/cgi-bin/'.length) : path);
  });
  return app;
}

/** Starts the sandbox WeCom on host:port (default 127.0.0.1, ephemeral port). */
export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const state = new SandboxState(opts);
  const server = createServer(createSandboxApp(state).callback());
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port, family } = server.address() as AddressInfo;
  const urlHost = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address;
  state.url = `http://${urlHost}:${port}`;
  return {
    url: state.url,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
