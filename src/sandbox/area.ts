import type { Json } from './json-input.js';

/** One WeCom API the sandbox answers: POST APIs need a JSON object body; GET APIs read the query only. */
export interface ApiRoute {
  body: boolean;
  /** Authorised by something else than an access token (the webhook's `key`). */
  noToken?: boolean;
  /** Returns the reply fields (the server adds errcode 0); throws SandboxApiError for an errcode. */
  run: (query: Record<string, string>, body: Json) => Json;
}

/** An API area of the sandbox WeCom: its data, its APIs (keyed by the path after /cgi-bin/) and its rules. */
export interface SandboxArea {
  readonly routes: Readonly<Record<string, ApiRoute>>;
  /** Clears what it sent (`all`: also its data, as a brand-new corp). */
  reset(all: boolean): void;
}
