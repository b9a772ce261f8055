import type { Knex } from 'knex';
import type { Principal } from '../../../auth/principal.js';
import { isAppError } from '../../../errors/index.js';
import { launchItem } from '../../../scorm/launch/service.js';
import { runtimeTokens } from '../../../scorm/launch/routes.js';
import type { LaunchHandlerContext } from './handlers.js';

/**
 * The principal a launch acts as inside Cairn: the provisioned user, for this request only.
 * No console session is created (an LMS iframe would not get its cookie back anyway); what
 * the launch opens carries its own short-lived token.
 */
export function launchPrincipal(ctx: Pick<LaunchHandlerContext, 'provisioned' | 'registration'>): Principal {
  const { user } = ctx.provisioned;
  const tenantId = ctx.registration.platform.tenant_id;
  return {
    via: 'session', userId: user.id, tenantId, homeTenantId: tenantId, email: user.email, name: user.name, role: user.role,
    isSystemAdmin: false, scopes: new Set(), mfa: 'verified', mfaEnrollmentRequired: false,
  };
}

/**
 * Where a launched course item opens directly, or undefined for the course page. A SCORM item
 * opens in the player on the content origin, through the SCORM runtime's launch (the learner's
 * registration and attempt, credit or preview by course role). When it cannot open (no ready
 * package version, an observer) the course page says so instead of failing the launch.
 */
export async function openItem(ctx: LaunchHandlerContext): Promise<string | undefined> {
  const { item, course } = ctx.provisioned;
  if (!item || !course || item.kind !== 'scorm') return undefined;
  try {
    // A savepoint: a refused SCORM launch must not abort the LTI launch's transaction.
    const result = await (ctx.db as Knex.Transaction).transaction((sp) =>
      launchItem(sp, runtimeTokens(ctx.deps), ctx.deps.config.contentUrl, launchPrincipal(ctx), course.id, item.id, { newAttempt: false }, ctx.now));
    return result.launchUrl;
  } catch (error) {
    if (!isAppError(error)) throw error;
    ctx.deps.log.info({ itemId: item.id, code: error.code, detail: error.message }, 'LTI launch: SCORM item could not open; showing the course page');
    return undefined;
  }
}
