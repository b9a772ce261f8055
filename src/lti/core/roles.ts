/**
 * LIS v2 role vocabularies (LTI Core 1.3 Appendix A). Platforms send full URIs, but context
 * roles may come as simple names (`Instructor`), NRPS often answers with short names, and
 * older platforms still send LTI 1.1 URNs. Everything is expanded to the full URI first so
 * the rest of Cairn compares one form.
 */
const lis = 'http://purl.imsglobal.org/vocab/lis/v2/';
export const membershipRole = (name: string) => `${lis}membership#${name}`;
export const institutionRole = (name: string) => `${lis}institution/person#${name}`;
export const systemRole = (name: string) => `${lis}system/person#${name}`;
export const teachingAssistantRole = `${lis}membership/Instructor#TeachingAssistant`;
export const testUserRole = 'http://purl.imsglobal.org/vocab/lti/system/person#TestUser';

const contextRoleNames = new Set(['Administrator', 'ContentDeveloper', 'Instructor', 'Learner', 'Mentor', 'Manager', 'Member', 'Officer']);

/** One role as sent → its full URI; unknown values are kept as they are. */
export function expandRole(role: string): string {
  const value = role.trim();
  if (/^https?:\/\//.test(value)) return value;
  const urn = /^urn:lti:(role|instrole|sysrole):ims\/lis\/(.+)$/.exec(value);
  if (urn) {
    const [, kind, rest] = urn as unknown as [string, string, string];
    if (kind === 'instrole') return institutionRole(rest);
    if (kind === 'sysrole') return systemRole(rest);
    return expandContextName(rest);
  }
  return expandContextName(value);
}

function expandContextName(name: string): string {
  // LTI 1.1 wrote sub-roles with a slash (Instructor/TeachingAssistant); LIS v2 with a hash.
  const [principal, sub] = name.split(/[/#]/) as [string, string | undefined];
  if (name === 'TeachingAssistant') return teachingAssistantRole;
  if (!contextRoleNames.has(principal)) return name;
  return sub ? `${lis}membership/${principal}#${sub}` : membershipRole(principal);
}

export function expandRoles(roles: readonly string[]): string[] {
  return [...new Set(roles.map(expandRole))];
}

export type CourseRole = 'instructor' | 'teaching_assistant' | 'learner' | 'observer';

/**
 * The course role a launch gives its user. Context roles decide; a TeachingAssistant sub-role
 * wins over its principal Instructor role (Canvas sends both). Without any context role the
 * institution role is a fallback. Administrators of the platform become instructors of the
 * course, never administrators of Cairn.
 */
export function courseRoleFor(expandedRoles: readonly string[]): CourseRole {
  const has = (uri: string) => expandedRoles.includes(uri);
  const hasPrefix = (prefix: string) => expandedRoles.some((r) => r.startsWith(prefix));
  if (has(teachingAssistantRole)) return 'teaching_assistant';
  if (has(membershipRole('Instructor')) || has(membershipRole('Administrator')) || has(membershipRole('ContentDeveloper')) || has(membershipRole('Manager'))) return 'instructor';
  if (has(membershipRole('Learner')) || has(membershipRole('Member')) || hasPrefix(`${lis}membership/Learner#`)) return 'learner';
  if (has(membershipRole('Mentor')) || hasPrefix(`${lis}membership/Mentor#`)) return 'observer';
  if (hasPrefix(`${lis}membership/Instructor#`) || hasPrefix(`${lis}membership/Administrator#`)) return 'instructor';
  if (has(institutionRole('Faculty')) || has(institutionRole('Instructor')) || has(institutionRole('Administrator')) || has(systemRole('Administrator'))) return 'instructor';
  if (has(institutionRole('Mentor')) || has(institutionRole('Observer'))) return 'observer';
  return 'learner';
}

/** True when the launch comes from someone who may change course content (deep linking, item mapping). */
export function isCourseStaff(role: CourseRole): boolean {
  return role === 'instructor' || role === 'teaching_assistant';
}
