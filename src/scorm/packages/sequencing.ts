import type { AdlseqMapInfo, Objective, RollupConsideration, RollupRule, RuleCondition, Sequencing, SequencingRule, ValidationFinding } from './model.js';
import { attr, type XmlElement } from './xml.js';

/**
 * IMS Simple Sequencing as SCORM 2004 writes it in a manifest (SN book, "Sequencing Definition
 * Model"; CAM 5.1 imsss:sequencing). Values are kept as written — defaults are the runtime's
 * business — but each is checked against its vocabulary, and an invalid value is reported and
 * left out instead of failing the whole package.
 */

export const ns = {
  imsss: 'http://www.imsglobal.org/xsd/imsss',
  adlseq: 'http://www.adlnet.org/xsd/adlseq_v1p3',
} as const;

export interface FindingSink {
  add(finding: ValidationFinding): void;
}

const sequencingRuleConditions = new Set([
  'satisfied', 'objectiveStatusKnown', 'objectiveMeasureKnown', 'objectiveMeasureGreaterThan', 'objectiveMeasureLessThan',
  'completed', 'activityProgressKnown', 'attempted', 'attemptLimitExceeded', 'timeLimitExceeded', 'outsideAvailableTimeRange', 'always',
]);
const preActions = new Set(['skip', 'disabled', 'hiddenFromChoice', 'stopForwardTraversal']);
const exitActions = new Set(['exit']);
const postActions = new Set(['exitParent', 'exitAll', 'retry', 'retryAll', 'continue', 'previous']);
const rollupConditions = new Set(['satisfied', 'objectiveStatusKnown', 'objectiveMeasureKnown', 'completed', 'activityProgressKnown', 'attempted', 'attemptLimitExceeded', 'timeLimitExceeded', 'outsideAvailableTimeRange']);
const rollupActions = new Set(['satisfied', 'notSatisfied', 'completed', 'incomplete'] as const);
const childActivitySets = new Set(['all', 'any', 'none', 'atLeastCount', 'atLeastPercent'] as const);
const considerations = new Set<RollupConsideration>(['always', 'ifAttempted', 'ifNotSkipped', 'ifNotSuspended']);
const timings = new Set(['never', 'once', 'onEachNewAttempt'] as const);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class SequencingReader {
  constructor(private readonly sink: FindingSink) {}

  private invalid(element: XmlElement, name: string, value: string, location: string, expected: string): void {
    this.sink.add({ severity: 'warning', code: 'invalid_value', location: `${location}/${element.local}@${name}`, message: `${element.qname}@${name}="${value}" is not ${expected}; it was ignored.` });
  }

  bool(element: XmlElement, name: string, location: string, namespace?: string): boolean | undefined {
    const value = attr(element, name, namespace);
    if (value === undefined) return undefined;
    const v = value.trim();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    this.invalid(element, name, value, location, 'true or false');
    return undefined;
  }

  decimal(element: XmlElement, name: string, location: string, range: [number, number]): number | undefined {
    const value = attr(element, name);
    if (value === undefined) return undefined;
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n) || n < range[0] || n > range[1]) {
      this.invalid(element, name, value, location, `a number from ${range[0]} to ${range[1]}`);
      return undefined;
    }
    return n;
  }

  integer(element: XmlElement, name: string, location: string): number | undefined {
    const value = attr(element, name);
    if (value === undefined) return undefined;
    if (!/^\s*\d+\s*$/.test(value)) {
      this.invalid(element, name, value, location, 'a non-negative integer');
      return undefined;
    }
    return Number(value);
  }

  token<T extends string>(element: XmlElement, name: string, location: string, allowed: ReadonlySet<T>): T | undefined {
    const value = attr(element, name);
    if (value === undefined) return undefined;
    if (!allowed.has(value.trim() as T)) {
      this.invalid(element, name, value, location, `one of ${[...allowed].join(', ')}`);
      return undefined;
    }
    return value.trim() as T;
  }

  /** imsss:sequencing (on an organization, an item, or in the sequencingCollection). */
  read(element: XmlElement, location: string): Sequencing {
    const out: Mutable<Sequencing> = {};
    const idRef = attr(element, 'IDRef');
    if (idRef) out.idRef = idRef;
    let adlseqObjectives: XmlElement | undefined;
    for (const child of element.children) {
      const at = `${location}/sequencing`;
      if (child.ns === ns.imsss) {
        switch (child.local) {
          case 'controlMode': out.controlMode = this.controlMode(child, at); break;
          case 'sequencingRules': out.sequencingRules = this.sequencingRules(child, at); break;
          case 'limitConditions': {
            const limit: Mutable<NonNullable<Sequencing['limitConditions']>> = {};
            const attemptLimit = this.integer(child, 'attemptLimit', at);
            if (attemptLimit !== undefined) limit.attemptLimit = attemptLimit;
            const duration = attr(child, 'attemptAbsoluteDurationLimit');
            if (duration !== undefined) {
              if (isIsoDuration(duration.trim())) limit.attemptAbsoluteDurationLimit = duration.trim();
              else this.invalid(child, 'attemptAbsoluteDurationLimit', duration, at, 'an ISO 8601 duration');
            }
            out.limitConditions = limit;
            break;
          }
          case 'rollupRules': out.rollupRules = this.rollupRules(child, at); break;
          case 'objectives': out.objectives = this.objectives(child, at); break;
          case 'randomizationControls': {
            const r: Mutable<NonNullable<Sequencing['randomizationControls']>> = {};
            const randomizationTiming = this.token(child, 'randomizationTiming', at, timings);
            if (randomizationTiming) r.randomizationTiming = randomizationTiming;
            const selectionTiming = this.token(child, 'selectionTiming', at, timings);
            if (selectionTiming) r.selectionTiming = selectionTiming;
            const selectCount = this.integer(child, 'selectCount', at);
            if (selectCount !== undefined) r.selectCount = selectCount;
            const reorderChildren = this.bool(child, 'reorderChildren', at);
            if (reorderChildren !== undefined) r.reorderChildren = reorderChildren;
            out.randomizationControls = r;
            break;
          }
          case 'deliveryControls': {
            const d: Mutable<NonNullable<Sequencing['deliveryControls']>> = {};
            for (const name of ['tracked', 'completionSetByContent', 'objectiveSetByContent'] as const) {
              const v = this.bool(child, name, at);
              if (v !== undefined) d[name] = v;
            }
            out.deliveryControls = d;
            break;
          }
          case 'auxiliaryResources':
            this.sink.add({ severity: 'warning', code: 'auxiliary_resources_ignored', location: at, message: 'imsss:auxiliaryResources is not supported by SCORM 2004 (ADL excludes it from the profile) and was ignored.' });
            break;
          default:
            this.unknown(child, at);
        }
      } else if (child.ns === ns.adlseq) {
        switch (child.local) {
          case 'constrainedChoiceConsiderations': {
            const c: Mutable<NonNullable<Sequencing['constrainedChoiceConsiderations']>> = {};
            for (const name of ['preventActivation', 'constrainChoice'] as const) {
              const v = this.bool(child, name, at);
              if (v !== undefined) c[name] = v;
            }
            out.constrainedChoiceConsiderations = c;
            break;
          }
          case 'rollupConsiderations': {
            const c: Mutable<NonNullable<Sequencing['rollupConsiderations']>> = {};
            for (const name of ['requiredForSatisfied', 'requiredForNotSatisfied', 'requiredForCompleted', 'requiredForIncomplete'] as const) {
              const v = this.token(child, name, at, considerations);
              if (v !== undefined) c[name] = v;
            }
            const m = this.bool(child, 'measureSatisfactionIfActive', at);
            if (m !== undefined) c.measureSatisfactionIfActive = m;
            out.rollupConsiderations = c;
            break;
          }
          case 'objectives': adlseqObjectives = child; break;
          default:
            this.unknown(child, at);
        }
      } else {
        this.unknown(child, at);
      }
    }
    if (adlseqObjectives) this.mergeAdlseqObjectives(out, adlseqObjectives, `${location}/sequencing`);
    return out;
  }

  private unknown(element: XmlElement, location: string): void {
    this.sink.add({ severity: 'warning', code: 'unknown_element', location: `${location}/${element.qname}`, message: `Unknown element ${element.qname} (namespace ${element.ns || 'none'}) was ignored.` });
  }

  private controlMode(element: XmlElement, location: string): NonNullable<Sequencing['controlMode']> {
    const c: Mutable<NonNullable<Sequencing['controlMode']>> = {};
    for (const name of ['choice', 'choiceExit', 'flow', 'forwardOnly', 'useCurrentAttemptObjectiveInfo', 'useCurrentAttemptProgressInfo'] as const) {
      const v = this.bool(element, name, location);
      if (v !== undefined) c[name] = v;
    }
    return c;
  }

  private sequencingRules(element: XmlElement, location: string): NonNullable<Sequencing['sequencingRules']> {
    const pre: SequencingRule[] = [];
    const exit: SequencingRule[] = [];
    const post: SequencingRule[] = [];
    for (const rule of element.children) {
      const at = `${location}/sequencingRules`;
      if (rule.ns !== ns.imsss) { this.unknown(rule, at); continue; }
      const kind = rule.local === 'preConditionRule' ? { list: pre, actions: preActions }
        : rule.local === 'exitConditionRule' ? { list: exit, actions: exitActions }
          : rule.local === 'postConditionRule' ? { list: post, actions: postActions } : undefined;
      if (!kind) { this.unknown(rule, at); continue; }
      const parsed = this.sequencingRule(rule, `${at}/${rule.local}`, kind.actions);
      if (parsed) kind.list.push(parsed);
    }
    return {
      ...(pre.length > 0 ? { preConditionRules: pre } : {}),
      ...(exit.length > 0 ? { exitConditionRules: exit } : {}),
      ...(post.length > 0 ? { postConditionRules: post } : {}),
    };
  }

  private sequencingRule(rule: XmlElement, location: string, actions: ReadonlySet<string>): SequencingRule | undefined {
    const conditionsElement = rule.children.find((c) => c.ns === ns.imsss && c.local === 'ruleConditions');
    const actionElement = rule.children.find((c) => c.ns === ns.imsss && c.local === 'ruleAction');
    const action = actionElement ? this.token(actionElement, 'action', location, actions) : undefined;
    if (!conditionsElement || !action) {
      this.sink.add({ severity: 'warning', code: 'sequencing_rule_incomplete', location, message: `A ${rule.local} without ruleConditions or a valid ruleAction was ignored.` });
      return undefined;
    }
    const conditions: RuleCondition[] = [];
    for (const c of conditionsElement.children) {
      if (c.ns !== ns.imsss || c.local !== 'ruleCondition') { this.unknown(c, location); continue; }
      const condition = this.token(c, 'condition', location, sequencingRuleConditions);
      if (!condition) continue;
      const out: Mutable<RuleCondition> = { condition };
      const operator = this.token(c, 'operator', location, new Set(['not', 'noOp'] as const));
      if (operator) out.operator = operator;
      const ref = attr(c, 'referencedObjective');
      if (ref) out.referencedObjective = ref;
      const threshold = this.decimal(c, 'measureThreshold', location, [-1, 1]);
      if (threshold !== undefined) out.measureThreshold = threshold;
      conditions.push(out);
    }
    return { conditionCombination: this.token(conditionsElement, 'conditionCombination', location, new Set(['all', 'any'] as const)) ?? 'all', conditions, action };
  }

  private rollupRules(element: XmlElement, location: string): NonNullable<Sequencing['rollupRules']> {
    const at = `${location}/rollupRules`;
    const out: Mutable<NonNullable<Sequencing['rollupRules']>> = { rules: [] };
    const satisfied = this.bool(element, 'rollupObjectiveSatisfied', at);
    if (satisfied !== undefined) out.rollupObjectiveSatisfied = satisfied;
    const progress = this.bool(element, 'rollupProgressCompletion', at);
    if (progress !== undefined) out.rollupProgressCompletion = progress;
    const weight = this.decimal(element, 'objectiveMeasureWeight', at, [0, 1]);
    if (weight !== undefined) out.objectiveMeasureWeight = weight;
    const rules: RollupRule[] = [];
    for (const rule of element.children) {
      if (rule.ns !== ns.imsss || rule.local !== 'rollupRule') { this.unknown(rule, at); continue; }
      const conditionsElement = rule.children.find((c) => c.ns === ns.imsss && c.local === 'rollupConditions');
      const actionElement = rule.children.find((c) => c.ns === ns.imsss && c.local === 'rollupAction');
      const action = actionElement ? this.token(actionElement, 'action', at, rollupActions) : undefined;
      if (!conditionsElement || !action) {
        this.sink.add({ severity: 'warning', code: 'sequencing_rule_incomplete', location: `${at}/rollupRule`, message: 'A rollupRule without rollupConditions or a valid rollupAction was ignored.' });
        continue;
      }
      const conditions: Mutable<RollupRule['conditions'][number]>[] = [];
      for (const c of conditionsElement.children) {
        if (c.ns !== ns.imsss || c.local !== 'rollupCondition') { this.unknown(c, at); continue; }
        const condition = this.token(c, 'condition', at, rollupConditions);
        if (!condition) continue;
        const operator = this.token(c, 'operator', at, new Set(['not', 'noOp'] as const));
        conditions.push({ condition, ...(operator ? { operator } : {}) });
      }
      const minimumCount = this.integer(rule, 'minimumCount', at);
      const minimumPercent = this.decimal(rule, 'minimumPercent', at, [0, 1]);
      rules.push({
        childActivitySet: this.token(rule, 'childActivitySet', at, childActivitySets) ?? 'all',
        ...(minimumCount !== undefined ? { minimumCount } : {}),
        ...(minimumPercent !== undefined ? { minimumPercent } : {}),
        conditionCombination: this.token(conditionsElement, 'conditionCombination', at, new Set(['all', 'any'] as const)) ?? 'any',
        conditions,
        action,
      });
    }
    out.rules = rules;
    return out;
  }

  private objectives(element: XmlElement, location: string): NonNullable<Sequencing['objectives']> {
    const at = `${location}/objectives`;
    let primary: Objective | undefined;
    const others: Objective[] = [];
    for (const o of element.children) {
      if (o.ns !== ns.imsss || (o.local !== 'primaryObjective' && o.local !== 'objective')) { this.unknown(o, at); continue; }
      const objective = this.objective(o, `${at}/${o.local}`);
      if (o.local === 'primaryObjective') primary = objective;
      else if (!objective.objectiveID) {
        this.sink.add({ severity: 'error', code: 'objective_id_missing', location: at, message: 'An imsss:objective has no objectiveID (required for objectives other than the primary one).' });
      } else others.push(objective);
    }
    return { ...(primary ? { primary } : {}), others };
  }

  private objective(element: XmlElement, location: string): Objective {
    const out: Mutable<Objective> = { objectiveID: attr(element, 'objectiveID')?.trim() ?? '' };
    const byMeasure = this.bool(element, 'satisfiedByMeasure', location);
    if (byMeasure !== undefined) out.satisfiedByMeasure = byMeasure;
    const maps: Mutable<NonNullable<Objective['mapInfo']>[number]>[] = [];
    for (const c of element.children) {
      if (c.ns === ns.imsss && c.local === 'minNormalizedMeasure') {
        const n = Number(c.text);
        if (c.text === '' || !Number.isFinite(n) || n < -1 || n > 1) {
          this.sink.add({ severity: 'warning', code: 'invalid_value', location: `${location}/minNormalizedMeasure`, message: `minNormalizedMeasure "${c.text}" is not a number from -1 to 1; it was ignored.` });
        } else {
          out.minNormalizedMeasure = n;
        }
      } else if (c.ns === ns.imsss && c.local === 'mapInfo') {
        const target = attr(c, 'targetObjectiveID')?.trim();
        if (!target) {
          this.sink.add({ severity: 'error', code: 'objective_map_target_missing', location: `${location}/mapInfo`, message: 'An imsss:mapInfo has no targetObjectiveID.' });
          continue;
        }
        const map: Mutable<NonNullable<Objective['mapInfo']>[number]> = { targetObjectiveID: target };
        for (const name of ['readSatisfiedStatus', 'readNormalizedMeasure', 'writeSatisfiedStatus', 'writeNormalizedMeasure'] as const) {
          const v = this.bool(c, name, `${location}/mapInfo`);
          if (v !== undefined) map[name] = v;
        }
        maps.push(map);
      } else {
        this.unknown(c, location);
      }
    }
    if (maps.length > 0) {
      out.mapInfo = maps;
      if (!out.objectiveID) {
        this.sink.add({ severity: 'error', code: 'objective_id_missing', location, message: 'A primary objective with mapInfo must have an objectiveID.' });
      }
    }
    return out;
  }

  /** adlseq:objectives (4th ed): extended maps, attached to the imsss objective of the same ID. */
  private mergeAdlseqObjectives(out: Mutable<Sequencing>, element: XmlElement, location: string): void {
    const at = `${location}/adlseq:objectives`;
    const byId = new Map<string, AdlseqMapInfo[]>();
    for (const o of element.children) {
      if (o.ns !== ns.adlseq || o.local !== 'objective') { this.unknown(o, at); continue; }
      const id = attr(o, 'objectiveID')?.trim();
      if (!id) {
        this.sink.add({ severity: 'error', code: 'objective_id_missing', location: at, message: 'An adlseq:objective has no objectiveID.' });
        continue;
      }
      const maps = byId.get(id) ?? [];
      for (const m of o.children) {
        if (m.ns !== ns.adlseq || m.local !== 'mapInfo') { this.unknown(m, at); continue; }
        const target = attr(m, 'targetObjectiveID')?.trim();
        if (!target) {
          this.sink.add({ severity: 'error', code: 'objective_map_target_missing', location: at, message: `An adlseq:mapInfo of objective "${id}" has no targetObjectiveID.` });
          continue;
        }
        const map: Mutable<AdlseqMapInfo> = { targetObjectiveID: target };
        for (const name of ['readRawScore', 'readMinScore', 'readMaxScore', 'readCompletionStatus', 'readProgressMeasure', 'writeRawScore', 'writeMinScore', 'writeMaxScore', 'writeCompletionStatus', 'writeProgressMeasure'] as const) {
          const v = this.bool(m, name, at);
          if (v !== undefined) map[name] = v;
        }
        maps.push(map);
      }
      byId.set(id, maps);
    }
    const objectives = out.objectives ?? { others: [] };
    const attach = (o: Objective): Objective => {
      const maps = byId.get(o.objectiveID);
      if (!maps) return o;
      byId.delete(o.objectiveID);
      return { ...o, adlseqMapInfo: maps };
    };
    const primary = objectives.primary ? attach(objectives.primary) : undefined;
    const others = objectives.others.map(attach);
    for (const id of byId.keys()) {
      this.sink.add({ severity: 'error', code: 'objective_unknown', location: at, message: `adlseq:objective "${id}" matches no imsss objective of this activity (CAM 5.1.1.9: the IDs must match).` });
    }
    out.objectives = { ...(primary ? { primary } : {}), others };
  }
}

/** xs:duration as SCORM 2004 uses it (P[nY][nM][nD][T[nH][nM][n[.n]S]]). */
export function isIsoDuration(value: string): boolean {
  return /^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/.test(value);
}
