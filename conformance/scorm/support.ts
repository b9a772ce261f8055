import { parseManifest, validateAgainstFiles, FindingList } from '../../src/scorm/packages/manifest.js';
import type { Item, PackageModel, ValidationFinding } from '../../src/scorm/packages/model.js';

export const namespaces12 = 'xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"';
export const namespaces2004 = 'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss"';

/** A manifest with the given schemaversion (omitted when null), organizations and resources markup. */
export function manifest(opts: { ns?: string; schemaversion?: string | null; organizations: string; resources: string; extra?: string; attrs?: string }): string {
  const meta = opts.schemaversion === null ? '' : `<metadata><schema>ADL SCORM</schema><schemaversion>${opts.schemaversion ?? '2004 4th Edition'}</schemaversion></metadata>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<manifest identifier="MANIFEST" ${opts.ns ?? namespaces2004} ${opts.attrs ?? ''}>${meta}${opts.organizations}${opts.resources}${opts.extra ?? ''}</manifest>`;
}

/** One organization with one SCO (RES) — the smallest valid package body. */
export const oneSco = {
  organizations: '<organizations default="ORG"><organization identifier="ORG"><title>Course</title><item identifier="I1" identifierref="RES"><title>SCO</title></item></organization></organizations>',
  resources: '<resources><resource identifier="RES" type="webcontent" adlcp:scormType="sco" href="index.html"><file href="index.html"/></resource></resources>',
};

export async function parse(xml: string): Promise<{ model: PackageModel; findings: ValidationFinding[] }> {
  const result = await parseManifest(Buffer.from(xml));
  if (!result.model) throw new Error(`no model: ${JSON.stringify(result.findings.list())}`);
  return { model: result.model, findings: result.findings.list() };
}

export async function findingsOf(xml: string, files?: readonly string[]): Promise<ValidationFinding[]> {
  const result = await parseManifest(Buffer.from(xml));
  if (result.model && files) validateAgainstFiles(result.model, new Set(files), result.findings);
  return result.findings.list();
}

export function codes(findings: readonly ValidationFinding[], severity?: 'error' | 'warning'): string[] {
  return findings.filter((f) => !severity || f.severity === severity).map((f) => f.code);
}

export function item(model: PackageModel, identifier: string): Item {
  const walk = (items: readonly Item[]): Item | undefined => {
    for (const i of items) {
      if (i.identifier === identifier) return i;
      const found = walk(i.children);
      if (found) return found;
    }
    return undefined;
  };
  for (const org of model.organizations) {
    const found = walk(org.items);
    if (found) return found;
  }
  throw new Error(`no item ${identifier}`);
}

export { FindingList };
