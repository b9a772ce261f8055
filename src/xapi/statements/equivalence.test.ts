import { describe, expect, it } from 'vitest';
import { statementsEquivalent } from './equivalence.js';

const base = {
  id: '6fbd0c4c-2b0f-4c61-9f0f-1f0a3a7c0b7e',
  actor: { objectType: 'Group', name: 'Pair', member: [{ mbox: 'mailto:a@example.com' }, { mbox: 'mailto:b@example.com' }] },
  verb: { id: 'http://example.com/v', display: { en: 'did' } },
  object: { id: 'http://example.com/a', definition: { name: { en: 'A' } } },
  context: { registration: 'ABCDEF01-2B0F-4C61-9F0F-1F0A3A7C0B7E', contextActivities: { parent: { id: 'http://example.com/p' } } },
  timestamp: '2024-01-01T12:00:00.000Z',
};

/** xAPI 1.0.3 Part 2 §2.3.1 Statement Comparison Requirements, as pure rules. */
describe('statementsEquivalent', () => {
  it('ignores LRS-assigned properties, definitions, verb display, member order and case-insensitive parts', () => {
    const other = {
      ...base,
      id: undefined, stored: '2025-01-01T00:00:00Z', authority: { mbox: 'mailto:lrs@example.com' }, version: '1.0.3',
      actor: { ...base.actor, member: [{ mbox: 'mailto:b@EXAMPLE.com' }, { mbox: 'mailto:a@example.com' }] },
      verb: { id: 'http://example.com/v' },
      object: { id: 'http://example.com/a' },
      context: { registration: base.context.registration.toLowerCase(), contextActivities: { parent: [{ id: 'http://example.com/p', definition: { name: { fr: 'P' } } }] } },
      timestamp: '2024-01-01T14:00:00+02:00',
      attachments: [{ usageType: 'http://example.com/u', display: { en: 'x' }, contentType: 'text/plain', length: 1, sha2: 'a'.repeat(64) }],
    };
    expect(statementsEquivalent(base, other)).toBe(true);
  });

  it('ignores a timestamp only one side has, but compares instants when both have one', () => {
    const { timestamp: _ts, ...without } = base;
    expect(statementsEquivalent(base, without)).toBe(true);
    expect(statementsEquivalent(base, { ...base, timestamp: '2024-01-01T12:00:00.001Z' })).toBe(false);
  });

  it('sees real differences: verb, object, result, member set, mbox local part', () => {
    expect(statementsEquivalent(base, { ...base, verb: { id: 'http://example.com/other' } })).toBe(false);
    expect(statementsEquivalent(base, { ...base, object: { id: 'http://example.com/b' } })).toBe(false);
    expect(statementsEquivalent(base, { ...base, result: { success: true } })).toBe(false);
    expect(statementsEquivalent(base, { ...base, actor: { ...base.actor, member: [{ mbox: 'mailto:a@example.com' }] } })).toBe(false);
    expect(statementsEquivalent(base, { ...base, actor: { ...base.actor, member: [{ mbox: 'mailto:A@example.com' }, { mbox: 'mailto:b@example.com' }] } })).toBe(false);
  });

  it('compares durations at 0.01 s and SubStatements recursively', () => {
    expect(statementsEquivalent({ ...base, result: { duration: 'PT1.234S' } }, { ...base, result: { duration: 'PT1.23S' } })).toBe(true);
    expect(statementsEquivalent({ ...base, result: { duration: 'PT1.24S' } }, { ...base, result: { duration: 'PT1.23S' } })).toBe(false);
    const sub = (verb: string) => ({ ...base, object: { objectType: 'SubStatement', actor: { mbox: 'mailto:s@example.com' }, verb: { id: verb }, object: { id: 'http://example.com/x' } } });
    expect(statementsEquivalent(sub('http://example.com/v1'), sub('http://example.com/v1'))).toBe(true);
    expect(statementsEquivalent(sub('http://example.com/v1'), sub('http://example.com/v2'))).toBe(false);
  });
});
