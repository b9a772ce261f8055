import xml2js from 'xml2js';

/**
 * A namespace-resolved XML element. Manifests bind prefixes freely (`adlcp:`, `ns2:`, or a
 * default namespace), so the parser matches on namespace URI + local name, never on prefixes.
 */
export interface XmlElement {
  readonly ns: string;
  readonly local: string;
  /** The name as written, for messages. */
  readonly qname: string;
  /** Attributes by `{uri}local` (no namespace: just `local`). */
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  readonly text: string;
}

export const xmlNamespace = 'http://www.w3.org/XML/1998/namespace';

export class XmlError extends Error {
  constructor(readonly code: 'manifest_malformed' | 'manifest_dtd_entity' | 'manifest_encoding', message: string) {
    super(message);
  }
}

interface RawAttr { readonly value: string; readonly local: string; readonly uri: string }
interface RawNode {
  readonly $?: Record<string, RawAttr>;
  readonly $ns?: { readonly uri: string; readonly local: string };
  readonly $$?: RawNode[];
  readonly '#name'?: string;
  readonly _?: string;
}

/**
 * Decodes the manifest bytes: a BOM decides first, then the XML declaration's encoding
 * (UTF-8, UTF-16, ISO-8859-1 and Windows code pages via TextDecoder), UTF-8 otherwise.
 */
export function decodeXml(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString('utf8');
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const head = bytes.subarray(0, 200).toString('latin1');
  const declared = /^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (!declared || declared === 'utf-8' || declared === 'utf8') return bytes.toString('utf8');
  try {
    return new TextDecoder(declared).decode(bytes);
  } catch {
    throw new XmlError('manifest_encoding', `imsmanifest.xml declares the encoding "${declared}", which is not supported; save it as UTF-8.`);
  }
}

/**
 * Parses XML with xml2js (sax in strict mode). sax never reads a DTD: it neither fetches
 * external entities (XXE) nor expands internal ones (billion laughs) — an entity reference it
 * does not know is a parse error. A manifest that declares entities is refused up front with
 * its own code, so the report says why rather than pointing at a column.
 */
export async function parseXml(text: string): Promise<XmlElement> {
  if (/<!DOCTYPE[^>]*\[[\s\S]*?<!ENTITY/i.test(text.slice(0, 100_000))) {
    throw new XmlError('manifest_dtd_entity', 'imsmanifest.xml declares DTD entities; they are never expanded (protection against XXE and entity-expansion attacks). Remove the DOCTYPE.');
  }
  let parsed: Record<string, RawNode>;
  try {
    parsed = await xml2js.parseStringPromise(text, {
      xmlns: true, explicitChildren: true, preserveChildrenOrder: true, explicitRoot: true, strict: true, trim: false, normalize: false,
      charsAsChildren: false, includeWhiteChars: false, async: false,
    }) as Record<string, RawNode>;
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : String(error);
    throw new XmlError('manifest_malformed', `imsmanifest.xml is not well-formed XML: ${message}`);
  }
  const rootNode = Object.values(parsed)[0];
  if (!rootNode) throw new XmlError('manifest_malformed', 'imsmanifest.xml has no root element.');
  return convert(rootNode, Object.keys(parsed)[0]!);
}

function convert(node: RawNode | string, name: string): XmlElement {
  if (typeof node === 'string') return { ns: '', local: name, qname: name, attrs: new Map(), children: [], text: node.trim() };
  const attrs = new Map<string, string>();
  for (const attr of Object.values(node.$ ?? {})) {
    if (attr.uri === 'http://www.w3.org/2000/xmlns/') continue;
    attrs.set(attr.uri ? `{${attr.uri}}${attr.local}` : attr.local, attr.value);
  }
  const qname = node['#name'] ?? name;
  return {
    ns: node.$ns?.uri ?? '',
    local: node.$ns?.local ?? qname.split(':').pop()!,
    qname,
    attrs,
    children: (node.$$ ?? []).map((child) => convert(child, child['#name'] ?? '')),
    text: (node._ ?? '').trim(),
  };
}

/** Attribute in no namespace, or `{uri}local`. */
export function attr(element: XmlElement, name: string, ns?: string): string | undefined {
  return element.attrs.get(ns ? `{${ns}}${name}` : name);
}
