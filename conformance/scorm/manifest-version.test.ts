import { describe, expect, it } from 'vitest';
import { codes, manifest, namespaces12, namespaces2004, oneSco, parse } from './support.js';

const oneSco12 = {
  organizations: '<organizations default="ORG"><organization identifier="ORG"><title>Course</title><item identifier="I1" identifierref="RES"><title>SCO</title></item></organization></organizations>',
  resources: '<resources><resource identifier="RES" type="webcontent" adlcp:scormtype="sco" href="index.html"><file href="index.html"/></resource></resources>',
};

describe('CAM: metadata/schemaversion identifies the SCORM version', () => {
  it('SCORM 1.2 CAM (schemaversion "1.2", imscp_rootv1p1p2 + adlcp_rootv1p2)', async () => {
    const { model, findings } = await parse(manifest({ ns: namespaces12, schemaversion: '1.2', ...oneSco12 }));
    expect(model.version).toBe('1.2');
    expect(model.schemaVersion).toBe('1.2');
    expect(codes(findings)).toEqual([]);
  });

  it('SCORM 2004 2nd Edition (CAM 1.3.1: schemaversion "CAM 1.3")', async () => {
    expect((await parse(manifest({ schemaversion: 'CAM 1.3', ...oneSco }))).model.version).toBe('2004-2');
  });

  it('SCORM 2004 3rd Edition (schemaversion "2004 3rd Edition")', async () => {
    expect((await parse(manifest({ schemaversion: '2004 3rd Edition', ...oneSco }))).model.version).toBe('2004-3');
  });

  it('SCORM 2004 4th Edition (schemaversion "2004 4th Edition")', async () => {
    const { model, findings } = await parse(manifest({ schemaversion: '2004 4th Edition', ...oneSco }));
    expect(model.version).toBe('2004-4');
    expect(codes(findings)).toEqual([]);
  });

  it('without schemaversion, the namespaces decide: adlcp_rootv1p2 → 1.2 (with a warning)', async () => {
    const { model, findings } = await parse(manifest({ ns: namespaces12, schemaversion: null, ...oneSco12 }));
    expect(model.version).toBe('1.2');
    expect(codes(findings, 'warning')).toContain('schemaversion_missing');
  });

  it('without schemaversion, adlcp_v1p3 → 2004 3rd, or 4th when 4th-only vocabulary (adlcp:data, adlseq:objectives) appears', async () => {
    expect((await parse(manifest({ schemaversion: null, ...oneSco }))).model.version).toBe('2004-3');
    const fourth = oneSco.organizations.replace('<title>SCO</title>', '<title>SCO</title><adlcp:data><adlcp:map targetID="shared"/></adlcp:data>');
    expect((await parse(manifest({ schemaversion: null, organizations: fourth, resources: oneSco.resources }))).model.version).toBe('2004-4');
  });

  it('an unknown schemaversion string is reported and the namespaces decide', async () => {
    const { model, findings } = await parse(manifest({ schemaversion: 'SCORM 2004', ...oneSco }));
    expect(model.version).toBe('2004-3');
    expect(codes(findings, 'warning')).toContain('schemaversion_unknown');
  });

  it('a declared 1.2 package written with 2004 namespaces keeps the declaration, with a mismatch warning', async () => {
    const { model, findings } = await parse(manifest({ schemaversion: '1.2', ...oneSco }));
    expect(model.version).toBe('1.2');
    expect(codes(findings, 'warning')).toContain('schemaversion_mismatch');
  });

  it('a root element that is not an IMS CP manifest is an error', async () => {
    const { parseManifest } = await import('../../src/scorm/packages/manifest.js');
    const result = await parseManifest(Buffer.from('<?xml version="1.0"?><html><body/></html>'));
    expect(result.model).toBeUndefined();
    expect(codes(result.findings.list(), 'error')).toEqual(['manifest_invalid_root']);
  });
});
