import type { Item, Objective, Organization, PackageModel, Sequencing, SequencingRule } from '../packages/model.js';

/**
 * The manifest's IMS Simple Sequencing, as the import parsed it (PackageModel), translated into
 * scorm-again's sequencing settings (node_modules/scorm-again/dist/types/types/sequencing_types.d.ts,
 * `SequencingSettings` / `ActivitySettings`). The player hands the result to `new Scorm2004API({
 * sequencing })` and scorm-again's engine decides navigation; Cairn only delivers what it chooses.
 * Decisions: docs/decisions/0051-sequencing-translation.md.
 *
 * The types are restated here (structurally identical subsets) so the server build does not
 * depend on the browser library's declaration files.
 */
export interface ActivitySettings {
  id: string;
  title: string;
  children?: ActivitySettings[];
  isVisible?: boolean;
  attemptLimit?: number | null;
  attemptAbsoluteDurationLimit?: string | null;
  timeLimitAction?: string | null;
  primaryObjective?: ObjectiveSettings;
  objectives?: ObjectiveSettings[];
  sequencingRules?: SequencingRulesSettings;
  sequencingControls?: Record<string, boolean | number | string | null>;
  deliveryControls?: { tracked?: boolean; completionSetByContent?: boolean; objectiveSetByContent?: boolean };
  rollupRules?: { rules: RollupRuleSettings[] };
  rollupConsiderations?: Record<string, string | boolean>;
  completionThreshold?: { completedByMeasure?: boolean; minProgressMeasure?: number; progressWeight?: number };
  hideLmsUi?: string[];
  sharedDataMaps?: Array<{ targetID: string; readSharedData?: boolean; writeSharedData?: boolean }>;
}

export interface ObjectiveSettings {
  objectiveID: string;
  isPrimary?: boolean;
  satisfiedByMeasure?: boolean;
  minNormalizedMeasure?: number | null;
  mapInfo?: Array<Record<string, string | boolean>>;
}

interface RuleSettings {
  action: string;
  conditionCombination: 'all' | 'any';
  conditions: Array<{ condition: string; operator?: 'not'; referencedObjective?: string; parameters?: Record<string, number> }>;
}

interface SequencingRulesSettings {
  preConditionRules?: RuleSettings[];
  exitConditionRules?: RuleSettings[];
  postConditionRules?: RuleSettings[];
}

interface RollupRuleSettings {
  action: string;
  conditionCombination: 'all' | 'any';
  consideration: string;
  minimumCount?: number;
  minimumPercent?: number;
  conditions: Array<{ condition: string; operator?: 'not' }>;
}

export interface SequencingSettings {
  activityTree: ActivitySettings;
  autoRollupOnCMIChange: boolean;
  validateNavigationRequests: boolean;
  enableEventSystem: boolean;
}

/**
 * The item's own sequencing over the collection entry it references. Element by element (IMS SS:
 * the referenced definition fills in the elements the item does not define): a local
 * `controlMode` or `rollupRules` replaces the collection's whole element, attributes included.
 */
export function effectiveSequencing(model: PackageModel, own: Sequencing | undefined): Sequencing | undefined {
  if (!own?.idRef) return own;
  const shared = model.sequencingCollection[own.idRef];
  if (!shared) return own;
  const { idRef: _ignored, ...local } = own;
  return { ...shared, ...local };
}

function rules(list: readonly SequencingRule[] | undefined): RuleSettings[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((r) => ({
    action: r.action,
    conditionCombination: r.conditionCombination,
    conditions: r.conditions.map((c) => ({
      condition: c.condition,
      ...(c.operator === 'not' ? { operator: 'not' as const } : {}),
      ...(c.referencedObjective ? { referencedObjective: c.referencedObjective } : {}),
      ...(c.measureThreshold !== undefined ? { parameters: { threshold: c.measureThreshold } } : {}),
    })),
  }));
}

function objective(o: Objective, primary: boolean): ObjectiveSettings {
  // IMS mapInfo and the 4th edition's adlseq:mapInfo for the same target become one map entry.
  const maps = new Map<string, Record<string, string | boolean>>();
  for (const m of o.mapInfo ?? []) maps.set(m.targetObjectiveID, { ...m });
  for (const m of o.adlseqMapInfo ?? []) maps.set(m.targetObjectiveID, { ...(maps.get(m.targetObjectiveID) ?? {}), ...m });
  return {
    objectiveID: o.objectiveID || (primary ? 'PRIMARY' : ''),
    ...(primary ? { isPrimary: true } : {}),
    ...(o.satisfiedByMeasure !== undefined ? { satisfiedByMeasure: o.satisfiedByMeasure } : {}),
    ...(o.minNormalizedMeasure !== undefined ? { minNormalizedMeasure: o.minNormalizedMeasure } : {}),
    ...(maps.size > 0 ? { mapInfo: [...maps.values()] } : {}),
  };
}

function applySequencing(target: ActivitySettings, s: Sequencing | undefined): void {
  if (!s) return;
  const controls: Record<string, boolean | number | string | null> = {};
  const cm = s.controlMode ?? {};
  for (const key of ['choice', 'choiceExit', 'flow', 'forwardOnly', 'useCurrentAttemptObjectiveInfo', 'useCurrentAttemptProgressInfo'] as const) {
    if (cm[key] !== undefined) controls[key] = cm[key]!;
  }
  if (s.constrainedChoiceConsiderations?.preventActivation !== undefined) controls['preventActivation'] = s.constrainedChoiceConsiderations.preventActivation;
  if (s.constrainedChoiceConsiderations?.constrainChoice !== undefined) controls['constrainChoice'] = s.constrainedChoiceConsiderations.constrainChoice;
  const rr = s.rollupRules;
  if (rr?.rollupObjectiveSatisfied !== undefined) controls['rollupObjectiveSatisfied'] = rr.rollupObjectiveSatisfied;
  if (rr?.rollupProgressCompletion !== undefined) controls['rollupProgressCompletion'] = rr.rollupProgressCompletion;
  if (rr?.objectiveMeasureWeight !== undefined) controls['objectiveMeasureWeight'] = rr.objectiveMeasureWeight;
  const rc = s.randomizationControls;
  if (rc?.randomizationTiming) controls['randomizationTiming'] = rc.randomizationTiming;
  if (rc?.selectionTiming) controls['selectionTiming'] = rc.selectionTiming;
  if (rc?.selectCount !== undefined) controls['selectCount'] = rc.selectCount;
  if (rc?.reorderChildren !== undefined) {
    controls['reorderChildren'] = rc.reorderChildren;
    controls['randomizeChildren'] = rc.reorderChildren;
  }
  if (Object.keys(controls).length > 0) target.sequencingControls = controls;

  const sr = s.sequencingRules;
  const pre = rules(sr?.preConditionRules);
  const exit = rules(sr?.exitConditionRules);
  const post = rules(sr?.postConditionRules);
  if (pre || exit || post) {
    target.sequencingRules = { ...(pre ? { preConditionRules: pre } : {}), ...(exit ? { exitConditionRules: exit } : {}), ...(post ? { postConditionRules: post } : {}) };
  }
  if (rr && rr.rules.length > 0) {
    target.rollupRules = {
      rules: rr.rules.map((r) => ({
        action: r.action,
        conditionCombination: r.conditionCombination,
        consideration: r.childActivitySet,
        ...(r.minimumCount !== undefined ? { minimumCount: r.minimumCount } : {}),
        ...(r.minimumPercent !== undefined ? { minimumPercent: r.minimumPercent } : {}),
        conditions: r.conditions.map((c) => ({ condition: c.condition, ...(c.operator === 'not' ? { operator: 'not' as const } : {}) })),
      })),
    };
  }
  if (s.limitConditions?.attemptLimit !== undefined) target.attemptLimit = s.limitConditions.attemptLimit;
  if (s.limitConditions?.attemptAbsoluteDurationLimit !== undefined) target.attemptAbsoluteDurationLimit = s.limitConditions.attemptAbsoluteDurationLimit;
  if (s.objectives?.primary) target.primaryObjective = objective(s.objectives.primary, true);
  if (s.objectives && s.objectives.others.length > 0) target.objectives = s.objectives.others.map((o) => objective(o, false));
  if (s.deliveryControls) target.deliveryControls = { ...s.deliveryControls };
  if (s.rollupConsiderations) target.rollupConsiderations = { ...s.rollupConsiderations };
}

function activity(model: PackageModel, item: Item): ActivitySettings {
  const a: ActivitySettings = { id: item.identifier, title: item.title };
  if (!item.isVisible) a.isVisible = false;
  applySequencing(a, effectiveSequencing(model, item.sequencing));
  if (item.completionThreshold) a.completionThreshold = { ...item.completionThreshold };
  if (item.hideLmsUi && item.hideLmsUi.length > 0) a.hideLmsUi = [...item.hideLmsUi];
  if (item.timeLimitAction) a.timeLimitAction = item.timeLimitAction;
  if (item.sharedData && item.sharedData.length > 0) a.sharedDataMaps = item.sharedData.map((m) => ({ ...m }));
  if (item.children.length > 0) a.children = item.children.map((c) => activity(model, c));
  return a;
}

/** The default organization (or the named one), as scorm-again's activity tree. */
export function organizationOf(model: PackageModel, identifier?: string): Organization {
  const wanted = identifier ?? model.defaultOrganization;
  return model.organizations.find((o) => o.identifier === wanted) ?? model.organizations[0]!;
}

export function toSequencingSettings(model: PackageModel, org: Organization): SequencingSettings {
  const root: ActivitySettings = { id: org.identifier, title: org.title, children: org.items.map((i) => activity(model, i)) };
  applySequencing(root, effectiveSequencing(model, org.sequencing));
  return { activityTree: root, autoRollupOnCMIChange: true, validateNavigationRequests: true, enableEventSystem: true };
}

/** Target IDs of every global objective the organization maps to (scorm-again's `globalObjectiveIds`). */
export function globalObjectiveIds(model: PackageModel, org: Organization): string[] {
  const ids = new Set<string>();
  const visit = (s: Sequencing | undefined) => {
    for (const o of [s?.objectives?.primary, ...(s?.objectives?.others ?? [])]) {
      for (const m of [...(o?.mapInfo ?? []), ...(o?.adlseqMapInfo ?? [])]) ids.add(m.targetObjectiveID);
    }
  };
  const walk = (items: readonly Item[]) => {
    for (const i of items) {
      visit(effectiveSequencing(model, i.sequencing));
      walk(i.children);
    }
  };
  visit(effectiveSequencing(model, org.sequencing));
  walk(org.items);
  return [...ids];
}

/** Leaves that launch something, in tree order: what a player can deliver. */
export function launchableItems(org: Organization): Item[] {
  const out: Item[] = [];
  const walk = (items: readonly Item[]) => {
    for (const i of items) {
      if (i.children.length === 0 && i.launchUrl) out.push(i);
      walk(i.children);
    }
  };
  walk(org.items);
  return out;
}

export function findItem(org: Organization, identifier: string): Item | undefined {
  const walk = (items: readonly Item[]): Item | undefined => {
    for (const i of items) {
      if (i.identifier === identifier) return i;
      const found = walk(i.children);
      if (found) return found;
    }
    return undefined;
  };
  return walk(org.items);
}
