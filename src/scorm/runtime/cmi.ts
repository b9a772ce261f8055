/**
 * What the server reads out of a SCO's CMI (scorm-again's JSON rendering of the data model) and
 * what it hands back at the next launch. SCORM 1.2 and 2004 name things differently; everything
 * past this file speaks one vocabulary: completion (completed / incomplete / not attempted /
 * unknown), success (passed / failed / unknown), a score with raw/min/max/scaled, seconds.
 */

export type Family = '1.2' | '2004';
export type Completion = 'completed' | 'incomplete' | 'not attempted' | 'unknown';
export type Success = 'passed' | 'failed' | 'unknown';

export interface ScoResult {
  readonly completion: Completion;
  readonly success: Success;
  readonly scoreScaled: number | null;
  readonly scoreRaw: number | null;
  readonly scoreMin: number | null;
  readonly scoreMax: number | null;
  readonly progressMeasure: number | null;
  readonly exit: string;
  readonly sessionSeconds: number;
  readonly suspendData: string;
  readonly location: string;
}

export interface Interaction {
  readonly index: number;
  readonly id: string;
  readonly type: string;
  readonly learnerResponse: string;
  readonly result: string;
  readonly description: string;
  readonly correctResponses: readonly string[];
  readonly latency: string;
}

export type Json = Record<string, unknown>;

/** SCORM 1.2 suspend_data is CMIString4096; real content writes more. Kept whole, with a warning. */
export const scorm12SuspendDataLimit = 4096;

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

function num(v: unknown): number | null {
  const s = str(v).trim();
  if (s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** `HHHH:MM:SS.SS` (1.2 CMITimespan) → seconds; null when malformed. */
export function parseTimespan(value: string): number | null {
  const m = /^(\d{2,4}):(\d{2}):(\d{2})(\.\d{1,2})?$/.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + (m[4] ? Number(m[4]) : 0);
}

/** ISO 8601 duration (2004 timeinterval, `P[nY][nM][nD][T[nH][nM][nS]]`) → seconds; null when malformed. */
export function parseDuration(value: string): number | null {
  const m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value.trim());
  if (!m || value.trim() === 'P' || value.trim().endsWith('T')) return null;
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  // Years and months as the SCORM 2004 RTE's conformance tools count them (365 and 30 days).
  return (y ?? 0) * 31_536_000 + (mo ?? 0) * 2_592_000 + (w ?? 0) * 604_800 + (d ?? 0) * 86_400 + (h ?? 0) * 3600 + (mi ?? 0) * 60 + (s ?? 0);
}

/** Seconds → `HHHH:MM:SS.SS`, what 1.2 content reads from cmi.core.total_time. */
export function formatTimespan(seconds: number): string {
  const cs = Math.round(Math.max(0, seconds) * 100);
  const h = Math.floor(cs / 360_000);
  const m = Math.floor((cs % 360_000) / 6000);
  const s = (cs % 6000) / 100;
  return `${String(Math.min(h, 9999)).padStart(4, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(2).padStart(5, '0')}`;
}

/** Seconds → ISO 8601 duration, what 2004 content reads from cmi.total_time. */
export function formatDuration(seconds: number): string {
  const cs = Math.round(Math.max(0, seconds) * 100);
  const h = Math.floor(cs / 360_000);
  const m = Math.floor((cs % 360_000) / 6000);
  const s = (cs % 6000) / 100;
  return `PT${h > 0 ? `${h}H` : ''}${m > 0 ? `${m}M` : ''}${Number.isInteger(s) ? s : s.toFixed(2)}S`;
}

function scaledFrom(raw: number | null, min: number | null, max: number | null): number | null {
  if (raw === null) return null;
  const lo = min ?? 0;
  const hi = max ?? 100;
  if (hi <= lo) return null;
  return Math.max(-1, Math.min(1, (raw - lo) / (hi - lo)));
}

/** The result fields of one SCO's CMI (scorm-again's `cmi` object). */
export function readResult(family: Family, cmi: Json): ScoResult {
  if (family === '1.2') {
    const core = obj(cmi['core']);
    const score = obj(core['score']);
    const status = str(core['lesson_status']);
    const raw = num(score['raw']);
    const min = num(score['min']);
    const max = num(score['max']);
    // 1.2 has one status for both; passed and failed both mean the learner finished.
    const completion: Completion = status === 'completed' || status === 'passed' || status === 'failed' ? 'completed'
      : status === 'incomplete' || status === 'browsed' ? 'incomplete'
        : status === 'not attempted' ? 'not attempted' : 'unknown';
    return {
      completion,
      success: status === 'passed' ? 'passed' : status === 'failed' ? 'failed' : 'unknown',
      scoreRaw: raw, scoreMin: min, scoreMax: max, scoreScaled: scaledFrom(raw, min, max),
      progressMeasure: null,
      exit: str(core['exit']),
      sessionSeconds: parseTimespan(str(core['session_time'])) ?? 0,
      suspendData: str(cmi['suspend_data']),
      location: str(core['lesson_location']),
    };
  }
  const score = obj(cmi['score']);
  const completion = str(cmi['completion_status']);
  const success = str(cmi['success_status']);
  const raw = num(score['raw']);
  const min = num(score['min']);
  const max = num(score['max']);
  const scaled = num(score['scaled']);
  return {
    completion: completion === 'completed' || completion === 'incomplete' || completion === 'not attempted' ? completion : 'unknown',
    success: success === 'passed' || success === 'failed' ? success : 'unknown',
    scoreRaw: raw, scoreMin: min, scoreMax: max,
    scoreScaled: scaled !== null ? Math.max(-1, Math.min(1, scaled)) : scaledFrom(raw, min, max),
    progressMeasure: num(cmi['progress_measure']),
    exit: str(cmi['exit']),
    sessionSeconds: parseDuration(str(cmi['session_time'])) ?? 0,
    suspendData: str(cmi['suspend_data']),
    location: str(cmi['location']),
  };
}

/** cmi.interactions in index order (scorm-again renders the collection as an object keyed by index). */
export function readInteractions(family: Family, cmi: Json): Interaction[] {
  const list = obj(cmi['interactions']);
  const out: Interaction[] = [];
  for (const [key, value] of Object.entries(list)) {
    const index = Number(key);
    if (!Number.isInteger(index)) continue;
    const i = obj(value);
    const correct = Object.values(obj(i['correct_responses'])).map((c) => str(obj(c)['pattern']));
    out.push({
      index,
      id: str(i['id']),
      type: str(i['type']),
      learnerResponse: str(family === '1.2' ? i['student_response'] : i['learner_response']),
      result: str(i['result']),
      description: str(i['description']),
      correctResponses: correct,
      latency: str(i['latency']),
    });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Checks the shape of a commit's CMI: an object whose leaves are strings (or numbers, which
 * scorm-again emits for a few counters), nested at most 8 deep. Returns the first problem.
 */
export function cmiShapeProblem(cmi: unknown, depth = 0, path = 'cmi'): string | undefined {
  if (cmi === null || typeof cmi !== 'object' || Array.isArray(cmi)) return `${path} must be an object`;
  if (depth > 8) return `${path} is nested too deeply`;
  for (const [key, value] of Object.entries(cmi as Json)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) continue;
    const problem = cmiShapeProblem(value, depth + 1, `${path}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}
