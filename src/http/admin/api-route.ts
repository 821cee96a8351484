import type Koa from 'koa';
import type { z } from 'zod';

/** A text in each of the dashboard's languages, as the API gives a score reason's or why an enrollment stopped. */
export interface Label {
  zh: string;
  en: string;
}

/**
 * An error the admin API answers with its status and a short message (never a stack): `{error, label, issues?}`, the
 * message in English as `error` and in each language as `label`, so that the dashboard says it in the page's language.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly label: Label,
    readonly issues?: Array<{ in: string; path: string; message: string }>,
  ) {
    super(label.en);
    this.name = 'ApiError';
  }
}

/** A lead the API does not have: 404. */
export const noLead = (id: string) => new ApiError(404, { zh: `没有线索 ${id}`, en: `no lead ${id}` });

/**
 * One admin API route: its method, path (Koa style, `/leads/:id`), the zod schemas of what it takes and answers, and
 * its handler. The same declaration serves requests and the OpenAPI document, so they cannot drift apart.
 */
export interface ApiRoute<Q extends z.ZodTypeAny = z.ZodTypeAny, P extends z.ZodTypeAny = z.ZodTypeAny, B extends z.ZodTypeAny = z.ZodTypeAny> {
  method: 'get' | 'post';
  path: string;
  summary: string;
  tag: string;
  query?: Q;
  params?: P;
  body?: B;
  response: z.ZodTypeAny;
  /** Answers other than those every route of its kind has (400, 401, 404 for a path id, …), for the OpenAPI document. */
  errors?: Record<number, string>;
  handler(input: { query: z.infer<Q>; params: z.infer<P>; body: z.infer<B> }, c: Koa.Context): Promise<unknown>;
}

/** Declares a route (an identity function that gives the declaration its types). */
export function apiRoute<Q extends z.ZodTypeAny, P extends z.ZodTypeAny, B extends z.ZodTypeAny>(route: ApiRoute<Q, P, B>): ApiRoute<Q, P, B> {
  return route;
}
