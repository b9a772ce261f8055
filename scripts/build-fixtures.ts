/**
 * `npx tsx scripts/build-fixtures.ts`: (re)writes the SCORM package fixtures under fixtures/scorm/
 * and their README. Every zip there is generated here — never edit one by hand; change this file
 * and run it again. test/scorm/import-fixtures.test.ts regenerates everything in memory and fails
 * when a committed file differs, so fixtures cannot drift from their description.
 *
 * Sections: "Import" (package upload, zip safety, manifest validation) and "Runtime" (packages
 * played in the browser tests), each owned by the engineer of that half.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeZip, type ZipEntrySpec } from './zip-writer.js';
import { runtimeFixtures } from './runtime-fixtures.js';

export interface FixtureSpec {
  /** File name under fixtures/scorm/. */
  readonly file: string;
  /** What it is for, and what Cairn must do with it. */
  readonly purpose: string;
  /** `ready`, or the finding code that must reject it. */
  readonly expect: string;
  build(): Buffer;
}

// Shared content --------------------------------------------------------------------------------

const page = (title: string, body = '') =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="shared/style.css"></head>\n<body><h1>${title}</h1>${body}</body></html>\n`;
const css = 'body { font-family: sans-serif; margin: 2rem; }\n'.repeat(40);

export const manifest12 = (opts: { launch?: string; extraFiles?: string[]; resourceRef?: string } = {}) => `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.cairn.fixture12" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="ORG-1">
    <organization identifier="ORG-1">
      <title>Fixture course (SCORM 1.2)</title>
      <item identifier="ITEM-1" identifierref="${opts.resourceRef ?? 'RES-1'}" parameters="?lesson=1">
        <title>Lesson 1</title>
        <adlcp:masteryscore>80</adlcp:masteryscore>
        <adlcp:datafromlms>mode=quiz</adlcp:datafromlms>
        <adlcp:maxtimeallowed>00:30:00</adlcp:maxtimeallowed>
        <adlcp:timelimitaction>exit,message</adlcp:timelimitaction>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-1" type="webcontent" adlcp:scormtype="sco" href="${opts.launch ?? 'index.html'}">
      <file href="${opts.launch ?? 'index.html'}"/>
      <file href="shared/style.css"/>${(opts.extraFiles ?? []).map((f) => `\n      <file href="${f}"/>`).join('')}
    </resource>
  </resources>
</manifest>
`;

const manifest2004 = `<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.cairn.fixture2004" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
  xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="ORG">
    <organization identifier="ORG" adlseq:objectivesGlobalToSystem="false">
      <title>Fixture course (SCORM 2004 4th)</title>
      <item identifier="MODULE-1">
        <title>Module 1</title>
        <item identifier="SCO-1" identifierref="RES-SCO-1" parameters="chapter=1">
          <title>Introduction</title>
          <adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.8"/>
          <imsss:sequencing IDRef="common">
            <imsss:objectives>
              <imsss:primaryObjective objectiveID="intro-done" satisfiedByMeasure="true">
                <imsss:minNormalizedMeasure>0.7</imsss:minNormalizedMeasure>
                <imsss:mapInfo targetObjectiveID="urn:cairn:fixture:intro" writeSatisfiedStatus="true"/>
              </imsss:primaryObjective>
            </imsss:objectives>
          </imsss:sequencing>
          <adlnav:presentation><adlnav:navigationInterface><adlnav:hideLMSUI>previous</adlnav:hideLMSUI></adlnav:navigationInterface></adlnav:presentation>
        </item>
        <item identifier="SCO-2" identifierref="RES-SCO-2">
          <title>Quiz</title>
          <imsss:sequencing>
            <imsss:sequencingRules>
              <imsss:preConditionRule>
                <imsss:ruleConditions><imsss:ruleCondition referencedObjective="prereq" operator="not" condition="satisfied"/></imsss:ruleConditions>
                <imsss:ruleAction action="disabled"/>
              </imsss:preConditionRule>
            </imsss:sequencingRules>
            <imsss:limitConditions attemptLimit="3"/>
            <imsss:objectives>
              <imsss:primaryObjective objectiveID="quiz"/>
              <imsss:objective objectiveID="prereq"><imsss:mapInfo targetObjectiveID="urn:cairn:fixture:intro" readSatisfiedStatus="true"/></imsss:objective>
            </imsss:objectives>
          </imsss:sequencing>
        </item>
      </item>
      <imsss:sequencing>
        <imsss:controlMode choice="true" flow="true"/>
        <imsss:rollupRules>
          <imsss:rollupRule childActivitySet="all">
            <imsss:rollupConditions><imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions>
            <imsss:rollupAction action="satisfied"/>
          </imsss:rollupRule>
        </imsss:rollupRules>
      </imsss:sequencing>
    </organization>
  </organizations>
  <resources xml:base="content/">
    <resource identifier="RES-SCO-1" type="webcontent" adlcp:scormType="sco" href="intro.html">
      <file href="intro.html"/>
      <dependency identifierref="RES-SHARED"/>
    </resource>
    <resource identifier="RES-SCO-2" type="webcontent" adlcp:scormType="sco" xml:base="quiz/" href="quiz.html#start">
      <file href="quiz.html"/>
      <dependency identifierref="RES-SHARED"/>
    </resource>
    <resource identifier="RES-SHARED" type="webcontent" adlcp:scormType="asset">
      <file href="shared/style.css"/>
      <file href="shared/pixel.bin"/>
    </resource>
  </resources>
  <imsss:sequencingCollection>
    <imsss:sequencing ID="common">
      <imsss:deliveryControls tracked="true" completionSetByContent="true"/>
    </imsss:sequencing>
  </imsss:sequencingCollection>
</manifest>
`;

/** A complete valid 1.2 package's entries; hostile fixtures add or swap one entry. */
const basic12 = (): ZipEntrySpec[] => [
  { name: 'imsmanifest.xml', data: manifest12() },
  { name: 'index.html', data: page('Lesson 1') },
  { name: 'shared/style.css', data: css, method: 8 },
];

// Import section ---------------------------------------------------------------------------------

export const importFixtures: FixtureSpec[] = [
  {
    file: 'valid-scorm12.zip', expect: 'ready',
    purpose: 'SCORM 1.2, one SCO with masteryscore, datafromlms, maxtimeallowed, timelimitaction and item parameters; one file not listed by any resource (a warning).',
    build: () => writeZip([...basic12(), { name: 'extra/notes.txt', data: 'not listed in the manifest\n' }]),
  },
  {
    file: 'valid-scorm2004-4th.zip', expect: 'ready',
    purpose: 'SCORM 2004 4th Edition: nested items, xml:base on resources and a resource, parameters and a fragment, completionThreshold, sequencing (rules, limits, rollup, objectives with mapInfo, IDRef into a sequencingCollection), hideLMSUI; deflated entries.',
    build: () => writeZip([
      { name: 'imsmanifest.xml', data: manifest2004, method: 8 },
      { name: 'content/', data: '' },
      { name: 'content/intro.html', data: page('Introduction'), method: 8 },
      { name: 'content/quiz/quiz.html', data: page('Quiz'), method: 8 },
      { name: 'content/shared/style.css', data: css, method: 8 },
      { name: 'content/shared/pixel.bin', data: Buffer.alloc(4096, 0xff), method: 8 },
    ]),
  },
  {
    file: 'nested-folder.zip', expect: 'ready',
    purpose: 'The package folder was zipped instead of its contents: imsmanifest.xml sits in course/. Re-rooted with a warning; the __MACOSX/ resource forks beside it are skipped.',
    build: () => writeZip([
      ...basic12().map((e) => ({ ...e, name: `course/${e.name as string}` })),
      { name: '__MACOSX/course/._index.html', data: Buffer.from([0, 5, 22, 7, 0, 2, 0, 0]) },
    ]),
  },
  {
    file: 'unflagged-utf8-names.zip', expect: 'ready',
    purpose: 'A UTF-8 file name (résumé.html) written without the UTF-8 flag, as macOS Archive Utility does: read as UTF-8, with a warning.',
    build: () => writeZip([
      { name: 'imsmanifest.xml', data: manifest12({ launch: 'r%C3%A9sum%C3%A9.html' }) },
      { name: 'résumé.html', data: page('Résumé'), utf8Flag: false },
      { name: 'shared/style.css', data: css },
    ]),
  },
  {
    file: 'zip-slip.zip', expect: 'zip_entry_escapes_root',
    purpose: 'An entry named ../../evil.html that would be written outside the package folder ("zip slip").',
    build: () => writeZip([...basic12(), { name: '../../evil.html', data: '<script>alert(1)</script>' }]),
  },
  {
    file: 'absolute-path.zip', expect: 'zip_entry_absolute_path',
    purpose: 'An entry with an absolute path (/tmp/evil.html).',
    build: () => writeZip([...basic12(), { name: '/tmp/evil.html', data: 'x' }]),
  },
  {
    file: 'drive-letter.zip', expect: 'zip_entry_drive_letter',
    purpose: 'An entry with a Windows drive letter (C:/evil.html).',
    build: () => writeZip([...basic12(), { name: 'C:/evil.html', data: 'x' }]),
  },
  {
    file: 'backslash.zip', expect: 'zip_entry_backslash',
    purpose: 'An entry using backslashes (..\\evil.html): a separator on Windows and a zip-slip vector.',
    build: () => writeZip([...basic12(), { name: '..\\evil.html', data: 'x' }]),
  },
  {
    file: 'symlink.zip', expect: 'zip_entry_symlink',
    purpose: 'A Unix symlink entry (mode 0120777) pointing at /etc/passwd.',
    build: () => writeZip([...basic12(), { name: 'passwd.html', data: '/etc/passwd', unixMode: 0o120777 }]),
  },
  {
    file: 'bomb-ratio.zip', expect: 'zip_entry_ratio_exceeded',
    purpose: 'One entry inflating 126 KB to 20 MB (ratio 159:1, above the default limit 100:1).',
    build: () => writeZip([...basic12(), { name: 'zeros.bin', data: Buffer.alloc(20_000_000), method: 8 }]),
  },
  {
    file: 'bomb-total.zip', expect: 'zip_too_large_uncompressed',
    purpose: '40 entries of just under 1 MiB of zeros each (40 MB from 250 KB); each passes the ratio check, the total does not once CAIRN_SCORM_MAX_UNCOMPRESSED is 16mb (the test sets it).',
    build: () => writeZip([...basic12(), ...Array.from({ length: 40 }, (_, i) => ({ name: `pad/${String(i).padStart(2, '0')}.bin`, data: Buffer.alloc(1_000_000), method: 8 as const }))]),
  },
  {
    file: 'bomb-lying-size.zip', expect: 'zip_entry_size_mismatch',
    purpose: 'An entry whose headers declare 1,000 bytes but which inflates to 5 MB: the declared ratio looks harmless, so only counting the bytes actually inflated catches it.',
    build: () => writeZip([...basic12(), { name: 'liar.bin', data: Buffer.alloc(5_000_000), method: 8, declaredSize: 1000 }]),
  },
  {
    file: 'too-many-entries.zip', expect: 'zip_too_many_entries',
    purpose: '1,003 entries; rejected when CAIRN_SCORM_MAX_ENTRIES is 1000 (the test sets it).',
    build: () => writeZip([...basic12(), ...Array.from({ length: 1000 }, (_, i) => ({ name: `f/${i}.txt`, data: '' }))]),
  },
  {
    file: 'non-utf8-name.zip', expect: 'zip_entry_name_not_utf8',
    purpose: 'An entry name in a legacy code page (r\\xe9sum\\xe9.html, Latin-1) without the UTF-8 flag: which name was meant cannot be known, so it is refused.',
    build: () => writeZip([...basic12(), { name: Buffer.from('r\xe9sum\xe9.html', 'latin1'), data: 'x' }]),
  },
  {
    file: 'duplicate-names.zip', expect: 'zip_entry_duplicate',
    purpose: 'index.html twice with different content: which one is meant cannot be known.',
    build: () => writeZip([...basic12(), { name: 'index.html', data: page('Impostor') }]),
  },
  {
    file: 'encrypted.zip', expect: 'zip_entry_encrypted',
    purpose: 'An entry flagged as encrypted (general-purpose bit 0).',
    build: () => writeZip([...basic12(), { name: 'secret.html', data: 'ciphertext', encryptedFlag: true }]),
  },
  {
    file: 'unsupported-compression.zip', expect: 'zip_entry_unsupported_compression',
    purpose: 'An entry declaring bzip2 compression (method 12), which neither Cairn nor most LMSs read.',
    build: () => writeZip([...basic12(), { name: 'data.bin', data: 'BZh91AY&SY', fakeMethod: 12 }]),
  },
  {
    file: 'no-manifest.zip', expect: 'manifest_missing',
    purpose: 'A zip of web pages with no imsmanifest.xml anywhere.',
    build: () => writeZip([{ name: 'index.html', data: page('Just a page') }]),
  },
  {
    file: 'manifest-wrong-case.zip', expect: 'manifest_missing',
    purpose: 'The manifest is named IMSManifest.xml; the name is case-sensitive.',
    build: () => writeZip([{ name: 'IMSManifest.xml', data: manifest12() }, { name: 'index.html', data: page('Lesson 1') }, { name: 'shared/style.css', data: css }]),
  },
  {
    file: 'corrupt.zip', expect: 'zip_corrupt',
    purpose: 'A valid package cut short: the central directory and end record are missing.',
    build: () => {
      const whole = writeZip(basic12());
      return whole.subarray(0, Math.floor(whole.length * 0.6));
    },
  },
  {
    file: 'manifest-malformed.zip', expect: 'manifest_malformed',
    purpose: 'imsmanifest.xml is not well-formed XML (an unclosed element).',
    build: () => writeZip([{ name: 'imsmanifest.xml', data: manifest12().replace('</organizations>', '') }, { name: 'index.html', data: page('Lesson 1') }]),
  },
  {
    file: 'manifest-xxe.zip', expect: 'manifest_dtd_entity',
    purpose: 'A manifest with a DOCTYPE declaring an external entity (file:///etc/passwd) and nested "billion laughs" entities used in the title; they must never be fetched or expanded.',
    build: () => writeZip([
      {
        name: 'imsmanifest.xml',
        data: manifest12().replace('<manifest ', '<!DOCTYPE manifest [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n  <!ENTITY lol "lol">\n  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n]>\n<manifest ')
          .replace('<title>Lesson 1</title>', '<title>&lol2;&xxe;</title>'),
      },
      { name: 'index.html', data: page('Lesson 1') },
      { name: 'shared/style.css', data: css },
    ]),
  },
  {
    file: 'missing-launch-file.zip', expect: 'launch_file_missing',
    purpose: 'The SCO\'s launch file (index.html) is listed in the manifest but not in the zip.',
    build: () => writeZip(basic12().filter((e) => e.name !== 'index.html')),
  },
  {
    file: 'missing-resource.zip', expect: 'item_resource_missing',
    purpose: 'The item\'s identifierref names a resource the manifest does not have.',
    build: () => writeZip([{ name: 'imsmanifest.xml', data: manifest12({ resourceRef: 'RES-NOPE' }) }, { name: 'index.html', data: page('Lesson 1') }, { name: 'shared/style.css', data: css }]),
  },
];

// Runtime section --------------------------------------------------------------------------------
// Packages the browser tests play (SCORM 1.2 quiz, 2004 multi-SCO with sequencing, suspend/resume):
// generated in scripts/runtime-fixtures.ts, owned by the runtime half.

export { runtimeFixtures };

// Output ------------------------------------------------------------------------------------------

export const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'scorm');

const sections: readonly { readonly title: string; readonly fixtures: readonly FixtureSpec[] }[] = [
  { title: 'Import: package upload, zip safety, manifest validation', fixtures: importFixtures },
  { title: 'Runtime: packages played in the browser tests', fixtures: runtimeFixtures },
];

export function renderReadme(): string {
  const out = [
    '# SCORM package fixtures',
    '',
    '<!-- Generated by scripts/build-fixtures.ts; edit that file, not this one. -->',
    '',
    'Every zip here is **generated** by `scripts/build-fixtures.ts` (run `npx tsx scripts/build-fixtures.ts`)',
    'with the small raw zip writer in `scripts/zip-writer.ts`, which writes exactly the bytes asked for —',
    'including the hostile ones no zip library would produce — and the same bytes on every machine (fixed',
    'timestamps, a deterministic deflate). Provenance: written for Cairn; no third-party content.',
    'Never edit a zip by hand: `test/scorm/import-fixtures.test.ts` regenerates them and fails on any difference.',
    '',
  ];
  for (const section of sections) {
    out.push(`## ${section.title}`, '');
    if (section.fixtures.length === 0) {
      out.push('(none yet)', '');
      continue;
    }
    out.push('| File | Expected | Purpose |', '| --- | --- | --- |');
    for (const f of section.fixtures) out.push(`| \`${f.file}\` | ${f.expect === 'ready' ? 'ready' : `rejected: \`${f.expect}\``} | ${f.purpose.replace(/\|/g, '\\|')} |`);
    out.push('');
  }
  return out.join('\n');
}

/** Every fixture file's bytes, README included, keyed by file name. */
export function buildAll(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const section of sections) for (const f of section.fixtures) files.set(f.file, f.build());
  files.set('README.md', Buffer.from(renderReadme()));
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await fs.mkdir(fixturesDir, { recursive: true });
  for (const [name, bytes] of buildAll()) {
    await fs.writeFile(path.join(fixturesDir, name), bytes);
    console.log(`wrote fixtures/scorm/${name} (${bytes.length} bytes)`);
  }
}
