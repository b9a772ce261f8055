import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/support/app.js';
import { client, startLrs, statement, versions, type Version } from '../support.js';

/**
 * Statement validation: xAPI 1.0.3 Part 2 §2.2 (formatting), §2.4.x (properties), §4.x
 * (special data types); 2.0 §4.2.x. Each invalid statement must be refused with 400 naming
 * the property; each valid variant must be stored.
 */
let t: TestApp;
beforeAll(async () => { t = await startLrs(); });
afterAll(async () => { await t?.close(); });

type Case = readonly [title: string, build: () => Record<string, unknown>, path?: string];

const agent = { objectType: 'Agent', mbox: 'mailto:someone@example.com' };
const activity = { objectType: 'Activity', id: 'http://example.com/a' };
const sub = (overrides: Record<string, unknown>) => ({ objectType: 'SubStatement', actor: agent, verb: { id: 'http://example.com/v' }, object: activity, ...overrides });
const withDefinition = (definition: Record<string, unknown>) => statement({ object: { id: 'http://example.com/q', definition } });

const invalidBoth: Case[] = [
  ['Data 2.2 — an unknown top-level property', () => ({ ...statement(), foo: 1 }), 'foo'],
  ['Data 2.2 — property names are case-sensitive (Actor)', () => { const s = statement(); return { Actor: s['actor'], actor: s['actor'], verb: s['verb'], object: s['object'] }; }, 'Actor'],
  ['Data 2.2 — a null value', () => statement({ result: { success: null } }), 'result.success'],
  ['Data 2.2 — a statement that is not an object', () => [1, 2] as unknown as Record<string, unknown>],
  ['Data 2.4 — missing actor', () => { const { actor: _a, ...rest } = statement(); return rest; }, 'actor'],
  ['Data 2.4 — missing verb', () => { const { verb: _v, ...rest } = statement(); return rest; }, 'verb'],
  ['Data 2.4 — missing object', () => { const { object: _o, ...rest } = statement(); return rest; }, 'object'],
  ['Data 2.4.1 — id that is not a UUID', () => statement({ id: 'not-a-uuid' }), 'id'],
  ['Data 2.4.2.1 — an Agent with two IFIs', () => statement({ actor: { mbox: 'mailto:a@example.com', openid: 'http://example.com/a' } }), 'actor'],
  ['Data 2.4.2.1 — an Agent with no IFI', () => statement({ actor: { objectType: 'Agent', name: 'Nobody' } }), 'actor'],
  ['Data 2.4.2.1 — an Agent with a wrong objectType case', () => statement({ actor: { objectType: 'agent', mbox: 'mailto:a@example.com' } }), 'actor.objectType'],
  ['Data 2.4.2.2 — a Group without objectType (read as an Agent: no IFI)', () => statement({ actor: { member: [agent] } }), 'actor'],
  ['Data 2.4.2.2 — an anonymous Group without members', () => statement({ actor: { objectType: 'Group', name: 'Empty' } }), 'actor'],
  ['Data 2.4.2.2 — a Group whose member is a Group', () => statement({ actor: { objectType: 'Group', member: [{ objectType: 'Group', member: [agent] }] } }), 'actor.member[0]'],
  ['Data 2.4.2.2 — an identified Group with two IFIs', () => statement({ actor: { objectType: 'Group', mbox: 'mailto:g@example.com', openid: 'http://example.com/g', member: [agent] } }), 'actor'],
  ['Data 2.4.2.3 — an mbox without mailto:', () => statement({ actor: { mbox: 'someone@example.com' } }), 'actor.mbox'],
  ['Data 2.4.2.3 — an mbox_sha1sum that is not 40 hex digits', () => statement({ actor: { mbox_sha1sum: 'abc' } }), 'actor.mbox_sha1sum'],
  ['Data 2.4.2.3 — an openid that is not a URI', () => statement({ actor: { openid: 'not a uri' } }), 'actor.openid'],
  ['Data 2.4.2.4 — an account without homePage', () => statement({ actor: { account: { name: 'x' } } }), 'actor.account.homePage'],
  ['Data 2.4.2.4 — an account without name', () => statement({ actor: { account: { homePage: 'http://example.com' } } }), 'actor.account.name'],
  ['Data 2.4.3 — a verb without id', () => statement({ verb: { display: { en: 'x' } } }), 'verb.id'],
  ['Data 2.4.3 — a verb id that is not an IRI', () => statement({ verb: { id: 'experienced' } }), 'verb.id'],
  ['Data 2.4.3 / 4.2 — a verb display with a bad language tag', () => statement({ verb: { id: 'http://example.com/v', display: { 'not a tag': 'x' } } }), 'verb.display.not a tag'],
  ['Data 2.4.4 — an unknown object objectType', () => statement({ object: { objectType: 'Thing', id: 'http://example.com/a' } }), 'object.objectType'],
  ['Data 2.4.4.1 — an Activity without id', () => statement({ object: { objectType: 'Activity' } }), 'object.id'],
  ['Data 2.4.4.1 — an Activity id that is not an IRI', () => statement({ object: { id: 'just words' } }), 'object.id'],
  ['Data 2.4.4.1 — an activity definition with an unknown property', () => withDefinition({ title: 'x' }), 'object.definition.title'],
  ['Data 2.4.4.1 — a definition name that is not a language map', () => withDefinition({ name: 'Course' }), 'object.definition.name'],
  ['Data 2.4.4.1 — an unknown interactionType', () => withDefinition({ interactionType: 'essay' }), 'object.definition.interactionType'],
  ['Data 2.4.4.1 — choices with a likert interaction', () => withDefinition({ interactionType: 'likert', choices: [{ id: 'a' }] }), 'object.definition.choices'],
  ['Data 2.4.4.1 — scale with a choice interaction', () => withDefinition({ interactionType: 'choice', scale: [{ id: 'a' }] }), 'object.definition.scale'],
  ['Data 2.4.4.1 — interaction components without interactionType', () => withDefinition({ choices: [{ id: 'a' }] }), 'object.definition.choices'],
  ['Data 2.4.4.1 — correctResponsesPattern that is not an array of strings', () => withDefinition({ interactionType: 'fill-in', correctResponsesPattern: 'a' }), 'object.definition.correctResponsesPattern'],
  ['Data 2.4.4.1 — duplicate interaction component ids', () => withDefinition({ interactionType: 'choice', choices: [{ id: 'a' }, { id: 'a' }] }), 'object.definition.choices[1].id'],
  ['Data 2.4.4.1 — a moreInfo that is not an IRL', () => withDefinition({ moreInfo: 'nope' }), 'object.definition.moreInfo'],
  ['Data 4.1 — an extension key that is not an IRI', () => withDefinition({ extensions: { notAnIri: 1 } }), 'object.definition.extensions.notAnIri'],
  ['Data 2.4.4.2 — an Agent object with no IFI', () => statement({ object: { objectType: 'Agent', name: 'x' } }), 'object'],
  ['Data 2.4.4.3 — a StatementRef without a UUID id', () => statement({ object: { objectType: 'StatementRef', id: 'nope' } }), 'object.id'],
  ['Data 2.4.4.3 — a SubStatement with an id', () => statement({ object: sub({ id: randomUUID() }) }), 'object.id'],
  ['Data 2.4.4.3 — a SubStatement with stored', () => statement({ object: sub({ stored: '2020-01-01T00:00:00Z' }) }), 'object.stored'],
  ['Data 2.4.4.3 — a SubStatement with authority', () => statement({ object: sub({ authority: agent }) }), 'object.authority'],
  ['Data 2.4.4.3 — a SubStatement with version', () => statement({ object: sub({ version: '1.0.0' }) }), 'object.version'],
  ['Data 2.4.4.3 — a SubStatement inside a SubStatement', () => statement({ object: sub({ object: sub({}) }) }), 'object.object.objectType'],
  ['Data 2.4.4.3 — a SubStatement with an invalid actor', () => statement({ object: sub({ actor: { name: 'no ifi' } }) }), 'object.actor'],
  ['Data 2.4.5 — score.scaled above 1', () => statement({ result: { score: { scaled: 1.5 } } }), 'result.score.scaled'],
  ['Data 2.4.5 — score.raw below min', () => statement({ result: { score: { raw: 1, min: 2, max: 5 } } }), 'result.score.raw'],
  ['Data 2.4.5 — score.raw above max', () => statement({ result: { score: { raw: 6, min: 2, max: 5 } } }), 'result.score.raw'],
  ['Data 2.4.5 — score.max not above min', () => statement({ result: { score: { min: 5, max: 5 } } }), 'result.score.max'],
  ['Data 2.4.5 — success that is not a boolean', () => statement({ result: { success: 'true' } }), 'result.success'],
  ['Data 2.4.5 / 4.6 — a duration that is not ISO 8601', () => statement({ result: { duration: '1 hour' } }), 'result.duration'],
  ['Data 2.4.6 — a registration that is not a UUID', () => statement({ context: { registration: 'abc' } }), 'context.registration'],
  ['Data 2.4.6 — a team that is an Agent', () => statement({ context: { team: agent } }), 'context.team'],
  ['Data 2.4.6 — an invalid instructor', () => statement({ context: { instructor: { name: 'no ifi' } } }), 'context.instructor'],
  ['Data 2.4.6 — revision when the object is an Agent', () => statement({ object: agent, context: { revision: '1' } }), 'context.revision'],
  ['Data 2.4.6 — platform when the object is a StatementRef', () => statement({ object: { objectType: 'StatementRef', id: randomUUID() }, context: { platform: 'x' } }), 'context.platform'],
  ['Data 2.4.6 — an unknown contextActivities key', () => statement({ context: { contextActivities: { sibling: [activity] } } }), 'context.contextActivities.sibling'],
  ['Data 2.4.6 — a context activity without id', () => statement({ context: { contextActivities: { parent: [{ objectType: 'Activity' }] } } }), 'context.contextActivities.parent'],
  ['Data 2.4.6.2 — an empty contextActivities object (ADL suite: it contains one or more key/value pairs)', () => statement({ context: { contextActivities: {} } }), 'context.contextActivities'],
  ['Data 2.4.6.2 — an empty contextActivities object in a SubStatement (ADL suite)', () => statement({ object: sub({ context: { contextActivities: {} } }) }), 'object.context.contextActivities'],
  ['Data 2.4.6 — a context language that is not a tag', () => statement({ context: { language: 'english please' } }), 'context.language'],
  ['Data 4.2 / RFC 5646 §2.2.6 — a language tag repeating an extension singleton (ADL suite, XAPI-00013)', () => withDefinition({ description: { 'en-US': 'x', 'ar-a-aaa-b-bbb-a-ccc': 'y' } }), 'object.definition.description.ar-a-aaa-b-bbb-a-ccc'],
  ['Data 4.2 / RFC 5646 §2.2.6 — singletons repeat case-insensitively', () => statement({ verb: { id: 'http://example.com/v', display: { 'en-a-bbb-A-ccc': 'x' } } }), 'verb.display.en-a-bbb-A-ccc'],
  ['Data 4.2 / RFC 5646 §2.2.5 — a language tag repeating a variant', () => statement({ verb: { id: 'http://example.com/v', display: { 'de-1901-1901': 'x' } } }), 'verb.display.de-1901-1901'],
  ['Data 2.4.6 / RFC 5646 §2.2.5 — a context language repeating a variant', () => statement({ context: { language: 'sl-rozaj-rozaj' } }), 'context.language'],
  ['Data 2.4.6 — context.statement that is not a StatementRef', () => statement({ context: { statement: { id: randomUUID() } } }), 'context.statement.objectType'],
  ['Data 2.4.7 — a timestamp without time zone', () => statement({ timestamp: '2020-01-01T00:00:00' }), 'timestamp'],
  ['Data 4.5 — a timestamp with offset -00:00', () => statement({ timestamp: '2008-09-15T15:53:00.601-00:00' }), 'timestamp'],
  ['Data 4.5 — a timestamp with offset -0000', () => statement({ timestamp: '2008-09-15T15:53:00.601-0000' }), 'timestamp'],
  ['Data 4.5 — a timestamp that is not a date', () => statement({ timestamp: '01/011/2015' }), 'timestamp'],
  ['Data 2.4.10 — version 0.9', () => statement({ version: '0.9' }), 'version'],
  ['Data 2.4.10 — version 1.1.0', () => statement({ version: '1.1.0' }), 'version'],
  ['Data 2.4.11 — an attachment without sha2', () => statement({ attachments: [{ usageType: 'http://example.com/u', display: { en: 'x' }, contentType: 'text/plain', length: 1, fileUrl: 'http://example.com/f' }] }), 'attachments[0].sha2'],
  ['Data 2.4.11 — an attachment length that is not an integer', () => statement({ attachments: [{ usageType: 'http://example.com/u', display: { en: 'x' }, contentType: 'text/plain', length: 1.5, sha2: 'a'.repeat(64), fileUrl: 'http://example.com/f' }] }), 'attachments[0].length'],
];

const validBoth: Case[] = [
  ['Data 2.4.2 — an Agent without objectType', () => statement({ actor: { mbox: 'mailto:a@example.com' } })],
  ['Data 2.4.2.4 — an account IFI', () => statement({ actor: { account: { homePage: 'http://example.com', name: 'learner-1' } } })],
  ['Data 2.4.2.3 — an mbox_sha1sum IFI (upper-case hex)', () => statement({ actor: { mbox_sha1sum: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01' } })],
  ['Data 2.4.2.2 — an identified Group without members', () => statement({ actor: { objectType: 'Group', openid: 'http://example.com/group' } })],
  ['Data 2.4.4.1 — every interaction type with its components', () => statement({ context: { contextActivities: { other: [
    { id: 'http://example.com/q1', definition: { interactionType: 'choice', correctResponsesPattern: ['a'], choices: [{ id: 'a', description: { en: 'A' } }, { id: 'b' }] } },
    { id: 'http://example.com/q2', definition: { interactionType: 'likert', scale: [{ id: '1' }] } },
    { id: 'http://example.com/q3', definition: { interactionType: 'matching', source: [{ id: 's' }], target: [{ id: 't' }] } },
    { id: 'http://example.com/q4', definition: { interactionType: 'performance', steps: [{ id: 'st' }] } },
    { id: 'http://example.com/q5', definition: { interactionType: 'sequencing', choices: [{ id: 'c' }] } },
    { id: 'http://example.com/q6', definition: { interactionType: 'numeric', correctResponsesPattern: ['1[:]5'] } },
    { id: 'http://example.com/q7', definition: { interactionType: 'true-false', correctResponsesPattern: ['true'] } },
  ] } } })],
  ['Data 2.4.4 — an Agent, an identified Group and a StatementRef as object', () => statement({ object: { objectType: 'Group', mbox: 'mailto:g@example.com' } })],
  ['Data 2.4.4.3 — a SubStatement with context and result', () => statement({ object: sub({ result: { success: true }, context: { contextActivities: { parent: activity } }, timestamp: '2020-01-01T00:00:00Z' }) })],
  ['Data 2.4.5 — a full result', () => statement({ result: { score: { scaled: -1, raw: 0, min: 0, max: 10 }, success: false, completion: true, response: 'x', duration: 'P1DT2H3M4.56S', extensions: { 'http://example.com/ext': { anything: [1, null] } } } })],
  ['Data 2.4.6 — a full context', () => statement({ context: { registration: randomUUID().toUpperCase(), instructor: agent, team: { objectType: 'Group', member: [agent] }, revision: 'r1', platform: 'p', language: 'zh-Hant-TW', statement: { objectType: 'StatementRef', id: randomUUID() }, extensions: { 'urn:x:y': 1 } } })],
  ['Data 4.5 — a timestamp with an offset', () => statement({ timestamp: '2020-06-01T12:00:00.123+05:30' })],
  ['Data 2.4.7 — a timestamp in the future (not rejected)', () => statement({ timestamp: new Date(Date.now() + 3_600_000).toISOString() })],
  ['Data 4.5 — a timestamp with microseconds', () => statement({ timestamp: '2020-06-01T12:00:00.123456Z' })],
  ['Data 4.2 — language maps with region and script subtags', () => statement({ verb: { id: 'http://example.com/v', display: { 'en-GB': 'x', 'sr-Latn-RS': 'y', und: 'z' } } })],
  ['Data 4.2 / RFC 5646 — variants, extensions and private use (distinct singletons; x- subtags may repeat)', () => statement({ verb: { id: 'http://example.com/v', display: { 'sl-rozaj-biske-1994': 'a', 'de-DE-u-co-phonebk-t-k0-kbd': 'b', 'en-US-x-a-a-twain': 'c', 'x-whatever-x': 'd', 'i-klingon': 'e' } } })],
  ['Data 2.2 — unicode everywhere', () => statement({ verb: { id: 'http://example.com/v', display: { ja: '経験した' } }, result: { response: '🙂' } })],
];

const invalid2: Case[] = [
  ['2.0 §4.2.2.5 — a contextAgent with another objectType', () => statement({ context: { contextAgents: [{ objectType: 'Should fail', agent }] } }), 'context.contextAgents[0].objectType'],
  ['2.0 §4.2.2.5 — a contextAgent with an invalid agent', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent: { key: 'x' } }] } }), 'context.contextAgents[0].agent'],
  ['2.0 §4.2.2.5 — a contextAgent with empty relevantTypes', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent, relevantTypes: [] }] } }), 'context.contextAgents[0].relevantTypes'],
  ['2.0 §4.2.2.5 — relevantTypes that are not IRIs', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent, relevantTypes: ['abc'] }] } }), 'context.contextAgents[0].relevantTypes[0]'],
  ['2.0 §4.2.2.5 — a contextGroup whose group is an Agent', () => statement({ context: { contextGroups: [{ objectType: 'contextGroup', group: agent }] } }), 'context.contextGroups[0].group'],
  ['2.0 §4.2.2.5 — a SubStatement contextAgent with another objectType', () => statement({ object: sub({ context: { contextAgents: [{ objectType: 'agent', agent }] } }) }), 'object.context.contextAgents[0].objectType'],
];

const valid2: Case[] = [
  ['2.0 §4.2.2.5 — contextAgents and contextGroups with relevantTypes', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent, relevantTypes: ['http://example.com/types/coach'] }], contextGroups: [{ objectType: 'contextGroup', group: { objectType: 'Group', member: [agent] }, relevantTypes: ['http://example.com/types/team'] }] } })],
  ['2.0 §4.2.4.2 — an RFC 3339 timestamp with a space separator', () => statement({ timestamp: '2008-09-15 15:53:00.601+00:00' })],
  ['2.0 §4.2.4.3 — version 2.0.0', () => statement({ version: '2.0.0' })],
];

async function expectRejected(version: Version, build: () => Record<string, unknown>, path?: string) {
  const res = await client(t, version).post('/xapi/statements').send(build());
  expect(res.status, res.text).toBe(400);
  // The message names the property path (or a property inside it).
  if (path) expect(res.body.detail as string).toMatch(new RegExp(`statement: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[:.[]`));
}

async function expectStored(version: Version, build: () => Record<string, unknown>) {
  const body = build();
  const res = await client(t, version).post('/xapi/statements').send(body);
  expect(res.status, res.text).toBe(200);
  const back = await client(t, version).get(`/xapi/statements?statementId=${res.body[0]}`);
  expect(back.status).toBe(200);
  return back.body as Record<string, unknown>;
}

describe.each(versions)('xAPI %s', (version) => {
  it.each(invalidBoth)('%s is rejected with 400 naming the property', async (...c) => { const [, build, path] = c as unknown as Case; await expectRejected(version, build, path); });
  it.each(validBoth)('%s is accepted', async (...c) => { const [, build] = c as unknown as Case; await expectStored(version, build); });
});

describe('xAPI 2.0.0', () => {
  it.each(invalid2)('%s is rejected with 400 naming the property', async (...c) => { const [, build, path] = c as unknown as Case; await expectRejected('2.0.0', build, path); });
  it.each(valid2)('%s is accepted', async (...c) => { const [, build] = c as unknown as Case; await expectStored('2.0.0', build); });

  it('2.0 §4.2.4.2 — a non-UTC timestamp is stored converted to UTC (same instant)', async () => {
    const stored = await expectStored('2.0.0', () => statement({ timestamp: '2020-06-01T12:00:00.123+05:30' }));
    expect(stored['timestamp']).toBe('2020-06-01T06:30:00.123Z');
  });

  it('2.0 §4.2.2.5 — contextAgents and contextGroups count as related agents in queries', async () => {
    const coach = { objectType: 'Agent', mbox: `mailto:coach-${randomUUID()}@example.com` };
    const member = { objectType: 'Agent', mbox: `mailto:member-${randomUUID()}@example.com` };
    const stored = await expectStored('2.0.0', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent: coach }], contextGroups: [{ objectType: 'contextGroup', group: { objectType: 'Group', member: [member] } }] } }));
    for (const who of [coach, member]) {
      const res = await client(t, '2.0.0').get(`/xapi/statements?agent=${encodeURIComponent(JSON.stringify(who))}&related_agents=true`);
      expect((res.body.statements as Array<{ id: string }>).map((s) => s.id)).toEqual([stored['id']]);
    }
  });
});

describe('xAPI 1.0.3', () => {
  it('Data 2.4.6 — contextAgents is not a 1.0.3 property (400)', async () => {
    await expectRejected('1.0.3', () => statement({ context: { contextAgents: [{ objectType: 'contextAgent', agent }] } }), 'context.contextAgents');
  });
  it('Data 2.4.10 — version 2.0.0 is not a 1.0.x version (400)', async () => {
    await expectRejected('1.0.3', () => statement({ version: '2.0.0' }), 'version');
  });
  it('Data 4.5 — a timestamp keeps the serialization it was sent with (instant preserved)', async () => {
    const stored = await expectStored('1.0.3', () => statement({ timestamp: '2020-06-01T12:00:00.123+05:30' }));
    expect(stored['timestamp']).toBe('2020-06-01T12:00:00.123+05:30');
  });
  it('Data 4.5 — a space between date and time is not ISO 8601 (400)', async () => {
    await expectRejected('1.0.3', () => statement({ timestamp: '2008-09-15 15:53:00.601+00:00' }), 'timestamp');
  });
});
