/** The XML side of WeCom callbacks: the envelope around `<Encrypt>`, and the decrypted document [D:90968]. */
import { parse as parseXmlNodes, type TNode } from 'txml/txml';
import { CallbackError, ErrorCode } from '../../errors.js';

const XML_DECL = /^\s*<\?xml[^>]*\?>/;
/** A document whose root is <xml> and that ends with its close tag: anything cut short or trailing is refused. */
const WHOLE_DOC = /^\s*<xml[\s>][\s\S]*<\/xml>\s*$/;
/** One token of the XML WeCom sends: CDATA, a comment, an end tag, a start (or empty) tag, or text. */
const TOKEN = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\/([A-Za-z_][\w.-]*)\s*>|<([A-Za-z_][\w.-]*)(?:\s[^<>]*?)?(\/?)>|[^<]+/y;
/** Tag names an HTML-minded parser treats as raw text; WeCom never sends them. */
const RAW_TEXT_TAGS = new Set(['script', 'style']);

/**
 * Parses a WeCom XML document into the fields under <xml>; throws CallbackError 400 when it is not one.
 * txml does no entity processing at all (no XXE, no billion laughs; `&amp;` stays as written, as WeCom's values
 * sit in CDATA) and is several times faster than a general parser on these small flat messages. It is lenient, so
 * the document is checked first, token by token: one <xml> root, closed, nothing after it, every end tag matching
 * its start tag, CDATA and comments terminated, no DOCTYPE, ENTITY or processing instruction. Every value stays a
 * string, so ids never turn into numbers; a repeated tag becomes an array, nested tags an object.
 */
export function parseXml(xml: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'DOCTYPE/ENTITY declarations are not accepted', 400);
  }
  const body = xml.replace(XML_DECL, '');
  if (!WHOLE_DOC.test(body)) throw new CallbackError(ErrorCode.PayloadMalformed, 'XML has no <xml> root', 400);
  if (!wellFormed(body)) throw new CallbackError(ErrorCode.PayloadMalformed, 'body is not well-formed XML', 400);
  let nodes: Array<TNode | string>;
  try {
    nodes = parseXmlNodes(body, { noChildNodes: [], keepWhitespace: false });
  } catch {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'body is not well-formed XML', 400);
  }
  const root = nodes.length === 1 ? nodes[0] : undefined;
  if (!root || typeof root === 'string' || root.tagName !== 'xml') {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'XML has no <xml> root', 400);
  }
  return fieldsOf(root);
}

/** True when every token is one WeCom may send and the tags nest properly. */
function wellFormed(doc: string): boolean {
  const open: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < doc.length) {
    const m = TOKEN.exec(doc);
    if (!m) return false;
    const [, end, start, empty] = m;
    if (end !== undefined) {
      if (open.pop() !== end) return false;
    } else if (start !== undefined) {
      if (RAW_TEXT_TAGS.has(start.toLowerCase())) return false;
      if (!empty) open.push(start);
    }
  }
  return open.length === 0;
}

function fieldsOf(node: TNode): Record<string, unknown> {
  // No prototype: a tag named __proto__ or constructor is just a field.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const child of node.children) {
    if (typeof child === 'string') continue;
    const value = child.children.some((c) => typeof c !== 'string') ? fieldsOf(child) : (child.children as string[]).join('').trim();
    const prev = out[child.tagName];
    out[child.tagName] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const ENVELOPE = /^\s*(?:<\?xml[^>]*\?>\s*)?<xml>[\s\S]*?<Encrypt>\s*(?:<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>|([A-Za-z0-9+/=]+))\s*<\/Encrypt>[\s\S]*<\/xml>\s*$/;

/**
 * The Encrypt field of a callback envelope `<xml>…<Encrypt>…</Encrypt>…</xml>`. The signature covers only this
 * field and nothing else in the envelope is used, so it is extracted with a strict pattern rather than a full
 * parse (the decrypted message is parsed in full). Throws CallbackError 400 when absent or malformed.
 */
export function envelopeEncrypt(body: string): string {
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) {
    throw new CallbackError(ErrorCode.PayloadMalformed, 'DOCTYPE/ENTITY declarations are not accepted', 400);
  }
  const m = ENVELOPE.exec(body);
  const encrypted = m?.[1] ?? m?.[2];
  if (!encrypted) throw new CallbackError(ErrorCode.PayloadMalformed, 'body is not an <xml> envelope with <Encrypt>', 400);
  return encrypted;
}
