import { describe, expect, it } from 'vitest';
import { codes, findingsOf, item, manifest, oneSco, parse } from './support.js';

/** One item with the given imsss:sequencing body. */
const withSequencing = (body: string, attrs = '', extra = '') => manifest({
  organizations: `<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title><imsss:sequencing ${attrs}>${body}</imsss:sequencing></item></organization></organizations>`,
  resources: oneSco.resources,
  extra,
});

describe('CAM 5 Sequencing: imsss:sequencing on items and organizations', () => {
  it('controlMode (SN 3.2): every attribute', async () => {
    const { model } = await parse(withSequencing('<imsss:controlMode choice="false" choiceExit="false" flow="true" forwardOnly="true" useCurrentAttemptObjectiveInfo="false" useCurrentAttemptProgressInfo="false"/>'));
    expect(item(model, 'I1').sequencing?.controlMode).toEqual({ choice: false, choiceExit: false, flow: true, forwardOnly: true, useCurrentAttemptObjectiveInfo: false, useCurrentAttemptProgressInfo: false });
  });

  it('sequencingRules (SN 3.3): pre-, exit- and post-condition rules with combinations, operators, referenced objectives and thresholds', async () => {
    const { model } = await parse(withSequencing(`<imsss:sequencingRules>
      <imsss:preConditionRule><imsss:ruleConditions conditionCombination="any"><imsss:ruleCondition condition="satisfied"/><imsss:ruleCondition referencedObjective="obj1" operator="not" condition="objectiveMeasureGreaterThan" measureThreshold="0.5"/></imsss:ruleConditions><imsss:ruleAction action="skip"/></imsss:preConditionRule>
      <imsss:exitConditionRule><imsss:ruleConditions><imsss:ruleCondition condition="completed"/></imsss:ruleConditions><imsss:ruleAction action="exit"/></imsss:exitConditionRule>
      <imsss:postConditionRule><imsss:ruleConditions><imsss:ruleCondition condition="attemptLimitExceeded"/></imsss:ruleConditions><imsss:ruleAction action="retry"/></imsss:postConditionRule>
    </imsss:sequencingRules>`));
    expect(item(model, 'I1').sequencing?.sequencingRules).toEqual({
      preConditionRules: [{ conditionCombination: 'any', conditions: [{ condition: 'satisfied' }, { condition: 'objectiveMeasureGreaterThan', operator: 'not', referencedObjective: 'obj1', measureThreshold: 0.5 }], action: 'skip' }],
      exitConditionRules: [{ conditionCombination: 'all', conditions: [{ condition: 'completed' }], action: 'exit' }],
      postConditionRules: [{ conditionCombination: 'all', conditions: [{ condition: 'attemptLimitExceeded' }], action: 'retry' }],
    });
  });

  it('a rule action outside its rule kind is reported and the rule dropped', async () => {
    const { model, findings } = await parse(withSequencing('<imsss:sequencingRules><imsss:preConditionRule><imsss:ruleConditions><imsss:ruleCondition condition="always"/></imsss:ruleConditions><imsss:ruleAction action="retry"/></imsss:preConditionRule></imsss:sequencingRules>'));
    expect(item(model, 'I1').sequencing?.sequencingRules).toEqual({});
    expect(codes(findings, 'warning')).toEqual(expect.arrayContaining(['invalid_value', 'sequencing_rule_incomplete']));
  });

  it('limitConditions (SN 3.4): attemptLimit and attemptAbsoluteDurationLimit, which also becomes the item\'s maxTimeAllowed', async () => {
    const { model } = await parse(withSequencing('<imsss:limitConditions attemptLimit="2" attemptAbsoluteDurationLimit="PT1H30M"/>'));
    expect(item(model, 'I1').sequencing?.limitConditions).toEqual({ attemptLimit: 2, attemptAbsoluteDurationLimit: 'PT1H30M' });
    expect(item(model, 'I1').maxTimeAllowed).toBe('PT1H30M');
  });

  it('rollupRules (SN 3.5): controls, child activity sets with counts and percents, conditions and actions', async () => {
    const { model } = await parse(withSequencing(`<imsss:rollupRules rollupObjectiveSatisfied="false" rollupProgressCompletion="true" objectiveMeasureWeight="0.5">
      <imsss:rollupRule childActivitySet="atLeastCount" minimumCount="2"><imsss:rollupConditions conditionCombination="all"><imsss:rollupCondition operator="not" condition="attempted"/></imsss:rollupConditions><imsss:rollupAction action="incomplete"/></imsss:rollupRule>
      <imsss:rollupRule childActivitySet="atLeastPercent" minimumPercent="0.75"><imsss:rollupConditions><imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions><imsss:rollupAction action="satisfied"/></imsss:rollupRule>
    </imsss:rollupRules>`));
    expect(item(model, 'I1').sequencing?.rollupRules).toEqual({
      rollupObjectiveSatisfied: false, rollupProgressCompletion: true, objectiveMeasureWeight: 0.5,
      rules: [
        { childActivitySet: 'atLeastCount', minimumCount: 2, conditionCombination: 'all', conditions: [{ condition: 'attempted', operator: 'not' }], action: 'incomplete' },
        { childActivitySet: 'atLeastPercent', minimumPercent: 0.75, conditionCombination: 'any', conditions: [{ condition: 'satisfied' }], action: 'satisfied' },
      ],
    });
  });

  it('objectives (SN 3.6): primary and other objectives, minNormalizedMeasure, mapInfo to global objectives', async () => {
    const { model } = await parse(withSequencing(`<imsss:objectives>
      <imsss:primaryObjective objectiveID="main" satisfiedByMeasure="true"><imsss:minNormalizedMeasure>0.8</imsss:minNormalizedMeasure><imsss:mapInfo targetObjectiveID="g-main" readSatisfiedStatus="true" writeSatisfiedStatus="true" writeNormalizedMeasure="true"/></imsss:primaryObjective>
      <imsss:objective objectiveID="side"><imsss:mapInfo targetObjectiveID="g-side" readNormalizedMeasure="false"/></imsss:objective>
    </imsss:objectives>`));
    expect(item(model, 'I1').sequencing?.objectives).toEqual({
      primary: { objectiveID: 'main', satisfiedByMeasure: true, minNormalizedMeasure: 0.8, mapInfo: [{ targetObjectiveID: 'g-main', readSatisfiedStatus: true, writeSatisfiedStatus: true, writeNormalizedMeasure: true }] },
      others: [{ objectiveID: 'side', mapInfo: [{ targetObjectiveID: 'g-side', readNormalizedMeasure: false }] }],
    });
  });

  it('a non-primary objective without objectiveID is an error', async () => {
    expect(codes(await findingsOf(withSequencing('<imsss:objectives><imsss:objective/></imsss:objectives>')), 'error')).toContain('objective_id_missing');
  });

  it('randomizationControls (SN 3.8) and deliveryControls (SN 3.9)', async () => {
    const { model } = await parse(withSequencing('<imsss:randomizationControls randomizationTiming="onEachNewAttempt" selectCount="2" reorderChildren="true" selectionTiming="once"/><imsss:deliveryControls tracked="false" completionSetByContent="true" objectiveSetByContent="true"/>'));
    expect(item(model, 'I1').sequencing).toMatchObject({
      randomizationControls: { randomizationTiming: 'onEachNewAttempt', selectCount: 2, reorderChildren: true, selectionTiming: 'once' },
      deliveryControls: { tracked: false, completionSetByContent: true, objectiveSetByContent: true },
    });
  });

  it('ADL extensions: constrainedChoiceConsiderations, rollupConsiderations', async () => {
    const { model } = await parse(withSequencing('<adlseq:constrainedChoiceConsiderations preventActivation="true" constrainChoice="true"/><adlseq:rollupConsiderations requiredForSatisfied="ifAttempted" requiredForNotSatisfied="ifNotSkipped" requiredForCompleted="ifNotSuspended" requiredForIncomplete="always" measureSatisfactionIfActive="false"/>'));
    expect(item(model, 'I1').sequencing).toMatchObject({
      constrainedChoiceConsiderations: { preventActivation: true, constrainChoice: true },
      rollupConsiderations: { requiredForSatisfied: 'ifAttempted', requiredForNotSatisfied: 'ifNotSkipped', requiredForCompleted: 'ifNotSuspended', requiredForIncomplete: 'always', measureSatisfactionIfActive: false },
    });
  });

  it('ADL extension adlseq:objectives (4th edition): extended mapInfo attached to the objective of the same ID', async () => {
    const { model, findings } = await parse(withSequencing(`<imsss:objectives><imsss:primaryObjective objectiveID="main"/><imsss:objective objectiveID="side"/></imsss:objectives>
      <adlseq:objectives><adlseq:objective objectiveID="side"><adlseq:mapInfo targetObjectiveID="g-side" readRawScore="true" writeCompletionStatus="true" writeProgressMeasure="true"/></adlseq:objective></adlseq:objectives>`));
    expect(codes(findings)).toEqual([]);
    expect(item(model, 'I1').sequencing?.objectives?.others[0]).toEqual({ objectiveID: 'side', adlseqMapInfo: [{ targetObjectiveID: 'g-side', readRawScore: true, writeCompletionStatus: true, writeProgressMeasure: true }] });
  });

  it('an adlseq:objective matching no imsss objective is an error', async () => {
    expect(codes(await findingsOf(withSequencing('<imsss:objectives><imsss:primaryObjective objectiveID="main"/></imsss:objectives><adlseq:objectives><adlseq:objective objectiveID="ghost"><adlseq:mapInfo targetObjectiveID="g"/></adlseq:objective></adlseq:objectives>')), 'error')).toContain('objective_unknown');
  });

  it('sequencing on the organization (the root activity)', async () => {
    const { model } = await parse(manifest({
      organizations: '<organizations default="ORG"><organization identifier="ORG"><title>C</title><item identifier="I1" identifierref="RES"><title>SCO</title></item><imsss:sequencing><imsss:controlMode choice="false" flow="true"/></imsss:sequencing></organization></organizations>',
      resources: oneSco.resources,
    }));
    expect(model.organizations[0]!.sequencing?.controlMode).toEqual({ choice: false, flow: true });
  });

  it('invalid values are warnings and left out, never fatal', async () => {
    const { model, findings } = await parse(withSequencing('<imsss:controlMode choice="maybe" flow="true"/><imsss:limitConditions attemptLimit="-1" attemptAbsoluteDurationLimit="1 hour"/>'));
    expect(item(model, 'I1').sequencing).toMatchObject({ controlMode: { flow: true }, limitConditions: {} });
    expect(codes(findings, 'warning').filter((c) => c === 'invalid_value')).toHaveLength(3);
    expect(codes(findings, 'error')).toEqual([]);
  });
});

describe('CAM 5 Sequencing: sequencingCollection and IDRef', () => {
  it('keeps the collection by ID and the item\'s IDRef; both parts are preserved for the runtime to merge', async () => {
    const { model } = await parse(withSequencing('<imsss:limitConditions attemptLimit="1"/>', 'IDRef="shared"', '<imsss:sequencingCollection><imsss:sequencing ID="shared"><imsss:controlMode flow="true"/></imsss:sequencing></imsss:sequencingCollection>'));
    expect(model.sequencingCollection).toEqual({ shared: { controlMode: { flow: true } } });
    expect(item(model, 'I1').sequencing).toEqual({ idRef: 'shared', limitConditions: { attemptLimit: 1 } });
  });

  it('an IDRef matching nothing in the collection is an error', async () => {
    expect(codes(await findingsOf(withSequencing('', 'IDRef="nowhere"')), 'error')).toContain('sequencing_idref_missing');
  });
});
