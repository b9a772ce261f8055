import type { LaunchHandler, LaunchHandlerContext } from '../launch/handlers.js';
import { notifyServices } from '../ags/repository.js';
import * as repo from './repository.js';

/** A launch does not queue another sync of its context within this long of the last request, whatever its outcome. */
const requestSpacingMs = 15 * 60_000;

/**
 * On a launch into a context whose roster Cairn last synced longer ago than
 * CAIRN_LTI_ROSTER_MAX_AGE_MINUTES, queue a sync — in the launch's transaction, so the job
 * starts only once the context exists, and never inline: the learner does not wait for the
 * platform's membership service.
 */
export async function requestRosterSyncIfStale(ctx: LaunchHandlerContext): Promise<boolean> {
  const { context, course } = ctx.provisioned;
  if (!context || !course || !context.nrps || !ctx.registration.platform.token_url) return false;
  const maxAgeMs = ctx.deps.config.lti.rosterMaxAgeMinutes * 60_000;
  const now = ctx.now.getTime();
  if (context.nrps_synced_at && now - context.nrps_synced_at.getTime() < maxAgeMs) return false;
  if (await repo.syncRequestedSince(ctx.db, context.id, new Date(now - Math.min(maxAgeMs, requestSpacingMs)))) return false;
  const { sync, created } = await repo.queueSync(ctx.db, {
    tenant_id: context.tenant_id, course_context_id: context.id, course_id: course.id, trigger: 'launch', requested_by: null,
  }, ctx.now);
  if (created) await notifyServices(ctx.db, `roster:${sync.id}`);
  return created;
}

/** A launch handler that first queues a roster sync when the context's roster is stale. */
export function withRosterSync(handler: LaunchHandler): LaunchHandler {
  return {
    messageType: handler.messageType,
    async handle(ctx) {
      await requestRosterSyncIfStale(ctx);
      return handler.handle(ctx);
    },
  };
}
