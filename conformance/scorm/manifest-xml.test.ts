import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/scorm/packages/manifest.js';
import { codes, item, manifest, oneSco, parse } from './support.js';

describe('CAM 3 Content Packaging: the manifest is read as XML without DTD processing', () => {
  it('an external entity (XXE) is never fetched: the manifest is refused with manifest_dtd_entity', async () => {
    const xml = manifest(oneSco).replace('<manifest ', '<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<manifest ').replace('<title>SCO</title>', '<title>&xxe;</title>');
    const result = await parseManifest(Buffer.from(xml));
    expect(result.model).toBeUndefined();
    expect(codes(result.findings.list())).toEqual(['manifest_dtd_entity']);
  });

  it('nested "billion laughs" entities are never expanded', async () => {
    const laughs = '<!DOCTYPE manifest [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>';
    const xml = manifest(oneSco).replace('<manifest ', `${laughs}\n<manifest `).replace('<title>SCO</title>', '<title>&d;&d;&d;</title>');
    const before = process.memoryUsage().heapUsed;
    const result = await parseManifest(Buffer.from(xml));
    expect(result.model).toBeUndefined();
    expect(JSON.stringify(result.findings.list())).not.toContain('aaaaaaaaaaaaaaaaaaaa');
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
  });

  it('even without a DOCTYPE an unknown entity reference is a parse error (sax knows only the five XML entities)', async () => {
    const result = await parseManifest(Buffer.from(manifest(oneSco).replace('<title>SCO</title>', '<title>&ghost;</title>')));
    expect(codes(result.findings.list())).toEqual(['manifest_malformed']);
  });

  it('the predefined entities and character references are decoded', async () => {
    const { model } = await parse(manifest(oneSco).replace('<title>SCO</title>', '<title>Q&amp;A &#8211; &lt;1&gt;</title>'));
    expect(item(model, 'I1').title).toBe('Q&A – <1>');
  });

  it('malformed XML is an error naming the problem', async () => {
    const result = await parseManifest(Buffer.from(manifest(oneSco).replace('</organizations>', '')));
    expect(result.findings.list()[0]).toMatchObject({ severity: 'error', code: 'manifest_malformed' });
    expect(result.findings.list()[0]!.message).toMatch(/not well-formed/);
  });

  it('a UTF-8 BOM, UTF-16 and a declared ISO-8859-1 encoding are decoded', async () => {
    const xml = manifest(oneSco).replace('<title>SCO</title>', '<title>Café</title>');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)]);
    const rb = await parseManifest(bom);
    expect(rb.model && item(rb.model, 'I1').title).toBe('Café');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le')]);
    const r16 = await parseManifest(utf16);
    expect(r16.model && item(r16.model, 'I1').title).toBe('Café');
    const latin = Buffer.from(xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'), 'latin1');
    const rl = await parseManifest(latin);
    expect(rl.model && item(rl.model, 'I1').title).toBe('Café');
  });

  it('namespace prefixes are free: a manifest binding ADL namespaces to other prefixes reads the same', async () => {
    const xml = manifest({
      ns: 'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:x="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:s="http://www.imsglobal.org/xsd/imsss"',
      organizations: '<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title><x:dataFromLMS>d</x:dataFromLMS><s:sequencing><s:limitConditions attemptLimit="4"/></s:sequencing></item></organization></organizations>',
      resources: '<resources><resource identifier="RES" type="webcontent" x:scormType="asset" href="index.html"><file href="index.html"/></resource></resources>',
    });
    const { model } = await parse(xml);
    expect(item(model, 'I1')).toMatchObject({ dataFromLms: 'd', scormType: 'asset', sequencing: { limitConditions: { attemptLimit: 4 } } });
  });
});
