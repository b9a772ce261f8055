import { describe, expect, it } from 'vitest';
import { assertionAudience, nextLink } from '../../src/lti/tool/ags/service-client.js';
import { retryDelaySeconds, scoresUrl } from '../../src/lti/tool/ags/delivery.js';
import { toAgsScore } from '../../src/lti/tool/ags/queue.js';
import type { ScoreRow } from '../../src/grades/repository.js';

describe('Link header (RFC 8288) next relation', () => {
  it('finds rel="next" among several relations, quoted or not, and resolves it against the request URL', () => {
    const base = 'https://lms.example/api/lti/courses/1/names_and_roles?limit=100';
    expect(nextLink('<https://lms.example/p2>; rel="next", <https://lms.example/p1>; rel="first"', base)).toBe('https://lms.example/p2');
    expect(nextLink('<https://lms.example/p1>; rel="first",<https://lms.example/p3>;rel=next', base)).toBe('https://lms.example/p3');
    expect(nextLink('</api/lti/courses/1/names_and_roles?page=2&limit=100>; rel="next"', base)).toBe('https://lms.example/api/lti/courses/1/names_and_roles?page=2&limit=100');
    expect(nextLink('<https://lms.example/x>; rel="prev next"', base)).toBe('https://lms.example/x');
  });

  it('has no next page without the relation, without a header, or with only differences', () => {
    const base = 'https://lms.example/m';
    expect(nextLink(null, base)).toBeUndefined();
    expect(nextLink('<https://lms.example/d>; rel="differences"', base)).toBeUndefined();
    expect(nextLink('<https://lms.example/a>; rel="first", <https://lms.example/z>; rel="last"', base)).toBeUndefined();
    expect(nextLink('garbage', base)).toBeUndefined();
  });
});

describe('AGS score URL and body', () => {
  it('appends /scores to the line item path and keeps its query string (AGS 2.0 §3.4)', () => {
    expect(scoresUrl('https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem?type_id=3')).toBe('https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=3');
    expect(scoresUrl('https://canvas.example/api/lti/courses/1/line_items/5/')).toBe('https://canvas.example/api/lti/courses/1/line_items/5/scores');
  });

  const score = (over: Partial<ScoreRow>): ScoreRow => ({
    id: 's', tenant_id: 't', line_item_id: 'l', user_id: 'u', score_given: '8.5000', score_maximum: '10.0000', activity_progress: 'Completed',
    grading_progress: 'FullyGraded', comment: null, source: 'scorm', scored_at: new Date('2026-11-21T10:00:00.123Z'), created_at: new Date(), updated_at: new Date(), ...over,
  });

  it('sends numbers, the platform user id, the recorded time, and scoreMaximum only with scoreGiven', () => {
    expect(toAgsScore(score({}), 'sub-1')).toEqual({
      userId: 'sub-1', scoreGiven: 8.5, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: '2026-11-21T10:00:00.123Z',
    });
    const progressOnly = toAgsScore(score({ score_given: null, activity_progress: 'InProgress', grading_progress: 'Pending', comment: 'SCORM: incomplete' }), 'sub-1');
    expect(progressOnly).toEqual({ userId: 'sub-1', activityProgress: 'InProgress', gradingProgress: 'Pending', timestamp: '2026-11-21T10:00:00.123Z', comment: 'SCORM: incomplete' });
  });
});

describe('retry delay', () => {
  it('doubles from the base with ±10% jitter and stops at an hour', () => {
    expect(retryDelaySeconds(30, 1, 0.5)).toBe(30);
    expect(retryDelaySeconds(30, 2, 0.5)).toBe(60);
    expect(retryDelaySeconds(30, 4, 0.5)).toBe(240);
    expect(retryDelaySeconds(30, 20, 0.5)).toBe(3600);
    expect(retryDelaySeconds(30, 1, 0)).toBe(27);
    expect(retryDelaySeconds(30, 1, 1)).toBe(33);
    expect(retryDelaySeconds(1, 1, 0)).toBe(1);
  });
});

describe('client assertion audience', () => {
  it('is the platform\'s declared authorization server, else its token URL', () => {
    const platform = { id: 'p', issuer: 'https://lms.example', token_url: 'https://lms.example/token', status: 'active' as const, platform_configuration: null };
    expect(assertionAudience(platform)).toBe('https://lms.example/token');
    expect(assertionAudience({ ...platform, platform_configuration: { authorization_server: 'https://auth.lms.example' } })).toBe('https://auth.lms.example');
    expect(assertionAudience({ ...platform, token_url: null })).toBeUndefined();
  });
});
