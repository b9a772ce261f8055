import type { AppDeps } from '../../../deps.js';
import type { Queryable } from '../../../db/index.js';
import type { LtiMessage, MessageType } from '../../core/claims.js';
import type { Page } from '../../core/html.js';
import type { DeploymentRow, Registration } from '../registrations/repository.js';
import type { Provisioned } from './provisioning.js';
import { signContextToken } from './context-token.js';
import { openItem } from './open-item.js';
import { deepLinkingHandler } from '../deep-linking/service.js';
import { withRosterSync } from '../nrps/on-launch.js';

export interface LaunchHandlerContext {
  readonly deps: AppDeps;
  /** The launch's transaction: provisioning and the launch-log entry commit together. */
  readonly db: Queryable;
  readonly message: LtiMessage;
  readonly registration: Registration;
  readonly deployment: DeploymentRow;
  readonly provisioned: Provisioned;
  readonly launchId: string;
  readonly now: Date;
}

export type LaunchDestination = { readonly redirect: string } | { readonly page: Page };

/**
 * What Cairn does with one LTI message type once the launch is valid and provisioned. The
 * resource-link handler is here; the deep-linking picker (src/lti/tool/deep-linking) adds its
 * handler to `launchHandlers`, and the launch endpoint then accepts that message type too.
 */
export interface LaunchHandler {
  readonly messageType: MessageType;
  handle(ctx: LaunchHandlerContext): Promise<LaunchDestination>;
}

/** LtiResourceLinkRequest: open the linked course item — the SCORM player, or the course page. */
export const resourceLinkHandler: LaunchHandler = {
  messageType: 'LtiResourceLinkRequest',
  async handle(ctx) {
    const { provisioned } = ctx;
    const opened = await openItem(ctx);
    if (opened) return { redirect: opened };
    const token = await signContextToken(ctx.deps.secrets, {
      launchId: ctx.launchId, tenantId: ctx.registration.platform.tenant_id, userId: provisioned.user.id,
      courseId: provisioned.course?.id ?? null, itemId: provisioned.item?.id ?? null, courseRole: provisioned.courseRole,
    }, ctx.now);
    return { redirect: `${ctx.deps.config.publicUrl}/lti/course/${token}` };
  },
};

/** Every message type queues a roster (NRPS) sync when the context's roster is stale (src/lti/tool/nrps). */
export const launchHandlers: readonly LaunchHandler[] = [resourceLinkHandler, deepLinkingHandler].map(withRosterSync);
