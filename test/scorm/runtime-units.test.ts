import { describe, expect, it } from 'vitest';
import { formatDuration, formatTimespan, parseDuration, parseTimespan, readInteractions, readResult, cmiShapeProblem } from '../../src/scorm/runtime/cmi.js';
import { effectiveSequencing, globalObjectiveIds, toSequencingSettings } from '../../src/scorm/runtime/sequencing.js';
import { commitStatements, statementId, type BridgeContext } from '../../src/scorm/xapi-bridge/statements.js';
import { initialCmi, rollupAttempts, rollupScos } from '../../src/scorm/runtime/service.js';
import type { PackageModel } from '../../src/scorm/packages/model.js';
import type { AttemptRow, RuntimeRow } from '../../src/scorm/runtime/repository.js';
import { StatementValidator } from '../../src/xapi/validation/statement.js';

describe('CMI time formats', () => {
  it('reads 1.2 timespans and 2004 ISO durations, and refuses malformed ones', () => {
    expect(parseTimespan('0001:02:03.5')).toBe(3723.5);
    expect(parseTimespan('00:00:10')).toBe(10);
    expect(parseTimespan('1:2:3')).toBeNull();
    expect(parseDuration('PT1H2M3.25S')).toBe(3723.25);
    expect(parseDuration('P1DT1S')).toBe(86_401);
    expect(parseDuration('PT')).toBeNull();
    expect(parseDuration('P')).toBeNull();
    expect(parseDuration('1H')).toBeNull();
  });

  it('writes what content reads back as total_time', () => {
    expect(formatTimespan(3723.5)).toBe('0001:02:03.50');
    expect(formatTimespan(0)).toBe('0000:00:00.00');
    expect(formatDuration(3723.25)).toBe('PT1H2M3.25S');
    expect(formatDuration(60)).toBe('PT1M0S');
    expect(parseDuration(formatDuration(98_765.43))).toBeCloseTo(98_765.43, 2);
    expect(parseTimespan(formatTimespan(98_765.43))).toBeCloseTo(98_765.43, 2);
  });
});

describe('CMI results', () => {
  it('maps 1.2 lesson_status to completion and success and scales the raw score', () => {
    const r = readResult('1.2', { core: { lesson_status: 'failed', score: { raw: '30', min: '', max: '' }, exit: 'suspend', session_time: '00:01:00', lesson_location: 'p3' }, suspend_data: 'abc' });
    expect(r).toMatchObject({ completion: 'completed', success: 'failed', scoreRaw: 30, scoreScaled: 0.3, exit: 'suspend', sessionSeconds: 60, suspendData: 'abc', location: 'p3' });
    expect(readResult('1.2', { core: { lesson_status: 'browsed' } }).completion).toBe('incomplete');
    expect(readResult('1.2', { core: { score: { raw: '5', min: '0', max: '10' } } }).scoreScaled).toBe(0.5);
  });

  it('reads 2004 statuses, prefers score.scaled, and ignores values outside the vocabulary', () => {
    const r = readResult('2004', { completion_status: 'completed', success_status: 'passed', score: { scaled: '0.85', raw: '17', min: '0', max: '20' }, progress_measure: '1', session_time: 'PT30S', exit: 'normal' });
    expect(r).toMatchObject({ completion: 'completed', success: 'passed', scoreScaled: 0.85, scoreRaw: 17, progressMeasure: 1, sessionSeconds: 30, exit: 'normal' });
    expect(readResult('2004', { completion_status: 'done', success_status: 'yes' })).toMatchObject({ completion: 'unknown', success: 'unknown', scoreScaled: null });
  });

  it('lists interactions in index order with their responses and patterns', () => {
    const list = readInteractions('1.2', { interactions: { 1: { id: 'b', type: 'choice', student_response: 'x', result: 'wrong', correct_responses: { 0: { pattern: 'y' } } }, 0: { id: 'a', type: 'true-false', student_response: 't', result: 'correct' } } });
    expect(list.map((i) => [i.index, i.id, i.learnerResponse, i.result, i.correctResponses])).toEqual([[0, 'a', 't', 'correct', []], [1, 'b', 'x', 'wrong', ['y']]]);
  });

  it('finds shape problems in a commit\'s CMI', () => {
    expect(cmiShapeProblem({ core: { score: { raw: '1' } } })).toBeUndefined();
    expect(cmiShapeProblem([])).toBe('cmi must be an object');
    expect(cmiShapeProblem({ core: [1] })).toBe('cmi.core must be an object');
    let deep: Record<string, unknown> = { v: '1' };
    for (let i = 0; i < 12; i++) deep = { d: deep };
    expect(cmiShapeProblem(deep)).toContain('nested too deeply');
  });
});

const model: PackageModel = {
  version: '2004-4', identifier: 'm', title: 'T', defaultOrganization: 'ORG', resources: [],
  sequencingCollection: {
    shared: { controlMode: { choice: false, flow: true }, limitConditions: { attemptLimit: 2 }, rollupRules: { rollupObjectiveSatisfied: false, rules: [] } },
  },
  organizations: [{
    identifier: 'ORG', title: 'Course', objectivesGlobalToSystem: true, sharedDataGlobalToSystem: true,
    sequencing: { controlMode: { choice: true, flow: true } },
    items: [
      {
        identifier: 'M1', title: 'Module', isVisible: true, children: [
          {
            identifier: 'A', title: 'A', isVisible: true, launchUrl: 'a.html', scormType: 'sco', children: [],
            completionThreshold: { completedByMeasure: true, minProgressMeasure: 0.8, progressWeight: 1 },
            sequencing: {
              idRef: 'shared', controlMode: { choice: true },
              sequencingRules: { preConditionRules: [{ conditionCombination: 'any', conditions: [{ condition: 'objectiveMeasureGreaterThan', referencedObjective: 'o1', measureThreshold: 0.5, operator: 'not' }, { condition: 'always', operator: 'noOp' }], action: 'skip' }] },
              rollupRules: { rules: [{ childActivitySet: 'atLeastCount', minimumCount: 2, conditionCombination: 'all', conditions: [{ condition: 'satisfied' }], action: 'satisfied' }] },
              objectives: {
                primary: { objectiveID: 'p', satisfiedByMeasure: true, minNormalizedMeasure: 0.6, mapInfo: [{ targetObjectiveID: 'g1', writeSatisfiedStatus: true }], adlseqMapInfo: [{ targetObjectiveID: 'g1', writeRawScore: true }] },
                others: [{ objectiveID: 'o1', mapInfo: [{ targetObjectiveID: 'g2', readSatisfiedStatus: true }] }],
              },
            },
            hideLmsUi: ['previous'],
          },
        ],
      },
      { identifier: 'B', title: 'B', isVisible: false, launchUrl: 'b.html', scormType: 'sco', children: [] },
    ],
  }],
};

describe('what a 2004 SCO sees', () => {
  const learner = { learnerId: 'u1', learnerName: 'Ada', entry: 'ab-initio', mode: 'normal', totalSeconds: 0 };
  const withPrimary = (primary: Record<string, unknown>): PackageModel => ({ ...model, sequencingCollection: { ...model.sequencingCollection, graded: { objectives: { primary, others: [] } } } as unknown as PackageModel['sequencingCollection'] });
  const sco = { identifier: 'S', title: 'S', isVisible: true, launchUrl: 's.html', scormType: 'sco', children: [], sequencing: { idRef: 'graded' } } as unknown as Parameters<typeof initialCmi>[1];

  it('cmi.scaled_passing_score comes from the primary objective, also when the item takes it from the sequencingCollection (IDRef)', () => {
    const cmi = initialCmi('2004', sco, {}, learner, withPrimary({ objectiveID: 'p', satisfiedByMeasure: true, minNormalizedMeasure: 0.7 }));
    expect(cmi['scaled_passing_score']).toBe('0.7');
  });

  it('cmi.scaled_passing_score is 1 when satisfiedByMeasure has no minNormalizedMeasure (the IMS SS default), absent when not satisfied by measure', () => {
    expect(initialCmi('2004', sco, {}, learner, withPrimary({ objectiveID: 'p', satisfiedByMeasure: true }))['scaled_passing_score']).toBe('1');
    expect(initialCmi('2004', sco, {}, learner, withPrimary({ objectiveID: 'p', satisfiedByMeasure: false, minNormalizedMeasure: 0.7 }))).not.toHaveProperty('scaled_passing_score');
  });
});

describe('sequencing translation (PackageModel → scorm-again ActivitySettings)', () => {
  it('fills in the elements an item does not define from its sequencingCollection entry, element by element', () => {
    const item = model.organizations[0]!.items[0]!.children[0]!;
    const s = effectiveSequencing(model, item.sequencing)!;
    // The item's own controlMode and rollupRules replace the collection's, attributes included.
    expect(s.controlMode).toEqual({ choice: true });
    expect(s.rollupRules).toEqual(item.sequencing!.rollupRules);
    expect(s.limitConditions).toEqual({ attemptLimit: 2 });
    expect(s.idRef).toBeUndefined();
  });

  it('builds the activity tree with controls, rules, limits, objectives and maps', () => {
    const settings = toSequencingSettings(model, model.organizations[0]!);
    const root = settings.activityTree;
    expect(root).toMatchObject({ id: 'ORG', title: 'Course', sequencingControls: { choice: true, flow: true } });
    const a = root.children![0]!.children![0]!;
    expect(a.sequencingControls).toEqual({ choice: true });
    expect(a.attemptLimit).toBe(2);
    expect(a.sequencingRules!.preConditionRules![0]).toEqual({
      action: 'skip', conditionCombination: 'any',
      conditions: [{ condition: 'objectiveMeasureGreaterThan', operator: 'not', referencedObjective: 'o1', parameters: { threshold: 0.5 } }, { condition: 'always' }],
    });
    expect(a.rollupRules!.rules[0]).toEqual({ action: 'satisfied', conditionCombination: 'all', consideration: 'atLeastCount', minimumCount: 2, conditions: [{ condition: 'satisfied' }] });
    expect(a.primaryObjective).toEqual({ objectiveID: 'p', isPrimary: true, satisfiedByMeasure: true, minNormalizedMeasure: 0.6, mapInfo: [{ targetObjectiveID: 'g1', writeSatisfiedStatus: true, writeRawScore: true }] });
    expect(a.objectives).toEqual([{ objectiveID: 'o1', mapInfo: [{ targetObjectiveID: 'g2', readSatisfiedStatus: true }] }]);
    expect(a.completionThreshold).toEqual({ completedByMeasure: true, minProgressMeasure: 0.8, progressWeight: 1 });
    expect(a.hideLmsUi).toEqual(['previous']);
    expect(root.children![1]).toMatchObject({ id: 'B', isVisible: false });
    expect(globalObjectiveIds(model, model.organizations[0]!).sort()).toEqual(['g1', 'g2']);
  });
});

const row = (id: string, r: Partial<RuntimeRow>): RuntimeRow => ({
  attempt_id: 'a', item_identifier: id, tenant_id: 't', cmi: {}, completion_status: 'unknown', success_status: 'unknown', score_scaled: null, score_raw: null,
  score_min: null, score_max: null, progress_measure: null, exit: null, session_count: 1, session_id: null, total_seconds_before_session: 0, session_seconds: 0,
  total_seconds: 0, last_sequence: 0, suspend_data_length: 0, terminated: false, updated_at: new Date(), ...r,
});

describe('result rollup', () => {
  it('rolls multi-SCO results: completed only when every SCO is, failed if any failed, mean scaled score, summed time', () => {
    const partial = rollupScos(['A', 'B'], [row('A', { completion_status: 'completed', success_status: 'passed', score_scaled: 0.8, total_seconds: 10 })]);
    expect(partial).toMatchObject({ completion_status: 'incomplete', success_status: 'unknown', score_scaled: 0.8, total_seconds: 10 });
    const all = rollupScos(['A', 'B'], [row('A', { completion_status: 'completed', success_status: 'passed', score_scaled: 0.8, total_seconds: 10 }), row('B', { completion_status: 'completed', score_scaled: 0.6, total_seconds: 5 })]);
    expect(all).toMatchObject({ completion_status: 'completed', success_status: 'passed', total_seconds: 15 });
    expect(all.score_scaled).toBeCloseTo(0.7, 10);
    expect(rollupScos(['A', 'B'], [row('A', { success_status: 'failed' }), row('B', { completion_status: 'completed' })]).success_status).toBe('failed');
    expect(rollupScos(['A', 'B'], [])).toMatchObject({ completion_status: 'not attempted', score_scaled: null });
  });

  it('rolls attempts into the registration: pass sticks, best score wins, time adds up', () => {
    const attempt = (n: number, r: Partial<AttemptRow>): AttemptRow => ({
      id: `a${n}`, tenant_id: 't', registration_id: 'r', number: n, status: 'ended', completion_status: 'completed', success_status: 'unknown',
      score_scaled: null, score_raw: null, score_min: null, score_max: null, total_seconds: 0, commit_count: 1, started_at: new Date(), last_commit_at: null, ended_at: null, ...r,
    });
    const rolled = rollupAttempts([attempt(1, { success_status: 'passed', score_scaled: 0.9, score_raw: 90, total_seconds: 100 }), attempt(2, { success_status: 'failed', score_scaled: 0.4, score_raw: 40, total_seconds: 50, completion_status: 'incomplete' })]);
    expect(rolled).toMatchObject({ completion_status: 'completed', success_status: 'passed', score_scaled: 0.9, score_raw: 90, total_seconds: 150 });
  });
});

describe('xAPI SCORM profile statements', () => {
  const context: BridgeContext = {
    publicUrl: 'https://cairn.example', userId: '7f1c0f4e-9a53-4bb6-9d2c-0c3b7c5d2a11', registrationId: '0b9c5d6e-1f2a-4b3c-8d4e-5f6a7b8c9d0e',
    attemptId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', attemptNumber: 2, lineageId: '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
    courseTitle: 'Course', itemIdentifier: 'SCO 1', itemTitle: 'Lesson one', scormVersion: '2004-4',
  };
  const result = (over: Partial<ReturnType<typeof readResult>> = {}) => ({ ...readResult('2004', {}), ...over });

  it('emits transitions only, each a valid xAPI 1.0.3 statement with the profile context', () => {
    const statements = commitStatements(context, {
      sessionId: 's1', previous: result({ completion: 'incomplete' }), current: result({ completion: 'completed', success: 'passed', scoreScaled: 0.9, scoreRaw: 9, scoreMin: 0, scoreMax: 10, exit: 'suspend', sessionSeconds: 60 }),
      previousInteractions: new Set(), interactions: [{ index: 0, id: 'q1', type: 'numeric', learnerResponse: '4', result: '1', description: 'Two plus two', correctResponses: ['4'], latency: 'PT5S' }],
      terminated: true, at: new Date('2026-11-21T10:00:00Z'),
    });
    expect(statements.map((s) => (s['verb'] as { id: string }).id.split('/').pop())).toEqual(['answered', 'scored', 'completed', 'passed', 'suspended', 'terminated']);
    const validator = new StatementValidator();
    for (const s of statements) {
      expect(() => validator.validate(structuredClone(s), '1.0.3', '')).not.toThrow();
      expect((s['context'] as any).registration).toBe(context.registrationId);
      expect((s['context'] as any).contextActivities.grouping.map((g: { id: string }) => g.id)).toEqual([
        `https://cairn.example/xapi/activities/scorm/${context.lineageId}`, `https://cairn.example/xapi/activities/scorm/${context.lineageId}/SCO%201?attemptId=${context.attemptId}`,
      ]);
    }
    // The session's time, in the terminated and the suspended statement (xAPI SCORM Profile).
    expect((statements.at(-1)!['result'] as any).duration).toBe('PT0H1M0S');
    expect((statements.at(-2)!['result'] as any).duration).toBe('PT0H1M0S');
    const again = commitStatements(context, {
      sessionId: 's1', previous: result({ completion: 'completed', success: 'passed', scoreScaled: 0.9, scoreRaw: 9 }), current: result({ completion: 'completed', success: 'passed', scoreScaled: 0.9, scoreRaw: 9 }),
      previousInteractions: new Set(['0\u0000q1\u00001\u00004']), interactions: [{ index: 0, id: 'q1', type: 'numeric', learnerResponse: '4', result: '1', description: '', correctResponses: [], latency: '' }],
      terminated: false, at: new Date(),
    });
    expect(again).toEqual([]);
  });

  it('a SCO completing again in a later session (a new learner attempt) gets new statement ids', () => {
    const transition = (sessionId: string) => commitStatements(context, {
      sessionId, previous: result({ completion: 'incomplete' }), current: result({ completion: 'completed', success: 'passed', scoreScaled: 0.9, scoreRaw: 9 }),
      previousInteractions: new Set(), interactions: [], terminated: false, at: new Date(),
    }).map((s) => s['id']);
    expect(transition('s1')).toEqual(transition('s1'));
    const first = new Set(transition('s1'));
    for (const id of transition('s2')) expect(first.has(id)).toBe(false);
  });

  it('derives stable UUIDs, so a repeated commit stores nothing twice', () => {
    expect(statementId('a', 'b')).toBe(statementId('a', 'b'));
    expect(statementId('a', 'b')).not.toBe(statementId('a', 'c'));
    expect(statementId('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
