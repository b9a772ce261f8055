import { describe, expect, it } from 'vitest';
import { appendParameters, resolveRef } from '../../src/scorm/packages/paths.js';
import { codes, findingsOf, item, manifest, namespaces12, oneSco, parse } from './support.js';

const res = (id: string, href: string, type = 'sco', extra = '') => `<resource identifier="${id}" type="webcontent" adlcp:scormType="${type}" href="${href}" ${extra}><file href="${href.split(/[?#]/)[0]}"/></resource>`;

describe('CAM 3 Content Packaging: organizations and items', () => {
  it('reads the default organization and the others, nested items in order, and identifierref → resource', async () => {
    const { model } = await parse(manifest({
      organizations: `<organizations default="B">
        <organization identifier="A"><title>First</title><item identifier="A1" identifierref="R1"><title>a1</title></item></organization>
        <organization identifier="B"><title>Second</title>
          <item identifier="M"><title>Module</title>
            <item identifier="S1" identifierref="R1"><title>one</title></item>
            <item identifier="S2" identifierref="R2" isvisible="false"><title>two</title></item>
          </item>
        </organization></organizations>`,
      resources: `<resources>${res('R1', 'a.html')}${res('R2', 'b.html', 'asset')}</resources>`,
    }));
    expect(model.defaultOrganization).toBe('B');
    expect(model.title).toBe('Second');
    expect(model.organizations.map((o) => o.identifier)).toEqual(['A', 'B']);
    const module = model.organizations[1]!.items[0]!;
    expect(module.resourceId).toBeUndefined();
    expect(module.children.map((c) => [c.identifier, c.launchUrl, c.scormType, c.isVisible])).toEqual([['S1', 'a.html', 'sco', true], ['S2', 'b.html', 'asset', false]]);
  });

  it('organizations@default missing → the first organization, with a warning; naming no organization → error', async () => {
    const noDefault = oneSco.organizations.replace(' default="ORG"', '');
    const a = await parse(manifest({ organizations: noDefault, resources: oneSco.resources }));
    expect(a.model.defaultOrganization).toBe('ORG');
    expect(codes(a.findings, 'warning')).toContain('organization_default_missing');
    expect(codes(await findingsOf(manifest({ organizations: oneSco.organizations.replace('default="ORG"', 'default="NOPE"'), resources: oneSco.resources })), 'error')).toContain('organization_default_invalid');
  });

  it('no organization at all is an error (nothing to launch)', async () => {
    expect(codes(await findingsOf(manifest({ organizations: '<organizations/>', resources: oneSco.resources })), 'error')).toContain('organization_missing');
  });

  it('an item whose identifierref names no resource is an error', async () => {
    const f = await findingsOf(manifest({ organizations: oneSco.organizations.replace('identifierref="RES"', 'identifierref="GONE"'), resources: oneSco.resources }));
    expect(f).toContainEqual(expect.objectContaining({ severity: 'error', code: 'item_resource_missing', location: 'organizations/ORG/item[I1]' }));
  });

  it('duplicate identifiers are an error', async () => {
    const dup = oneSco.organizations.replace('</organization>', '<item identifier="I1" identifierref="RES"><title>again</title></item></organization>');
    expect(codes(await findingsOf(manifest({ organizations: dup, resources: oneSco.resources })), 'error')).toContain('duplicate_identifier');
  });

  it('a 2004 leaf item without identifierref is an error; in 1.2 it is a heading (warning)', async () => {
    const leaf = '<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>x</title></item><item identifier="H"><title>Heading</title></item></organization></organizations>';
    expect(codes(await findingsOf(manifest({ organizations: leaf, resources: oneSco.resources })), 'error')).toContain('item_not_launchable');
    const f12 = await findingsOf(manifest({ ns: namespaces12, schemaversion: '1.2', organizations: leaf, resources: oneSco.resources.replace('scormType', 'scormtype') }));
    expect(codes(f12, 'warning')).toContain('item_not_launchable');
    expect(codes(f12, 'error')).toEqual([]);
  });

  it('unknown elements are warnings, not errors', async () => {
    const f = await findingsOf(manifest({ organizations: oneSco.organizations.replace('<title>SCO</title>', '<title>SCO</title><foo:bar xmlns:foo="urn:x"/>'), resources: oneSco.resources }));
    expect(f).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'unknown_element' }));
    expect(codes(f, 'error')).toEqual([]);
  });
});

describe('CAM 3 Content Packaging: xml:base (manifest, resources, resource, file)', () => {
  it('composes xml:base from manifest → resources → resource into hrefs and file paths', async () => {
    const { model } = await parse(manifest({
      attrs: 'xml:base="pkg/"',
      organizations: oneSco.organizations,
      resources: `<resources xml:base="content/"><resource identifier="RES" type="webcontent" adlcp:scormType="sco" xml:base="unit1/" href="start.html"><file href="start.html"/><file href="../shared/app.js"/></resource></resources>`,
    }));
    expect(model.resources[0]).toMatchObject({ href: 'pkg/content/unit1/start.html', files: ['pkg/content/unit1/start.html', 'pkg/content/shared/app.js'] });
    expect(item(model, 'I1').launchUrl).toBe('pkg/content/unit1/start.html');
  });

  it('an xml:base without a trailing slash is read as a folder, with a warning', async () => {
    const { model, findings } = await parse(manifest({ organizations: oneSco.organizations, resources: oneSco.resources.replace('<resources>', '<resources xml:base="content">') }));
    expect(model.resources[0]!.href).toBe('content/index.html');
    expect(codes(findings, 'warning')).toContain('xml_base_no_trailing_slash');
  });

  it('an href that climbs out of the package with ../ is an error', async () => {
    expect(codes(await findingsOf(manifest({ organizations: oneSco.organizations, resources: oneSco.resources.replace('href="index.html">', 'href="../../etc/passwd">') })), 'error')).toContain('href_escapes_root');
  });

  it('an absolute URL xml:base makes the resource external (warning)', async () => {
    const { model, findings } = await parse(manifest({ organizations: oneSco.organizations, resources: oneSco.resources.replace('<resources>', '<resources xml:base="https://cdn.example.com/course/">') }));
    expect(model.resources[0]!.href).toBe('https://cdn.example.com/course/index.html');
    expect(codes(findings, 'warning')).toContain('resource_external');
  });

  it('percent-encoded hrefs stay URLs while files are matched decoded', () => {
    expect(resolveRef(['my course/'], 'page%201.html?x=a b')).toEqual({ kind: 'local', path: 'my course/page 1.html', url: 'my%20course/page%201.html?x=a b' });
  });
});

describe('CAM 3 Content Packaging: item parameters appended to the launch href', () => {
  it.each([
    ['a.html', '?x=1', 'a.html?x=1'],
    ['a.html', 'x=1', 'a.html?x=1'],
    ['a.html', '&x=1', 'a.html?x=1'],
    ['a.html?y=2', '?x=1', 'a.html?y=2&x=1'],
    ['a.html?y=2', 'x=1', 'a.html?y=2&x=1'],
    ['a.html', '#part2', 'a.html#part2'],
    ['a.html#part1', '#part2', 'a.html#part1'],
    ['a.html#part1', 'x=1', 'a.html?x=1#part1'],
    ['a.html', '', 'a.html'],
  ])('%s + parameters %s → %s', (href, parameters, expected) => {
    expect(appendParameters(href, parameters)).toBe(expected);
  });

  it('the parsed item carries the resulting launch URL', async () => {
    const { model } = await parse(manifest({ organizations: oneSco.organizations.replace('identifierref="RES"', 'identifierref="RES" parameters="?page=3"'), resources: oneSco.resources.replace('href="index.html">', 'href="index.html?lang=en">') }));
    expect(item(model, 'I1')).toMatchObject({ parameters: '?page=3', launchUrl: 'index.html?lang=en&page=3' });
  });
});

describe('SCORM 1.2 CAM: adlcp extensions on items and resources', () => {
  const org12 = (inner: string) => `<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title>${inner}</item></organization></organizations>`;
  const res12 = '<resources><resource identifier="RES" type="webcontent" adlcp:scormtype="sco" href="index.html"><file href="index.html"/></resource></resources>';

  it('reads masteryscore, datafromlms, maxtimeallowed, timelimitaction and prerequisites', async () => {
    const { model, findings } = await parse(manifest({
      ns: namespaces12, schemaversion: '1.2', resources: res12,
      organizations: org12('<adlcp:prerequisites type="aicc_script">I0</adlcp:prerequisites><adlcp:maxtimeallowed>00:15:00</adlcp:maxtimeallowed><adlcp:timelimitaction>continue, no message</adlcp:timelimitaction><adlcp:datafromlms>level=2</adlcp:datafromlms><adlcp:masteryscore>75.5</adlcp:masteryscore>'),
    }));
    expect(item(model, 'I1')).toMatchObject({ prerequisites: 'I0', maxTimeAllowed: '00:15:00', timeLimitAction: 'continue,no message', dataFromLms: 'level=2', masteryScore: 75.5, scormType: 'sco' });
    expect(codes(findings)).toEqual([]);
  });

  it('adlcp:scormtype sco vs asset; a missing one is a SCO with a warning', async () => {
    const { model, findings } = await parse(manifest({ ns: namespaces12, schemaversion: '1.2', organizations: org12(''), resources: res12.replace(' adlcp:scormtype="sco"', '') }));
    expect(model.resources[0]!.scormType).toBe('sco');
    expect(codes(findings, 'warning')).toContain('scormtype_missing');
  });

  it('1.2 oddities are warnings: the 2004 spelling adlcp:scormType, a masteryscore out of 0–100', async () => {
    const f = await findingsOf(manifest({ ns: namespaces12.replace('adlcp_rootv1p2', 'adlcp_rootv1p2'), schemaversion: '1.2', organizations: org12('<adlcp:masteryscore>150</adlcp:masteryscore>'), resources: res12.replace('scormtype', 'scormType') }));
    expect(codes(f, 'warning')).toEqual(expect.arrayContaining(['adlcp_spelling', 'invalid_value']));
    expect(codes(f, 'error')).toEqual([]);
  });
});

describe('SCORM 2004 CAM: adlcp and adlnav extensions', () => {
  const orgWith = (inner: string, orgAttrs = '') => `<organizations default="ORG"><organization identifier="ORG" ${orgAttrs}><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title>${inner}</item></organization></organizations>`;

  it('reads timeLimitAction, dataFromLMS and completionThreshold (4th edition attribute form)', async () => {
    const { model } = await parse(manifest({ organizations: orgWith('<adlcp:timeLimitAction>exit,no message</adlcp:timeLimitAction><adlcp:dataFromLMS>cfg</adlcp:dataFromLMS><adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.6" progressWeight="0.5"/>'), resources: oneSco.resources }));
    expect(item(model, 'I1')).toMatchObject({ timeLimitAction: 'exit,no message', dataFromLms: 'cfg', completionThreshold: { completedByMeasure: true, minProgressMeasure: 0.6, progressWeight: 0.5 } });
  });

  it('completionThreshold in the 3rd edition element form', async () => {
    const { model } = await parse(manifest({ schemaversion: '2004 3rd Edition', organizations: orgWith('<adlcp:completionThreshold>0.75</adlcp:completionThreshold>'), resources: oneSco.resources }));
    expect(item(model, 'I1').completionThreshold).toEqual({ completedByMeasure: true, minProgressMeasure: 0.75, progressWeight: 1 });
  });

  it('completionThreshold attribute defaults are false / 1.0 / 1.0', async () => {
    const { model } = await parse(manifest({ organizations: orgWith('<adlcp:completionThreshold completedByMeasure="false"/>'), resources: oneSco.resources }));
    expect(item(model, 'I1').completionThreshold).toEqual({ completedByMeasure: false, minProgressMeasure: 1, progressWeight: 1 });
  });

  it('hideLMSUI tokens, shared data maps, objectivesGlobalToSystem and sharedDataGlobalToSystem', async () => {
    const { model } = await parse(manifest({
      organizations: orgWith(
        '<adlnav:presentation><adlnav:navigationInterface><adlnav:hideLMSUI>continue</adlnav:hideLMSUI><adlnav:hideLMSUI>suspendAll</adlnav:hideLMSUI></adlnav:navigationInterface></adlnav:presentation><adlcp:data><adlcp:map targetID="notes" readSharedData="true" writeSharedData="false"/></adlcp:data>',
        'adlseq:objectivesGlobalToSystem="false" adlcp:sharedDataGlobalToSystem="false"',
      ),
      resources: oneSco.resources,
    }));
    expect(model.organizations[0]).toMatchObject({ objectivesGlobalToSystem: false, sharedDataGlobalToSystem: false });
    expect(item(model, 'I1')).toMatchObject({ hideLmsUi: ['continue', 'suspendAll'], sharedData: [{ targetID: 'notes', readSharedData: true, writeSharedData: false }] });
  });

  it('objectivesGlobalToSystem and sharedDataGlobalToSystem default to true', async () => {
    expect((await parse(manifest(oneSco))).model.organizations[0]).toMatchObject({ objectivesGlobalToSystem: true, sharedDataGlobalToSystem: true });
  });
});

describe('CAM 3 Content Packaging: (sub)manifests', () => {
  it('an item whose identifierref names a sub-manifest aggregates that manifest\'s default organization and resources', async () => {
    const { model, findings } = await parse(manifest({
      organizations: '<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title></item><item identifier="UNIT" identifierref="SUB"><title>Unit 2</title></item></organization></organizations>',
      resources: oneSco.resources,
      extra: `<manifest identifier="SUB" xml:base="unit2/"><organizations default="SORG"><organization identifier="SORG"><title>Unit</title><item identifier="U1" identifierref="URES"><title>Lesson</title></item></organization></organizations><resources>${res('URES', 'lesson.html')}</resources></manifest>`,
    }));
    expect(codes(findings, 'error')).toEqual([]);
    const unit = item(model, 'UNIT');
    expect(unit.resourceId).toBeUndefined();
    expect(unit.children.map((c) => [c.identifier, c.launchUrl])).toEqual([['U1', 'unit2/lesson.html']]);
    expect(model.resources.map((r) => r.identifier)).toEqual(['RES', 'URES']);
  });

  it('a sub-manifest aggregated by two items is an error (its activities would appear twice)', async () => {
    const f = await findingsOf(manifest({
      organizations: '<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="A" identifierref="SUB"><title>a</title></item><item identifier="B" identifierref="SUB"><title>b</title></item></organization></organizations>',
      resources: oneSco.resources,
      extra: `<manifest identifier="SUB"><organizations default="SORG"><organization identifier="SORG"><title>U</title><item identifier="U1" identifierref="URES"><title>L</title></item></organization></organizations><resources>${res('URES', 'l.html')}</resources></manifest>`,
    }));
    expect(codes(f, 'error')).toContain('submanifest_reused');
  });

  it('an unreferenced sub-manifest is reported and ignored', async () => {
    const f = await findingsOf(manifest({ ...oneSco, extra: '<manifest identifier="SUB"><organizations/><resources/></manifest>' }));
    expect(codes(f, 'warning')).toContain('submanifest_unreferenced');
  });
});

describe('validation against the files in the zip', () => {
  it('a launch file missing from the zip is an error; a listed non-launch file missing is a warning; unlisted files are warnings', async () => {
    const xml = manifest({ organizations: oneSco.organizations, resources: oneSco.resources.replace('<file href="index.html"/>', '<file href="index.html"/><file href="img/logo.png"/>') });
    const f = await findingsOf(xml, ['imsmanifest.xml', 'extra.txt', 'schema.xsd']);
    expect(f).toContainEqual(expect.objectContaining({ severity: 'error', code: 'launch_file_missing' }));
    expect(f).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'resource_file_missing' }));
    expect(f).toContainEqual(expect.objectContaining({ severity: 'warning', code: 'file_not_listed', location: 'extra.txt' }));
    expect(f.map((x) => x.location)).not.toContain('schema.xsd');
    const ok = await findingsOf(xml, ['imsmanifest.xml', 'index.html', 'img/logo.png']);
    expect(codes(ok)).toEqual([]);
  });

  it('a flood of findings of one kind is summarized after 50', async () => {
    const xml = manifest(oneSco);
    const files = ['imsmanifest.xml', 'index.html', ...Array.from({ length: 120 }, (_, i) => `junk/${i}.txt`)];
    const f = await findingsOf(xml, files);
    expect(f.filter((x) => x.code === 'file_not_listed')).toHaveLength(51);
    expect(f.at(-1)!.message).toContain('70 more');
  });
});
