import { createHash, randomBytes } from 'node:crypto';
import type { AppDeps } from '../../../deps.js';
import { withTransaction, type Queryable } from '../../../db/index.js';
import { findCourse, insertCourseItem, nextItemPosition } from '../../../courses/repository.js';
import { claimNames, ltiVersion, type DeepLinkingSettingsClaim } from '../../core/claims.js';
import { autoPostForm, escapeHtml, renderPage, type Page } from '../../core/html.js';
import { isCourseStaff } from '../../core/roles.js';
import { signJwt } from '../../core/signing.js';
import { findRegistrationByClientRowId } from '../registrations/repository.js';
import type { LaunchHandler } from '../launch/handlers.js';
import { customItemParameter, customPackageParameter } from '../launch/provisioning.js';
import { launchPath } from '../launch/login.js';
import * as repo from './repository.js';

/** An instructor has this long to choose before the picker link expires. */
export const pickerTtlMs = 60 * 60_000;
export const deepLinkingPath = '/lti/deep-linking';
const listLimit = 200;

const dl = 'https://purl.imsglobal.org/spec/lti-dl/claim/';
export const deepLinkingClaims = {
  contentItems: `${dl}content_items`,
  data: `${dl}data`,
  msg: `${dl}msg`,
  log: `${dl}log`,
  errormsg: `${dl}errormsg`,
  errorlog: `${dl}errorlog`,
} as const;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** What Cairn returns to the platform: the content items and the messages of Deep Linking 2.0 §4.2. */
interface ResponseContent {
  readonly items: readonly Record<string, unknown>[];
  readonly msg?: string;
  readonly log?: string;
  readonly errormsg?: string;
  readonly errorlog?: string;
}

/**
 * The signed LtiDeepLinkingResponse (Deep Linking 2.0 §4.2): issued by Cairn's client id for
 * the platform (aud = its issuer), with a fresh nonce, the deployment id, and the request's
 * `data` echoed unchanged; signed with Cairn's current key (kid in the header).
 */
export async function signDeepLinkingResponse(deps: Pick<AppDeps, 'lti' | 'clock'>, input: { clientId: string; issuer: string; deploymentId: string; settings: DeepLinkingSettingsClaim; content: ResponseContent }): Promise<string> {
  const { content, settings } = input;
  const claims: Record<string, unknown> = {
    nonce: randomBytes(18).toString('base64url'),
    [claimNames.deploymentId]: input.deploymentId,
    [claimNames.messageType]: 'LtiDeepLinkingResponse',
    [claimNames.version]: ltiVersion,
    [deepLinkingClaims.contentItems]: content.items,
    ...(settings.data !== undefined ? { [deepLinkingClaims.data]: settings.data } : {}),
    ...(content.msg ? { [deepLinkingClaims.msg]: content.msg } : {}),
    ...(content.log ? { [deepLinkingClaims.log]: content.log } : {}),
    ...(content.errormsg ? { [deepLinkingClaims.errormsg]: content.errormsg } : {}),
    ...(content.errorlog ? { [deepLinkingClaims.errorlog]: content.errorlog } : {}),
  };
  return signJwt(deps.lti.keys, claims, { issuer: input.clientId, audience: input.issuer, expiresIn: 600, now: Math.floor(deps.clock.now().getTime() / 1000) });
}

/** The page that posts the response JWT to the platform's deep_link_return_url (autopost.js submits it). */
async function responsePage(deps: Pick<AppDeps, 'lti' | 'clock'>, input: { clientId: string; issuer: string; deploymentId: string; platformName: string; settings: DeepLinkingSettingsClaim; content: ResponseContent }): Promise<Page> {
  const jwt = await signDeepLinkingResponse(deps, input);
  const returnUrl = new URL(input.settings.deep_link_return_url);
  return autoPostForm({
    title: `Returning to ${input.platformName}`,
    action: returnUrl.toString(),
    fields: { JWT: jwt },
    formTargets: [returnUrl.origin],
    message: `Returning to ${input.platformName}…`,
  });
}

const acceptsResourceLinks = (settings: DeepLinkingSettingsClaim) => settings.accept_types.includes('ltiResourceLink');

/**
 * LtiDeepLinkingRequest: course staff get the picker (a one-hour link with its own token, since
 * the LMS iframe carries no Cairn cookie); anyone else is sent straight back to the platform
 * with an error message rather than left on a dead end.
 */
export const deepLinkingHandler: LaunchHandler = {
  messageType: 'LtiDeepLinkingRequest',
  async handle(ctx) {
    const settings = ctx.message.deepLinkingSettings!;
    if (!isCourseStaff(ctx.provisioned.courseRole)) {
      return {
        page: await responsePage(ctx.deps, {
          clientId: ctx.registration.client.client_id, issuer: ctx.registration.platform.issuer, deploymentId: ctx.deployment.deployment_id,
          platformName: ctx.registration.platform.name, settings,
          content: { items: [], errormsg: 'Only instructors can add Cairn content to a course.', errorlog: `Deep linking refused: course role ${ctx.provisioned.courseRole}.` },
        }),
      };
    }
    const token = randomBytes(32).toString('base64url');
    await repo.insertRequest(ctx.db, {
      id: sha256(token), tenant_id: ctx.registration.platform.tenant_id, platform_client_ref: ctx.registration.client.id, deployment_ref: ctx.deployment.id,
      course_id: ctx.provisioned.course?.id ?? null, user_id: ctx.provisioned.user.id, course_role: ctx.provisioned.courseRole, launch_id: ctx.launchId,
      settings: { ...settings }, created_at: ctx.now, expires_at: new Date(ctx.now.getTime() + pickerTtlMs),
    });
    return { redirect: `${ctx.deps.config.publicUrl}${deepLinkingPath}/${token}` };
  },
};

function expiredPage(): Page {
  return renderPage({
    title: 'Content selection expired', status: 410,
    body: '<h1>This content selection has ended</h1><div class="box error"><p>The link was already used, is more than an hour old, or is damaged. Start the content selection again from your course.</p></div>',
  });
}

async function loadRequest(deps: AppDeps, token: string): Promise<repo.DeepLinkRequestRow | undefined> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
  const request = await repo.findRequest(deps.db, sha256(token));
  if (!request || request.used_at || request.expires_at <= deps.clock.now()) return undefined;
  return request;
}

const versionLabel: Record<string, string> = { '1.2': 'SCORM 1.2', '2004-2': 'SCORM 2004 2nd ed.', '2004-3': 'SCORM 2004 3rd ed.', '2004-4': 'SCORM 2004 4th ed.' };
const kindLabel: Record<string, string> = { scorm: 'SCORM activity', lti_tool: 'External tool', xapi_activity: 'xAPI activity' };

/** The picker: ready packages (newest version of each) and the course's items, as a plain form (no script). */
export async function renderPicker(deps: AppDeps, token: string, q: string | undefined, problem?: string): Promise<Page> {
  const request = await loadRequest(deps, token);
  if (!request) return expiredPage();
  const registration = await findRegistrationByClientRowId(deps.db, request.platform_client_ref);
  if (!registration) return expiredPage();
  const settings = request.settings;
  const action = `${deepLinkingPath}/${escapeHtml(token)}`;
  const heading = `<h1>${escapeHtml(settings.title ?? 'Add Cairn content')}</h1>`
    + (settings.text ? `<p class="muted">${escapeHtml(settings.text)}</p>` : '');

  if (!acceptsResourceLinks(settings)) {
    return renderPage({
      title: 'Cairn content cannot be added here',
      body: `${heading}<div class="box error"><p>${escapeHtml(registration.platform.name)} asked for ${escapeHtml(settings.accept_types.join(', ') || 'nothing')} here, but Cairn activities are LTI resource links. Add Cairn from a placement that accepts activities (an assignment or a course module).</p></div>`
        + `<form method="post" action="${action}"><button type="submit" name="action" value="cancel">Return to ${escapeHtml(registration.platform.name)}</button></form>`,
    });
  }

  const course = request.course_id ? await findCourse(deps.db, request.tenant_id, request.course_id) : undefined;
  const packages = await repo.listPickablePackages(deps.db, request.tenant_id, q, listLimit);
  const items = course ? await repo.listPickableItems(deps.db, course.id, q, listLimit) : [];
  // Deep Linking 2.0 gives accept_multiple no default: several items go only to a platform that
  // said it takes them (one that did not may keep the first, or refuse the whole response).
  const multiple = settings.accept_multiple === true;
  const inputType = multiple ? 'checkbox' : 'radio';
  const option = (value: string, title: string, detail: string) =>
    `<li><label><input type="${inputType}" name="choice" value="${escapeHtml(value)}"> ${escapeHtml(title)} <span class="muted">· ${escapeHtml(detail)}</span></label></li>`;

  const packageList = packages.length > 0
    ? `<ul class="items">${packages.map((p) => option(`package:${p.lineage_id}`, p.title, `${versionLabel[p.scorm_version ?? ''] ?? 'SCORM'} · version ${p.version}`)).join('')}</ul>`
    : `<p class="muted">${q ? 'No package matches.' : 'No SCORM package is ready yet. Upload one in the Cairn console.'}</p>`;
  const itemList = course
    ? (items.length > 0
      ? `<h2>Activities already in ${escapeHtml(course.title)}</h2><ul class="items">${items.map((i) => option(`item:${i.id}`, i.title, `${kindLabel[i.kind] ?? i.kind}${i.published ? '' : ' · unpublished'}`)).join('')}</ul>`
      : '')
    : '';
  const graded = settings.accept_lineitem === false
    ? ''
    : '<p><label><input type="checkbox" name="graded" value="1" checked> Create a gradebook column for scored activities (grades are sent back automatically)</label></p>';

  const body = heading
    + (problem ? `<div class="box error" role="alert"><p>${escapeHtml(problem)}</p></div>` : '')
    + `<form method="get" action="${action}"><p><input type="search" name="q" value="${escapeHtml(q ?? '')}" aria-label="Search by title" maxlength="200"> <button type="submit">Search</button></p></form>`
    + `<form method="post" action="${action}">`
    + `<h2>SCORM packages</h2>${packageList}${itemList}`
    + `<p class="muted">${multiple ? 'Choose one or more.' : 'Choose one.'}</p>${graded}`
    + `<p><button type="submit" name="action" value="select">Add to ${escapeHtml(registration.platform.name)}</button> `
    + `<button type="submit" name="action" value="cancel">Cancel</button></p></form>`;
  return renderPage({ title: settings.title ?? 'Add Cairn content', body, status: problem ? 400 : 200 });
}

function presentation(settings: DeepLinkingSettingsClaim): Record<string, unknown> {
  const targets = settings.accept_presentation_document_targets;
  // SCORM content is at home in the LMS frame; a new window when the placement only allows that.
  if (targets.includes('iframe')) return { iframe: { width: 1024, height: 768 } };
  if (targets.includes('window')) return { window: { targetName: 'cairn' } };
  return {};
}

const isoOrUndefined = (v: unknown): string | undefined => {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new Date(v).toISOString();
  return undefined;
};

function timeWindow(start: unknown, end: unknown): Record<string, string> | undefined {
  const s = isoOrUndefined(start);
  const e = isoOrUndefined(end);
  if (!s && !e) return undefined;
  return { ...(s ? { startDateTime: s } : {}), ...(e ? { endDateTime: e } : {}) };
}

/** One ltiResourceLink content item (Deep Linking 2.0 §3.1): Cairn's launch URL, the custom parameter naming what it opens, a lineItem when gradable. */
function resourceLink(deps: AppDeps, settings: DeepLinkingSettingsClaim, input: {
  title: string; text?: string; custom: Record<string, string>; graded: boolean;
  lineItem?: { scoreMaximum: number; label: string; resourceId: string; tag: string };
  available?: Record<string, string> | undefined; submission?: Record<string, string> | undefined;
}): Record<string, unknown> {
  const gradable = input.graded && input.lineItem && settings.accept_lineitem !== false;
  return {
    type: 'ltiResourceLink',
    title: input.title,
    ...(input.text ? { text: input.text } : {}),
    url: `${deps.config.publicUrl}${launchPath}`,
    custom: input.custom,
    ...presentation(settings),
    ...(gradable ? { lineItem: input.lineItem } : {}),
    ...(input.available ? { available: input.available } : {}),
    ...(gradable && input.submission ? { submission: input.submission } : {}),
  };
}

/** A selection that cannot be honoured: the transaction rolls back and the picker says why (no message: the request was spent meanwhile). */
class PickerProblem extends Error {
  constructor(message: string | undefined) {
    super(message ?? '');
  }
}

export type SubmitOutcome = { readonly page: Page };

/**
 * The picker's form: cancel (an empty content_items response with a message), or the chosen
 * packages and items as resource links — creating course items for packages when the platform
 * will keep what Cairn returns (`auto_create`), else naming the package so the first launch
 * creates the item. The request is spent in the same transaction.
 */
export async function submitSelection(deps: AppDeps, token: string, form: Readonly<Record<string, unknown>>): Promise<SubmitOutcome> {
  const request = await loadRequest(deps, token);
  if (!request) return { page: expiredPage() };
  const registration = await findRegistrationByClientRowId(deps.db, request.platform_client_ref);
  const deploymentId = await repo.findDeploymentId(deps.db, request.deployment_ref);
  if (!registration || !deploymentId) return { page: expiredPage() };
  const settings = request.settings;
  const base = { clientId: registration.client.client_id, issuer: registration.platform.issuer, deploymentId, platformName: registration.platform.name, settings };
  const spend = async (db: Queryable) => repo.markRequestUsed(db, request.id, deps.clock.now());

  const action = form['action'] === 'select' ? 'select' : 'cancel';
  if (action === 'cancel' || !acceptsResourceLinks(settings)) {
    if (!(await spend(deps.db))) return { page: expiredPage() };
    const content: ResponseContent = acceptsResourceLinks(settings)
      ? { items: [], msg: 'No Cairn content was added.', log: 'The instructor cancelled the content selection.' }
      : { items: [], errormsg: 'Cairn can only add activities (LTI resource links), which this placement does not accept.', errorlog: `accept_types was ${settings.accept_types.join(', ')}` };
    return { page: await responsePage(deps, { ...base, content }) };
  }

  const raw = form['choice'];
  const choices = [...new Set((Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((c): c is string => typeof c === 'string'))].slice(0, 100);
  if (choices.length === 0) return { page: await renderPicker(deps, token, undefined, 'Choose at least one activity, or cancel.') };
  if (choices.length > 1 && settings.accept_multiple !== true) return { page: await renderPicker(deps, token, undefined, `${registration.platform.name} accepts one activity here; choose one.`) };
  const graded = form['graded'] === '1';
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const now = deps.clock.now();

  let outcome: { items: Record<string, unknown>[] };
  try {
    outcome = await withTransaction(deps.db, async (tx) => {
    const items: Record<string, unknown>[] = [];
    for (const choice of choices) {
      const [kind, id] = choice.split(':') as [string, string | undefined];
      if (!id || !uuid.test(id)) throw new PickerProblem('One of the choices is not valid; choose again.');
      if (kind === 'package') {
        const pkg = await repo.findPickablePackage(tx, request.tenant_id, id);
        if (!pkg) throw new PickerProblem('A chosen package is no longer available; choose again.');
        const lineItem = { scoreMaximum: 100, label: pkg.title, resourceId: pkg.lineage_id, tag: 'scorm' };
        if (request.course_id && settings.auto_create === true) {
          const created = await insertCourseItem(tx, {
            tenant_id: request.tenant_id, course_id: request.course_id, kind: 'scorm', title: pkg.title, position: await nextItemPosition(tx, request.course_id),
            ref_id: pkg.lineage_id, activity_id: null, settings: {}, published: true,
          }, now);
          items.push(resourceLink(deps, settings, { title: pkg.title, custom: { [customItemParameter]: created.id }, graded, lineItem: { ...lineItem, resourceId: created.id } }));
        } else {
          items.push(resourceLink(deps, settings, { title: pkg.title, custom: { [customPackageParameter]: pkg.lineage_id }, graded, lineItem }));
        }
      } else if (kind === 'item' && request.course_id) {
        const item = await repo.findPickableItem(tx, request.course_id, id);
        if (!item) throw new PickerProblem('A chosen activity is no longer in the course; choose again.');
        const gradable = item.kind === 'scorm' || item.line_item_score_maximum !== null;
        items.push(resourceLink(deps, settings, {
          title: item.title, custom: { [customItemParameter]: item.id }, graded,
          ...(gradable ? { lineItem: { scoreMaximum: Number(item.line_item_score_maximum ?? 100), label: item.line_item_label ?? item.title, resourceId: item.id, tag: item.line_item_tag ?? (item.kind === 'scorm' ? 'scorm' : 'cairn') } } : {}),
          available: timeWindow(item.settings['available_from'], item.settings['available_until']),
          submission: timeWindow(item.line_item_start_at, item.line_item_end_at),
        }));
      } else {
        throw new PickerProblem('One of the choices is not valid; choose again.');
      }
    }
    // Spent last, in the same transaction: a second submission (a double click) creates nothing.
    if (!(await spend(tx))) throw new PickerProblem(undefined);
    return { items };
    });
  } catch (error) {
    if (!(error instanceof PickerProblem)) throw error;
    return { page: error.message ? await renderPicker(deps, token, undefined, error.message) : expiredPage() };
  }
  deps.log.info({ request: request.id, items: outcome.items.length }, 'LTI deep linking response sent');
  return { page: await responsePage(deps, { ...base, content: { items: outcome.items, msg: `Added ${outcome.items.length} Cairn ${outcome.items.length === 1 ? 'activity' : 'activities'}.` } }) };
}
