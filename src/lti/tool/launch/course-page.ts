import type { AppDeps } from '../../../deps.js';
import { findCourse, listCourseItems } from '../../../courses/repository.js';
import { findUser } from '../../../users/repository.js';
import { errorPage, escapeHtml, renderPage, type Page } from '../../core/html.js';
import { isCourseStaff, type CourseRole } from '../../core/roles.js';
import { verifyContextToken } from './context-token.js';

const kindLabels: Record<string, string> = { scorm: 'SCORM activity', lti_tool: 'External tool', xapi_activity: 'xAPI activity' };

/**
 * The course page a launch lands on when its item does not open directly: the course's
 * items with the launched one highlighted. Served on the main origin from the launch's
 * context token, so it works inside an LMS iframe without cookies.
 */
export async function renderCoursePage(deps: AppDeps, token: string): Promise<Page> {
  const context = await verifyContextToken(deps.secrets, token, deps.clock.now());
  if (!context) return errorPage('context_expired');
  const user = await findUser(deps.db, context.tenantId, context.userId);
  if (!user || user.status !== 'active') return errorPage('account_suspended');
  const staff = isCourseStaff(context.courseRole as CourseRole);
  const greeting = `<p class="muted">Signed in as ${escapeHtml(user.name || user.email)}${staff ? ' · course staff' : ''}</p>`;

  if (!context.courseId) {
    return renderPage({ title: 'Cairn', body: `<h1>Cairn</h1>${greeting}<div class="box"><p>The platform launched Cairn without a course, so there is nothing to show here.</p></div>` });
  }
  const course = await findCourse(deps.db, context.tenantId, context.courseId);
  if (!course) return errorPage('context_expired');
  const page = await listCourseItems(deps.db, { courseId: course.id, publishedOnly: !staff, limit: 200 });
  const items = page.rows.map((item) => {
    const current = item.id === context.itemId;
    return `<li${current ? ' class="current" aria-current="true"' : ''}>${escapeHtml(item.title)} <span class="muted">· ${escapeHtml(kindLabels[item.kind] ?? item.kind)}${item.published ? '' : ' · unpublished'}</span></li>`;
  }).join('');
  const launched = page.rows.find((i) => i.id === context.itemId);
  const notice = launched
    ? `<div class="box"><p>You opened <strong>${escapeHtml(launched.title)}</strong>.</p></div>`
    : `<div class="box"><p>${staff ? 'This link is not connected to a Cairn activity yet. Add the activity with the platform\'s content selection (deep linking), or ask a Cairn administrator to connect this link to one of the activities below (LTI resource links).' : 'This link does not open a particular activity. Choose one from the course below.'}</p></div>`;
  const list = items ? `<h2>Course activities</h2><ul class="items">${items}</ul>` : '<p class="muted">This course has no activities yet.</p>';
  return renderPage({ title: course.title, body: `<h1>${escapeHtml(course.title)}</h1>${greeting}${notice}${list}` });
}
