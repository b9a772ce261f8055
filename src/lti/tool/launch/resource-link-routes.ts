import { Type } from 'typebox';
import { defineEndpoint, type AnyEndpoint } from '../../../http/endpoint.js';
import { DateTime, iso, NullableDateTime, NullableString, Uuid } from '../../../http/schemas.js';
import { paginationQuery, pageSchema } from '../../../db/pagination.js';
import { AppError, notFound } from '../../../errors/index.js';
import * as repo from './repository.js';
import type { ResourceLinkRow } from './repository.js';

const tags = ['LTI'];

const ResourceLink = Type.Object({
  id: Uuid('Cairn\'s id of the link'),
  resource_link_id: Type.String({ description: 'The platform\'s resource link id' }),
  course_id: Type.Union([Uuid(), Type.Null()], { description: 'The Cairn course of the context it was launched from' }),
  course_item_id: Type.Union([Uuid(), Type.Null()], { description: 'The course item the link opens; null until a deep-linking choice, a custom parameter or an administrator connects it' }),
  title: NullableString,
  description: NullableString,
  last_launch_at: NullableDateTime(),
  created_at: DateTime(),
});

function linkView(row: ResourceLinkRow) {
  return {
    id: row.id, resource_link_id: row.resource_link_id, course_id: row.course_id, course_item_id: row.course_item_id, title: row.title,
    description: row.description, last_launch_at: iso(row.last_launch_at), created_at: row.created_at.toISOString(),
  };
}

/**
 * Resource links placed in the LMS. One the platform created without Cairn's deep-linking picker
 * (a link added by hand in Moodle, a Canvas course-navigation placement) carries no Cairn custom
 * parameter, so it opens the course page until an administrator connects it to an item here;
 * from then on it opens that item and passes its grades back.
 */
export const resourceLinkEndpoints: AnyEndpoint[] = [
  defineEndpoint({
    method: 'get', path: '/lti/resource-links', operationId: 'listLtiResourceLinks', tags,
    summary: 'Resource links launched from platforms, and the course item each opens',
    auth: { scope: 'lti:read', roles: ['admin'] },
    query: Type.Object({
      ...paginationQuery,
      course_id: Type.Optional(Uuid()),
      linked: Type.Optional(Type.Boolean({ description: '`false`: only links not connected to an item yet' })),
    }, { additionalProperties: false }),
    responses: { 200: { description: 'Oldest first', schema: pageSchema(ResourceLink) } },
    async handler({ deps, principal, query }) {
      const page = await repo.listResourceLinks(deps.db, { tenantId: principal.tenantId, courseId: query.course_id, linked: query.linked, limit: query.limit ?? 50, cursor: query.cursor });
      return { data: page.rows.map(linkView), next_cursor: page.nextCursor };
    },
  }),
  defineEndpoint({
    method: 'patch', path: '/lti/resource-links/:linkId', operationId: 'updateLtiResourceLink', tags,
    summary: 'Connect a resource link to a course item (or disconnect it with null)',
    description: 'The item must belong to the course the link was launched from. The next launch of the link opens the item, and the item\'s results are passed back to the link\'s line item.',
    auth: { scope: 'lti:write', roles: ['admin'] },
    params: Type.Object({ linkId: Uuid() }),
    body: Type.Object({ course_item_id: Type.Union([Uuid(), Type.Null()]) }, { additionalProperties: false }),
    responses: { 200: { description: 'The link', schema: ResourceLink } },
    async handler({ db, deps, principal, params, body, audit }) {
      const link = await repo.findResourceLink(db, principal.tenantId, params.linkId, { forUpdate: true });
      if (!link) throw notFound('Resource link');
      if (body.course_item_id !== null) {
        const item = await repo.findItemInTenant(db, principal.tenantId, body.course_item_id);
        if (!item || item.course_id !== link.course_id) {
          throw new AppError('validation_failed', 'course_item_id must be an item of the course this link was launched from.', { errors: [{ pointer: '/body/course_item_id', message: 'is not an item of the link\'s course' }] });
        }
      }
      const updated = await repo.setResourceLinkItem(db, link.id, body.course_item_id, deps.clock.now());
      audit({ action: 'lti_resource_link.update', targetType: 'lti_resource_link', targetId: link.id, details: { from: link.course_item_id, to: body.course_item_id } });
      return linkView(updated!);
    },
  }),
];
