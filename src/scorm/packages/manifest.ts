import type { Item, Organization, PackageModel, Resource, ScormVersion, Sequencing, SharedDataMap, ValidationFinding } from './model.js';
import { appendParameters, resolveRef } from './paths.js';
import { SequencingReader, isIsoDuration, ns as seqNs } from './sequencing.js';
import { XmlError, attr, decodeXml, parseXml, xmlNamespace, type XmlElement } from './xml.js';

/**
 * imsmanifest.xml → PackageModel plus findings. Covers the IMS Content Packaging structure as
 * SCORM 1.2 (CAM 1.2 §2.3) and SCORM 2004 2nd–4th editions (CAM 3.x, 4.x, 5.x) use it. Problems
 * become findings with a location, never exceptions: a vendor sees every problem in one report.
 */

export const ns = {
  imscp12: 'http://www.imsproject.org/xsd/imscp_rootv1p1p2',
  imscp: 'http://www.imsglobal.org/xsd/imscp_v1p1',
  adlcp12: 'http://www.adlnet.org/xsd/adlcp_rootv1p2',
  adlcp: 'http://www.adlnet.org/xsd/adlcp_v1p3',
  adlnav: 'http://www.adlnet.org/xsd/adlnav_v1p3',
  ...seqNs,
} as const;

const cpNamespaces = new Set<string>([ns.imscp12, ns.imscp]);
const adlcpNamespaces = new Set<string>([ns.adlcp12, ns.adlcp]);
const hideLmsUiTokens = new Set(['continue', 'previous', 'exit', 'exitAll', 'abandon', 'abandonAll', 'suspendAll'] as const);
type HideToken = Item['hideLmsUi'] extends readonly (infer T)[] | undefined ? T : never;
const timeLimitActions = new Map<string, NonNullable<Item['timeLimitAction']>>([
  ['exit,message', 'exit,message'], ['exit,no message', 'exit,no message'], ['continue,message', 'continue,message'], ['continue,no message', 'continue,no message'],
]);

/** Findings of one kind beyond this many are summarized, so a report stays readable (and small). */
const maxFindingsPerCode = 50;

export class FindingList {
  readonly items: ValidationFinding[] = [];
  private readonly counts = new Map<string, number>();

  add(finding: ValidationFinding): void {
    const n = (this.counts.get(finding.code) ?? 0) + 1;
    this.counts.set(finding.code, n);
    if (n <= maxFindingsPerCode) this.items.push(finding);
  }

  addAll(findings: readonly ValidationFinding[]): void {
    for (const f of findings) this.add(f);
  }

  /** The findings, with one summary line per code that overflowed. */
  list(): ValidationFinding[] {
    const out = [...this.items];
    for (const [code, n] of this.counts) {
      if (n > maxFindingsPerCode) {
        const severity = this.items.find((f) => f.code === code)?.severity ?? 'warning';
        out.push({ severity, code, message: `… and ${n - maxFindingsPerCode} more findings of this kind (${n} in all).` });
      }
    }
    return out;
  }

  hasErrors(): boolean {
    return this.items.some((f) => f.severity === 'error');
  }
}

export interface ManifestResult {
  /** Absent when the manifest could not be read at all. */
  readonly model: PackageModel | undefined;
  readonly findings: FindingList;
}

interface Context {
  readonly findings: FindingList;
  readonly seq: SequencingReader;
  readonly version: ScormVersion;
  readonly ids: Map<string, string>;
}

/** Parses the manifest bytes. Never throws for bad input: problems are findings. */
export async function parseManifest(bytes: Buffer): Promise<ManifestResult> {
  const findings = new FindingList();
  let root: XmlElement;
  try {
    root = await parseXml(decodeXml(bytes));
  } catch (error) {
    if (error instanceof XmlError) {
      findings.add({ severity: 'error', code: error.code, message: error.message, location: 'imsmanifest.xml' });
      return { model: undefined, findings };
    }
    throw error;
  }
  if (root.local !== 'manifest' || !cpNamespaces.has(root.ns)) {
    findings.add({ severity: 'error', code: 'manifest_invalid_root', location: 'imsmanifest.xml', message: `The root element is ${root.qname} in namespace "${root.ns || 'none'}"; an IMS content package manifest (imscp) is expected.` });
    return { model: undefined, findings };
  }
  const { version, schemaVersion } = detectVersion(root, findings);
  const ctx: Context = { findings, seq: new SequencingReader(findings), version, ids: new Map() };
  const identifier = attr(root, 'identifier')?.trim() ?? '';
  if (!identifier) findings.add({ severity: 'warning', code: 'manifest_identifier_missing', location: 'manifest', message: 'The manifest has no identifier attribute.' });

  const parsed = readManifest(root, [], ctx, 'manifest', true);
  const sequencingCollection: Record<string, Sequencing> = {};
  for (const child of root.children) {
    if (child.ns === ns.imsss && child.local === 'sequencingCollection') {
      for (const s of child.children) {
        if (s.ns !== ns.imsss || s.local !== 'sequencing') continue;
        const id = attr(s, 'ID')?.trim();
        if (!id) {
          findings.add({ severity: 'error', code: 'sequencing_id_missing', location: 'manifest/sequencingCollection', message: 'A sequencing in the sequencingCollection has no ID.' });
          continue;
        }
        sequencingCollection[id] = ctx.seq.read(s, `sequencingCollection[${id}]`);
      }
    }
  }

  // Sub-manifests (IMS CP 1.1.4 §4.3): an item whose identifierref names one aggregates that
  // manifest's default organization, and its resources join the package's.
  const resources = [...parsed.resources];
  const subManifests = new Map(parsed.subManifests.map((m) => [m.identifier, m]));
  const usedSub = new Set<string>();
  const graft = (items: readonly Item[], depth: number): Item[] => items.map((item) => {
    const sub = item.resourceId !== undefined ? subManifests.get(item.resourceId) : undefined;
    if (!sub) return { ...item, children: graft(item.children, depth) };
    if (depth > 8) {
      findings.add({ severity: 'error', code: 'submanifest_cycle', location: `item[${item.identifier}]`, message: 'Sub-manifests nest more than 8 levels deep (or refer to each other).' });
      return { ...item, children: [] };
    }
    if (usedSub.has(sub.identifier)) {
      // Its items would appear twice with the same identifiers; activities must be unique.
      findings.add({ severity: 'error', code: 'submanifest_reused', location: `item[${item.identifier}]`, message: `Sub-manifest "${sub.identifier}" is aggregated by more than one item; each activity must appear once.` });
      return { ...item, children: [] };
    }
    usedSub.add(sub.identifier);
    const org = sub.organizations.find((o) => o.identifier === sub.defaultOrganization) ?? sub.organizations[0];
    if (!org) {
      findings.add({ severity: 'error', code: 'submanifest_empty', location: `item[${item.identifier}]`, message: `Item "${item.identifier}" refers to sub-manifest "${sub.identifier}", which has no organization to aggregate.` });
      return { ...item, children: [] };
    }
    const { resourceId: _r, launchUrl: _l, parameters: _p, scormType: _s, ...cluster } = item;
    return { ...cluster, children: [...graft(item.children, depth), ...graft(org.items, depth + 1)] };
  });
  const collectSubResources = (list: readonly ParsedManifest[]) => {
    for (const m of list) {
      resources.push(...m.resources);
      collectSubResources(m.subManifests);
      for (const inner of m.subManifests) subManifests.set(inner.identifier, inner);
    }
  };
  collectSubResources(parsed.subManifests);

  const resourceById = new Map(resources.map((r) => [r.identifier, r]));
  const organizations = parsed.organizations.map((org) => ({ ...org, items: linkItems(graft(org.items, 0), resourceById, subManifests, ctx, `organizations/${org.identifier}`) }));
  for (const sub of subManifests.values()) {
    if (!usedSub.has(sub.identifier)) {
      findings.add({ severity: 'warning', code: 'submanifest_unreferenced', location: `manifest[${sub.identifier}]`, message: `Sub-manifest "${sub.identifier}" is not referenced by any item and was ignored.` });
    }
  }
  for (const r of resources) {
    for (const dep of r.dependencies) {
      if (!resourceById.has(dep)) findings.add({ severity: 'warning', code: 'dependency_missing', location: `resources/${r.identifier}`, message: `Resource "${r.identifier}" depends on "${dep}", which is not a resource of the package.` });
    }
  }

  // Sequencing references into the collection.
  const checkIdRef = (s: Sequencing | undefined, where: string) => {
    if (s?.idRef !== undefined && !(s.idRef in sequencingCollection)) {
      findings.add({ severity: 'error', code: 'sequencing_idref_missing', location: where, message: `sequencing@IDRef="${s.idRef}" matches no sequencing in the manifest's sequencingCollection.` });
    }
  };
  const walk = (items: readonly Item[], where: string) => {
    for (const item of items) {
      checkIdRef(item.sequencing, `${where}/item[${item.identifier}]`);
      walk(item.children, `${where}/item[${item.identifier}]`);
    }
  };
  for (const org of organizations) {
    checkIdRef(org.sequencing, `organizations/${org.identifier}`);
    walk(org.items, `organizations/${org.identifier}`);
  }

  let defaultOrganization = parsed.defaultOrganization;
  if (organizations.length === 0) {
    findings.add({ severity: 'error', code: 'organization_missing', location: 'manifest/organizations', message: 'The manifest has no organization, so there is nothing to launch (a resource-only package cannot be played).' });
  } else if (!defaultOrganization) {
    defaultOrganization = organizations[0]!.identifier;
    findings.add({ severity: 'warning', code: 'organization_default_missing', location: 'manifest/organizations', message: `organizations@default is not set; the first organization "${defaultOrganization}" is used.` });
  } else if (!organizations.some((o) => o.identifier === defaultOrganization)) {
    findings.add({ severity: 'error', code: 'organization_default_invalid', location: 'manifest/organizations', message: `organizations@default="${defaultOrganization}" names no organization of the manifest.` });
  }
  const defaultOrg = organizations.find((o) => o.identifier === defaultOrganization);
  const model: PackageModel = {
    version,
    identifier,
    title: defaultOrg?.title || identifier,
    defaultOrganization: defaultOrganization ?? '',
    organizations,
    resources,
    sequencingCollection,
    ...(schemaVersion !== undefined ? { schemaVersion } : {}),
  };
  return { model, findings };
}

// Version ---------------------------------------------------------------------------------------

function detectVersion(root: XmlElement, findings: FindingList): { version: ScormVersion; schemaVersion: string | undefined } {
  const metadata = root.children.find((c) => c.local === 'metadata' && cpNamespaces.has(c.ns));
  const schemaVersion = metadata?.children.find((c) => c.local === 'schemaversion')?.text;
  const namespaces = new Set<string>();
  const scan = (e: XmlElement, depth: number) => {
    namespaces.add(e.ns);
    for (const key of e.attrs.keys()) if (key.startsWith('{')) namespaces.add(key.slice(1, key.indexOf('}')));
    if (depth < 64) for (const c of e.children) scan(c, depth + 1);
  };
  scan(root, 0);
  const is12ByNamespace = root.ns === ns.imscp12 || namespaces.has(ns.adlcp12);
  const is2004ByNamespace = namespaces.has(ns.adlcp) || namespaces.has(ns.imsss) || namespaces.has(ns.adlseq) || namespaces.has(ns.adlnav) || root.ns === ns.imscp;
  const byText: Record<string, ScormVersion> = { '1.2': '1.2', 'CAM 1.3': '2004-2', '2004 3rd Edition': '2004-3', '2004 4th Edition': '2004-4' };
  const declared = schemaVersion !== undefined ? byText[schemaVersion.replace(/\s+/g, ' ').trim()] : undefined;
  if (declared) {
    if (declared === '1.2' && !is12ByNamespace && is2004ByNamespace) {
      findings.add({ severity: 'warning', code: 'schemaversion_mismatch', location: 'manifest/metadata/schemaversion', message: 'schemaversion says 1.2 but the manifest uses SCORM 2004 namespaces; it is treated as SCORM 1.2 as declared.' });
    } else if (declared !== '1.2' && is12ByNamespace && !is2004ByNamespace) {
      findings.add({ severity: 'warning', code: 'schemaversion_mismatch', location: 'manifest/metadata/schemaversion', message: `schemaversion says ${schemaVersion} but the manifest uses SCORM 1.2 namespaces; it is treated as SCORM 2004 as declared.` });
    }
    return { version: declared, schemaVersion };
  }
  // No (or an unknown) schemaversion: the namespaces decide, and the 4th edition's own vocabulary
  // (shared data, extended objective maps) tells it from the 3rd.
  const fourthOnly = hasElement(root, (e) => (e.ns === ns.adlcp && e.local === 'data') || (e.ns === ns.adlseq && e.local === 'objectives'))
    || hasElement(root, (e) => e.attrs.has(`{${ns.adlcp}}sharedDataGlobalToSystem`) || (e.ns === ns.adlcp && e.local === 'completionThreshold' && e.attrs.size > 0));
  const version: ScormVersion = is12ByNamespace && !is2004ByNamespace ? '1.2' : is2004ByNamespace ? (fourthOnly ? '2004-4' : '2004-3') : '1.2';
  findings.add({
    severity: 'warning', code: schemaVersion === undefined ? 'schemaversion_missing' : 'schemaversion_unknown', location: 'manifest/metadata/schemaversion',
    message: `${schemaVersion === undefined ? 'The manifest has no metadata/schemaversion' : `schemaversion "${schemaVersion}" is not one SCORM defines (1.2, CAM 1.3, 2004 3rd Edition, 2004 4th Edition)`}; read as ${versionLabel(version)} from its namespaces.`,
  });
  return { version, schemaVersion };
}

function hasElement(e: XmlElement, test: (e: XmlElement) => boolean, depth = 0): boolean {
  return test(e) || (depth < 64 && e.children.some((c) => hasElement(c, test, depth + 1)));
}

export function versionLabel(version: ScormVersion): string {
  return version === '1.2' ? 'SCORM 1.2' : `SCORM 2004 ${version.endsWith('2') ? '2nd' : version.endsWith('3') ? '3rd' : '4th'} Edition`;
}

// Structure -------------------------------------------------------------------------------------

interface ParsedManifest {
  readonly identifier: string;
  readonly defaultOrganization: string | undefined;
  readonly organizations: Organization[];
  readonly resources: Resource[];
  readonly subManifests: ParsedManifest[];
}

function registerId(ctx: Context, id: string, where: string): void {
  const previous = ctx.ids.get(id);
  if (previous !== undefined) {
    ctx.findings.add({ severity: 'error', code: 'duplicate_identifier', location: where, message: `The identifier "${id}" is used more than once (also at ${previous}); identifiers must be unique in a manifest.` });
  } else {
    ctx.ids.set(id, where);
  }
}

function unknown(ctx: Context, e: XmlElement, where: string): void {
  ctx.findings.add({ severity: 'warning', code: 'unknown_element', location: `${where}/${e.qname}`, message: `Unknown element ${e.qname} (namespace ${e.ns || 'none'}) was ignored.` });
}

function xmlBase(e: XmlElement): string | undefined {
  return attr(e, 'base', xmlNamespace);
}

function readManifest(e: XmlElement, outerBases: readonly string[], ctx: Context, where: string, isRoot: boolean): ParsedManifest {
  const identifier = attr(e, 'identifier')?.trim() ?? '';
  if (identifier) registerId(ctx, identifier, where);
  const base = xmlBase(e);
  const bases = base ? [...outerBases, base] : [...outerBases];
  if (base) checkBase(ctx, base, where);
  let organizations: Organization[] = [];
  let defaultOrganization: string | undefined;
  let resources: Resource[] = [];
  const subManifests: ParsedManifest[] = [];
  for (const child of e.children) {
    if (cpNamespaces.has(child.ns)) {
      switch (child.local) {
        case 'metadata': break;
        case 'organizations':
          defaultOrganization = attr(child, 'default')?.trim() || undefined;
          organizations = readOrganizations(child, ctx, `${where}/organizations`);
          break;
        case 'resources': resources = readResources(child, bases, ctx, `${where}/resources`); break;
        case 'manifest':
          subManifests.push(readManifest(child, bases, ctx, `${where}/manifest[${attr(child, 'identifier') ?? ''}]`, false));
          break;
        default: unknown(ctx, child, where);
      }
    } else if (child.ns === ns.imsss && child.local === 'sequencingCollection' && isRoot) {
      // read by parseManifest
    } else {
      unknown(ctx, child, where);
    }
  }
  return { identifier, defaultOrganization, organizations, resources, subManifests };
}

function checkBase(ctx: Context, base: string, where: string): void {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(base) && !base.endsWith('/')) {
    ctx.findings.add({ severity: 'warning', code: 'xml_base_no_trailing_slash', location: where, message: `xml:base="${base}" does not end with "/"; it was read as the folder "${base}/", as its author almost certainly meant.` });
  }
}

function readOrganizations(e: XmlElement, ctx: Context, where: string): Organization[] {
  const out: Organization[] = [];
  for (const child of e.children) {
    if (!cpNamespaces.has(child.ns) || child.local !== 'organization') {
      unknown(ctx, child, where);
      continue;
    }
    const identifier = attr(child, 'identifier')?.trim() ?? '';
    const at = `organizations/${identifier}`;
    if (!identifier) ctx.findings.add({ severity: 'error', code: 'identifier_missing', location: where, message: 'An organization has no identifier.' });
    else registerId(ctx, identifier, at);
    let title = '';
    let sequencing: Sequencing | undefined;
    const items: Item[] = [];
    for (const c of child.children) {
      if (cpNamespaces.has(c.ns) && c.local === 'title') title = c.text;
      else if (cpNamespaces.has(c.ns) && c.local === 'item') items.push(readItem(c, ctx, at));
      else if (cpNamespaces.has(c.ns) && c.local === 'metadata') continue;
      else if (c.ns === ns.imsss && c.local === 'sequencing') sequencing = ctx.seq.read(c, at);
      else unknown(ctx, c, at);
    }
    if (items.length === 0) ctx.findings.add({ severity: 'error', code: 'organization_empty', location: at, message: `Organization "${identifier}" has no items.` });
    const objectivesGlobal = ctx.seq.bool(child, 'objectivesGlobalToSystem', at, ns.adlseq);
    const sharedGlobal = ctx.seq.bool(child, 'sharedDataGlobalToSystem', at, ns.adlcp);
    out.push({
      identifier, title: title || identifier,
      objectivesGlobalToSystem: objectivesGlobal ?? true,
      sharedDataGlobalToSystem: sharedGlobal ?? true,
      ...(sequencing ? { sequencing } : {}),
      items,
    });
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** An adlcp child or attribute by either spelling (1.2 is lower case, 2004 camel case). */
function adlcpName(ctx: Context, e: XmlElement, names12: string, names2004: string, where: string): { value: XmlElement | undefined } {
  const is12 = ctx.version === '1.2';
  for (const c of e.children) {
    if (!adlcpNamespaces.has(c.ns)) continue;
    if (c.local === names12 || c.local === names2004) {
      if ((is12 && c.local !== names12) || (!is12 && c.local !== names2004 && names12 !== names2004)) {
        ctx.findings.add({ severity: 'warning', code: 'adlcp_spelling', location: where, message: `${c.qname} is the ${is12 ? 'SCORM 2004' : 'SCORM 1.2'} spelling; this ${versionLabel(ctx.version)} package should write adlcp:${is12 ? names12 : names2004}. It was read anyway.` });
      }
      return { value: c };
    }
  }
  return { value: undefined };
}

const itemChildren12 = new Set(['prerequisites', 'maxtimeallowed', 'timelimitaction', 'datafromlms', 'masteryscore']);
const itemChildren2004 = new Set(['timeLimitAction', 'dataFromLMS', 'completionThreshold', 'data']);

function readItem(e: XmlElement, ctx: Context, parentWhere: string): Item {
  const identifier = attr(e, 'identifier')?.trim() ?? '';
  const where = `${parentWhere}/item[${identifier}]`;
  if (!identifier) ctx.findings.add({ severity: 'error', code: 'identifier_missing', location: parentWhere, message: 'An item has no identifier.' });
  else registerId(ctx, identifier, where);
  const item: Mutable<Item> & { children: Item[] } = { identifier, title: '', isVisible: true, children: [] };
  const visible = ctx.seq.bool(e, 'isvisible', where);
  if (visible !== undefined) item.isVisible = visible;
  const ref = attr(e, 'identifierref')?.trim();
  if (ref) item.resourceId = ref;
  const parameters = attr(e, 'parameters');
  if (parameters !== undefined && parameters.trim() !== '') item.parameters = parameters.trim();

  for (const c of e.children) {
    if (cpNamespaces.has(c.ns)) {
      if (c.local === 'title') item.title = c.text;
      else if (c.local === 'item') item.children.push(readItem(c, ctx, where));
      else if (c.local !== 'metadata') unknown(ctx, c, where);
    } else if (adlcpNamespaces.has(c.ns)) {
      if (!itemChildren12.has(c.local) && !itemChildren2004.has(c.local) && c.local !== 'maxTimeAllowed' && c.local !== 'masteryScore') unknown(ctx, c, where);
    } else if (c.ns === ns.imsss && c.local === 'sequencing') {
      item.sequencing = ctx.seq.read(c, where);
    } else if (c.ns === ns.adlnav && c.local === 'presentation') {
      const tokens: HideToken[] = [];
      for (const ni of c.children) {
        if (ni.ns !== ns.adlnav || ni.local !== 'navigationInterface') { unknown(ctx, ni, where); continue; }
        for (const h of ni.children) {
          if (h.ns !== ns.adlnav || h.local !== 'hideLMSUI') { unknown(ctx, h, where); continue; }
          if (hideLmsUiTokens.has(h.text as HideToken)) tokens.push(h.text as HideToken);
          else ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/hideLMSUI`, message: `hideLMSUI "${h.text}" is not one of ${[...hideLmsUiTokens].join(', ')}; it was ignored.` });
        }
      }
      if (tokens.length > 0) item.hideLmsUi = [...new Set(tokens)];
    } else {
      unknown(ctx, c, where);
    }
  }
  if (!item.title) {
    ctx.findings.add({ severity: 'warning', code: 'item_title_missing', location: where, message: `Item "${identifier}" has no title; its identifier is shown instead.` });
    item.title = identifier;
  }

  const text = (names12: string, names2004: string) => adlcpName(ctx, e, names12, names2004, where).value?.text;
  const dataFromLms = text('datafromlms', 'dataFromLMS');
  if (dataFromLms !== undefined && dataFromLms !== '') item.dataFromLms = dataFromLms;
  const tla = text('timelimitaction', 'timeLimitAction');
  if (tla !== undefined && tla !== '') {
    const normalized = timeLimitActions.get(tla.toLowerCase().replace(/\s*,\s*/, ',').replace(/\s+/g, ' '));
    if (normalized) item.timeLimitAction = normalized;
    else ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/timeLimitAction`, message: `timeLimitAction "${tla}" is not one of exit,message / exit,no message / continue,message / continue,no message; it was ignored.` });
  }
  const mastery = text('masteryscore', 'masteryScore');
  if (mastery !== undefined && mastery !== '') {
    const n = Number(mastery);
    if (Number.isFinite(n) && n >= 0 && n <= 100) item.masteryScore = n;
    else ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/masteryscore`, message: `masteryscore "${mastery}" is not a number from 0 to 100; it was ignored.` });
    if (ctx.version !== '1.2') ctx.findings.add({ severity: 'warning', code: 'scorm12_element_in_2004', location: `${where}/masteryscore`, message: 'adlcp:masteryscore is a SCORM 1.2 element; SCORM 2004 uses imsss:minNormalizedMeasure of the primary objective. It was kept.' });
  }
  const maxTime = text('maxtimeallowed', 'maxTimeAllowed');
  if (maxTime !== undefined && maxTime !== '') {
    if (/^\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?$/.test(maxTime) || isIsoDuration(maxTime)) item.maxTimeAllowed = maxTime;
    else ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/maxtimeallowed`, message: `maxtimeallowed "${maxTime}" is not a CMITimespan (HHHH:MM:SS.SS); it was ignored.` });
  }
  const prerequisites = adlcpName(ctx, e, 'prerequisites', 'prerequisites', where).value;
  if (prerequisites && prerequisites.text !== '') {
    item.prerequisites = prerequisites.text;
    const type = attr(prerequisites, 'type');
    if (type !== undefined && type !== 'aicc_script') ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/prerequisites`, message: `prerequisites@type="${type}" is not aicc_script (the only type SCORM 1.2 defines).` });
  }
  const threshold = adlcpName(ctx, e, 'completionThreshold', 'completionThreshold', where).value;
  if (threshold) {
    if (threshold.attrs.size === 0 && threshold.text !== '') {
      const n = Number(threshold.text);
      if (Number.isFinite(n) && n >= 0 && n <= 1) item.completionThreshold = { completedByMeasure: true, minProgressMeasure: n, progressWeight: 1 };
      else ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: `${where}/completionThreshold`, message: `completionThreshold "${threshold.text}" is not a number from 0 to 1; it was ignored.` });
    } else {
      const byMeasure = ctx.seq.bool(threshold, 'completedByMeasure', where);
      const min = ctx.seq.decimal(threshold, 'minProgressMeasure', where, [0, 1]);
      const weight = ctx.seq.decimal(threshold, 'progressWeight', where, [0, 1]);
      item.completionThreshold = { completedByMeasure: byMeasure ?? false, minProgressMeasure: min ?? 1, progressWeight: weight ?? 1 };
    }
  }
  const data = adlcpName(ctx, e, 'data', 'data', where).value;
  if (data) {
    const maps: SharedDataMap[] = [];
    for (const m of data.children) {
      if (!adlcpNamespaces.has(m.ns) || m.local !== 'map') { unknown(ctx, m, where); continue; }
      const target = attr(m, 'targetID')?.trim();
      if (!target) {
        ctx.findings.add({ severity: 'error', code: 'shared_data_target_missing', location: `${where}/data`, message: 'An adlcp:map has no targetID.' });
        continue;
      }
      maps.push({ targetID: target, readSharedData: ctx.seq.bool(m, 'readSharedData', where) ?? true, writeSharedData: ctx.seq.bool(m, 'writeSharedData', where) ?? true });
    }
    if (maps.length > 0) item.sharedData = maps;
  }
  if (item.maxTimeAllowed === undefined && item.sequencing?.limitConditions?.attemptAbsoluteDurationLimit) {
    item.maxTimeAllowed = item.sequencing.limitConditions.attemptAbsoluteDurationLimit;
  }
  return item;
}

function readResources(e: XmlElement, outerBases: readonly string[], ctx: Context, where: string): Resource[] {
  const base = xmlBase(e);
  if (base) checkBase(ctx, base, where);
  const bases = base ? [...outerBases, base] : [...outerBases];
  const out: Resource[] = [];
  for (const r of e.children) {
    if (!cpNamespaces.has(r.ns) || r.local !== 'resource') {
      unknown(ctx, r, where);
      continue;
    }
    const identifier = attr(r, 'identifier')?.trim() ?? '';
    const at = `resources/${identifier}`;
    if (!identifier) ctx.findings.add({ severity: 'error', code: 'identifier_missing', location: where, message: 'A resource has no identifier.' });
    else registerId(ctx, identifier, at);
    const rBase = xmlBase(r);
    if (rBase) checkBase(ctx, rBase, at);
    const rBases = rBase ? [...bases, rBase] : bases;

    const type = attr(r, 'type') ?? '';
    if (!type) ctx.findings.add({ severity: 'warning', code: 'resource_type_missing', location: at, message: `Resource "${identifier}" has no type (webcontent expected).` });
    const scormType = readScormType(r, ctx, at);
    const resource: Mutable<Resource> = { identifier, type, scormType, files: [], dependencies: [] };
    const href = attr(r, 'href');
    if (href !== undefined && href.trim() !== '') {
      const resolved = resolveRef(rBases, href);
      if (resolved.kind === 'escapes') {
        ctx.findings.add({ severity: 'error', code: 'href_escapes_root', location: at, message: `Resource "${identifier}" href "${resolved.written}" points outside the package.` });
      } else {
        resource.href = resolved.url;
        if (resolved.kind === 'external') ctx.findings.add({ severity: 'warning', code: 'resource_external', location: at, message: `Resource "${identifier}" is launched from outside the package (${resolved.url}); it is not served by Cairn and may not reach the SCORM API.` });
      }
    }
    const files: string[] = [];
    const dependencies: string[] = [];
    for (const c of r.children) {
      if (cpNamespaces.has(c.ns) && c.local === 'file') {
        const fileHref = attr(c, 'href');
        if (!fileHref) continue;
        const fBase = xmlBase(c);
        const resolved = resolveRef(fBase ? [...rBases, fBase] : rBases, fileHref);
        if (resolved.kind === 'local') files.push(resolved.path);
        else if (resolved.kind === 'escapes') ctx.findings.add({ severity: 'error', code: 'href_escapes_root', location: at, message: `Resource "${identifier}" lists a file "${resolved.written}" outside the package.` });
      } else if (cpNamespaces.has(c.ns) && c.local === 'dependency') {
        const dep = attr(c, 'identifierref')?.trim();
        if (dep) dependencies.push(dep);
      } else if (!(cpNamespaces.has(c.ns) && c.local === 'metadata')) {
        unknown(ctx, c, at);
      }
    }
    resource.files = files;
    resource.dependencies = dependencies;
    out.push(resource);
  }
  return out;
}

function readScormType(r: XmlElement, ctx: Context, at: string): 'sco' | 'asset' {
  const lower = attr(r, 'scormtype', ns.adlcp12) ?? attr(r, 'scormtype', ns.adlcp);
  const camel = attr(r, 'scormType', ns.adlcp) ?? attr(r, 'scormType', ns.adlcp12);
  const value = (ctx.version === '1.2' ? lower ?? camel : camel ?? lower)?.trim();
  if ((ctx.version === '1.2' && lower === undefined && camel !== undefined) || (ctx.version !== '1.2' && camel === undefined && lower !== undefined)) {
    ctx.findings.add({ severity: 'warning', code: 'adlcp_spelling', location: at, message: `adlcp:${ctx.version === '1.2' ? 'scormType' : 'scormtype'} is the ${ctx.version === '1.2' ? 'SCORM 2004' : 'SCORM 1.2'} spelling; it was read anyway.` });
  }
  if (value === undefined) {
    const type = attr(r, 'type');
    if (type === 'webcontent' || type === undefined) {
      ctx.findings.add({ severity: 'warning', code: 'scormtype_missing', location: at, message: 'The resource has no adlcp:scormType; it is treated as a SCO (the SCORM API stays available to it).' });
    }
    return 'sco';
  }
  const v = value.toLowerCase();
  if (v === 'sco' || v === 'asset') return v;
  ctx.findings.add({ severity: 'warning', code: 'invalid_value', location: at, message: `adlcp:scormType "${value}" is neither sco nor asset; it is treated as a SCO.` });
  return 'sco';
}

/** Items get their launch URL and SCORM type from the resource they name. */
function linkItems(items: readonly Item[], resources: ReadonlyMap<string, Resource>, subManifests: ReadonlyMap<string, unknown>, ctx: Context, where: string): Item[] {
  return items.map((item) => {
    const at = `${where}/item[${item.identifier}]`;
    const children = linkItems(item.children, resources, subManifests, ctx, at);
    if (item.resourceId === undefined) {
      if (children.length === 0) {
        ctx.findings.add({
          severity: ctx.version === '1.2' ? 'warning' : 'error', code: 'item_not_launchable', location: at,
          message: `Item "${item.identifier}" has neither an identifierref nor child items, so there is nothing to launch${ctx.version === '1.2' ? '; it is shown as a heading' : ''}.`,
        });
      }
      return { ...item, children };
    }
    if (children.length > 0) {
      ctx.findings.add({ severity: ctx.version === '1.2' ? 'warning' : 'error', code: 'cluster_with_resource', location: at, message: `Item "${item.identifier}" has child items and also an identifierref; only leaf items may reference a resource.` });
    }
    const resource = resources.get(item.resourceId);
    if (!resource) {
      if (!subManifests.has(item.resourceId)) {
        ctx.findings.add({ severity: 'error', code: 'item_resource_missing', location: at, message: `Item "${item.identifier}" refers to the resource "${item.resourceId}", which does not exist in the manifest.` });
      }
      return { ...item, children };
    }
    if (resource.href === undefined) {
      ctx.findings.add({ severity: 'error', code: 'resource_without_href', location: at, message: `Item "${item.identifier}" refers to the resource "${resource.identifier}", which has no href to launch.` });
      return { ...item, scormType: resource.scormType, children };
    }
    return { ...item, scormType: resource.scormType, launchUrl: appendParameters(resource.href, item.parameters), children };
  });
}

/** Checks the model against the files actually in the zip. */
export function validateAgainstFiles(model: PackageModel, files: ReadonlySet<string>, findings: FindingList): void {
  const launched = new Set<string>();
  const walk = (items: readonly Item[], where: string) => {
    for (const item of items) {
      if (item.resourceId !== undefined) launched.add(item.resourceId);
      walk(item.children, `${where}/item[${item.identifier}]`);
    }
  };
  for (const org of model.organizations) walk(org.items, `organizations/${org.identifier}`);
  const listed = new Set<string>(['imsmanifest.xml']);
  for (const r of model.resources) {
    for (const f of r.files) {
      listed.add(f);
      if (!files.has(f)) findings.add({ severity: 'warning', code: 'resource_file_missing', location: `resources/${r.identifier}`, message: `Resource "${r.identifier}" lists the file "${f}", which is not in the zip.` });
    }
    if (r.href === undefined || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(r.href)) continue;
    const path = launchPath(r.href);
    listed.add(path);
    if (!files.has(path)) {
      findings.add({
        severity: launched.has(r.identifier) ? 'error' : 'warning', code: 'launch_file_missing', location: `resources/${r.identifier}`,
        message: `The launch file "${path}" of resource "${r.identifier}" is not in the zip${launched.has(r.identifier) ? '' : ' (no item launches it)'}.`,
      });
    }
  }
  for (const f of files) {
    if (listed.has(f) || /\.(xsd|dtd)$/i.test(f)) continue;
    findings.add({ severity: 'warning', code: 'file_not_listed', location: f, message: `"${f}" is in the zip but no resource lists it (it is still served).` });
  }
}

/** The file path of a package-relative launch URL (no query or fragment, percent-decoded). */
export function launchPath(url: string): string {
  const [path] = url.split(/[?#]/, 1);
  return (path ?? '').split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  }).join('/');
}
