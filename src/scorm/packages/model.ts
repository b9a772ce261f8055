/**
 * What Cairn keeps of an imsmanifest.xml: the contract between the manifest parser (which
 * produces it at import, stored as JSON with the package) and the runtime (which launches
 * items, feeds their settings to the SCO and translates `sequencing` into scorm-again's
 * sequencing settings). Names follow the specifications (IMS CP, ADL CAM, IMS SS) so the
 * parser reads like the manifest and the runtime like the spec.
 */

export type ScormVersion = '1.2' | '2004-2' | '2004-3' | '2004-4';

export interface PackageModel {
  readonly version: ScormVersion;
  /** manifest@identifier */
  readonly identifier: string;
  /** The default organization's title, else the manifest identifier. */
  readonly title: string;
  readonly defaultOrganization: string;
  readonly organizations: readonly Organization[];
  readonly resources: readonly Resource[];
  /** imsss:sequencingCollection entries by ID, referenced from items' `sequencing.idRef`. */
  readonly sequencingCollection: Readonly<Record<string, Sequencing>>;
  /** metadata/schemaversion as written ('1.2', 'CAM 1.3', '2004 4th Edition'), when present. */
  readonly schemaVersion?: string;
}

export interface Organization {
  readonly identifier: string;
  readonly title: string;
  /** adlseq:objectivesGlobalToSystem (2004); default true. */
  readonly objectivesGlobalToSystem: boolean;
  /** adlcp:sharedDataGlobalToSystem (2004 4th); default true. */
  readonly sharedDataGlobalToSystem: boolean;
  readonly sequencing?: Sequencing;
  readonly items: readonly Item[];
}

export interface Item {
  readonly identifier: string;
  readonly title: string;
  /** item@isvisible, default true. */
  readonly isVisible: boolean;
  /** identifierref → resource id; absent on cluster items. */
  readonly resourceId?: string;
  /**
   * The resource's href with xml:base applied and item@parameters appended (CAM rules for `?`,
   * `&`, `#`), relative to the package root. A URL reference: percent-encoded, may carry a query
   * and a fragment — resolve it against the package's content base URL. An absolute http(s)
   * URL when the resource lives outside the package.
   */
  readonly launchUrl?: string;
  readonly parameters?: string;
  /** 'sco' talks to the API; 'asset' does not. */
  readonly scormType?: 'sco' | 'asset';
  /** adlcp:datafromlms (1.2) / adlcp:dataFromLMS (2004) → cmi.launch_data. */
  readonly dataFromLms?: string;
  /** adlcp:masteryscore (1.2), 0–100. */
  readonly masteryScore?: number;
  /** adlcp:maxtimeallowed (1.2) / limitConditions@attemptAbsoluteDurationLimit (2004), ISO 8601 duration or 1.2 timespan. */
  readonly maxTimeAllowed?: string;
  /** adlcp:timelimitaction / adlcp:timeLimitAction. */
  readonly timeLimitAction?: 'exit,message' | 'exit,no message' | 'continue,message' | 'continue,no message';
  /** adlcp:prerequisites (1.2, aicc_script). */
  readonly prerequisites?: string;
  /**
   * adlcp:completionThreshold (2004 3rd/4th). The 3rd edition's element form
   * (`<adlcp:completionThreshold>0.8</…>`), which the LMS evaluated against progress_measure, reads
   * as `{ completedByMeasure: true, minProgressMeasure: 0.8, progressWeight: 1 }`; the 4th
   * edition's attribute form keeps its own defaults (false, 1.0, 1.0).
   */
  readonly completionThreshold?: { readonly completedByMeasure: boolean; readonly minProgressMeasure: number; readonly progressWeight: number };
  /** adlnav:presentation/navigationInterface/hideLMSUI tokens. */
  readonly hideLmsUi?: readonly ('continue' | 'previous' | 'exit' | 'exitAll' | 'abandon' | 'abandonAll' | 'suspendAll')[];
  readonly sequencing?: Sequencing;
  /** adlcp:data/adlcp:map (2004 4th): shared data buffers this item reads/writes (adl.data). */
  readonly sharedData?: readonly SharedDataMap[];
  readonly children: readonly Item[];
}

export interface SharedDataMap {
  readonly targetID: string;
  /** Defaults true. */
  readonly readSharedData: boolean;
  /** Defaults true. */
  readonly writeSharedData: boolean;
}

export interface Resource {
  readonly identifier: string;
  readonly type: string;
  readonly scormType: 'sco' | 'asset';
  /**
   * With xml:base applied, relative to the package root, as a URL reference (percent-encoded,
   * may carry a query or fragment); an absolute http(s) URL for external resources; absent for
   * resources with no launch file.
   */
  readonly href?: string;
  /** Files listed by the resource (with xml:base applied): decoded paths as they appear in the zip. */
  readonly files: readonly string[];
  readonly dependencies: readonly string[];
}

/** IMS Simple Sequencing as written in the manifest (imsss:sequencing), 2004 only. */
export interface Sequencing {
  /** imsss:sequencing@IDRef into the sequencingCollection. */
  readonly idRef?: string;
  readonly controlMode?: {
    readonly choice?: boolean;
    readonly choiceExit?: boolean;
    readonly flow?: boolean;
    readonly forwardOnly?: boolean;
    readonly useCurrentAttemptObjectiveInfo?: boolean;
    readonly useCurrentAttemptProgressInfo?: boolean;
  };
  readonly sequencingRules?: {
    readonly preConditionRules?: readonly SequencingRule[];
    readonly exitConditionRules?: readonly SequencingRule[];
    readonly postConditionRules?: readonly SequencingRule[];
  };
  readonly limitConditions?: { readonly attemptLimit?: number; readonly attemptAbsoluteDurationLimit?: string };
  readonly rollupRules?: {
    readonly rollupObjectiveSatisfied?: boolean;
    readonly rollupProgressCompletion?: boolean;
    readonly objectiveMeasureWeight?: number;
    readonly rules: readonly RollupRule[];
  };
  readonly objectives?: {
    readonly primary?: Objective;
    readonly others: readonly Objective[];
  };
  readonly randomizationControls?: {
    readonly randomizationTiming?: 'never' | 'once' | 'onEachNewAttempt';
    readonly selectCount?: number;
    readonly reorderChildren?: boolean;
    readonly selectionTiming?: 'never' | 'once' | 'onEachNewAttempt';
  };
  readonly deliveryControls?: { readonly tracked?: boolean; readonly completionSetByContent?: boolean; readonly objectiveSetByContent?: boolean };
  /** adlseq:constrainedChoiceConsiderations */
  readonly constrainedChoiceConsiderations?: { readonly preventActivation?: boolean; readonly constrainChoice?: boolean };
  /** adlseq:rollupConsiderations */
  readonly rollupConsiderations?: {
    readonly requiredForSatisfied?: RollupConsideration;
    readonly requiredForNotSatisfied?: RollupConsideration;
    readonly requiredForCompleted?: RollupConsideration;
    readonly requiredForIncomplete?: RollupConsideration;
    readonly measureSatisfactionIfActive?: boolean;
  };
}

export type RollupConsideration = 'always' | 'ifAttempted' | 'ifNotSkipped' | 'ifNotSuspended';

export interface RuleCondition {
  readonly condition: string;
  readonly operator?: 'not' | 'noOp';
  readonly referencedObjective?: string;
  readonly measureThreshold?: number;
}

export interface SequencingRule {
  readonly conditionCombination: 'all' | 'any';
  readonly conditions: readonly RuleCondition[];
  readonly action: string;
}

export interface RollupRule {
  readonly childActivitySet: 'all' | 'any' | 'none' | 'atLeastCount' | 'atLeastPercent';
  readonly minimumCount?: number;
  readonly minimumPercent?: number;
  readonly conditionCombination: 'all' | 'any';
  readonly conditions: readonly { readonly condition: string; readonly operator?: 'not' | 'noOp' }[];
  readonly action: 'satisfied' | 'notSatisfied' | 'completed' | 'incomplete';
}

export interface Objective {
  /** '' when the manifest gave none (allowed only for a primary objective without mapInfo). */
  readonly objectiveID: string;
  readonly satisfiedByMeasure?: boolean;
  readonly minNormalizedMeasure?: number;
  readonly mapInfo?: readonly {
    readonly targetObjectiveID: string;
    readonly readSatisfiedStatus?: boolean;
    readonly readNormalizedMeasure?: boolean;
    readonly writeSatisfiedStatus?: boolean;
    readonly writeNormalizedMeasure?: boolean;
  }[];
  /** adlseq:objectives/adlseq:objective/adlseq:mapInfo (2004 4th) for this objective ID. */
  readonly adlseqMapInfo?: readonly AdlseqMapInfo[];
}

/** The 4th edition's extended objective map: score, completion and progress, read and written. */
export interface AdlseqMapInfo {
  readonly targetObjectiveID: string;
  readonly readRawScore?: boolean;
  readonly readMinScore?: boolean;
  readonly readMaxScore?: boolean;
  readonly readCompletionStatus?: boolean;
  readonly readProgressMeasure?: boolean;
  readonly writeRawScore?: boolean;
  readonly writeMinScore?: boolean;
  readonly writeMaxScore?: boolean;
  readonly writeCompletionStatus?: boolean;
  readonly writeProgressMeasure?: boolean;
}

/** One finding of the import's validation report. Errors block the import; warnings do not. */
export interface ValidationFinding {
  readonly severity: 'error' | 'warning';
  /** Stable machine-readable code, e.g. `manifest_missing`, `resource_missing`, `zip_entry_escapes_root`. */
  readonly code: string;
  readonly message: string;
  /** Where: a zip entry name, or a manifest path such as `organizations/org1/item[ITEM2]`. */
  readonly location?: string;
}
