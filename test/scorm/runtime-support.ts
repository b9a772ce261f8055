import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { expect } from 'vitest';
import type { TestApp } from '../support/app.js';
import { createCourse, createUser, enroll, type Agent, type CreatedUser } from '../support/api.js';
import { fixturesDir } from '../../scripts/build-fixtures.js';
import { insertPackage } from '../../src/scorm/packages/repository.js';
import { processPackage, uploadKey } from '../../src/scorm/packages/service.js';

/**
 * Imports a fixture zip through the import half's own code path (package row → zip in the blob
 * store → processPackage), synchronously, so runtime tests need no job worker.
 */
export async function importFixture(t: TestApp, tenantId: string, file: string, lineageId?: string): Promise<string> {
  const id = randomUUID();
  await insertPackage(t.deps.db, {
    id, tenantId, lineageId, title: file, source: 'upload', phase: 'queued', uploadBlobKey: uploadKey(tenantId, id), originalFilename: file, createdBy: null, now: t.clock.now(),
  });
  await t.deps.blobs.put(uploadKey(tenantId, id), await fs.readFile(path.join(fixturesDir, file)));
  const outcome = await processPackage({ db: t.deps.db, blobs: t.deps.blobs, log: t.deps.log, clock: t.clock, config: t.deps.config }, id);
  expect(outcome.status, `import of ${file}`).toBe('ready');
  return id;
}

export interface ScormCourse {
  readonly courseId: string;
  readonly itemId: string;
  readonly packageId: string;
  readonly learner: CreatedUser;
  readonly learnerAgent: Agent;
  readonly instructor: CreatedUser;
  readonly instructorAgent: Agent;
}

/** A course with one published SCORM item for the fixture, an enrolled learner and an instructor. */
export async function scormCourse(t: TestApp, admin: Agent, tenantId: string, file: string): Promise<ScormCourse> {
  const packageId = await importFixture(t, tenantId, file);
  const course = await createCourse(admin);
  const item = await admin.post(`/api/v1/courses/${course.id}/items`).send({ kind: 'scorm', title: `Item ${file}`, ref_id: packageId });
  expect(item.status, JSON.stringify(item.body)).toBe(201);
  const learner = await createUser(admin, 'learner', { name: 'Jane Q Learner' });
  const instructor = await createUser(admin, 'instructor');
  await enroll(admin, course.id, learner.id, 'learner');
  await enroll(admin, course.id, instructor.id, 'instructor');
  return {
    courseId: course.id, itemId: item.body.id, packageId, learner, learnerAgent: await t.login(learner.email, learner.password),
    instructor, instructorAgent: await t.login(instructor.email, instructor.password),
  };
}

/** `{ runtime, content, token }` of a player page served by the content app. */
export async function openPlayer(t: TestApp, launchUrl: string): Promise<{ runtime: string; content: string; html: string }> {
  const url = new URL(launchUrl);
  const res = await request(t.content.app).get(url.pathname);
  expect(res.status, res.text).toBe(200);
  const config = JSON.parse(/<script type="application\/json" id="cairn-player-config">([^<]*)<\/script>/.exec(res.text)![1]!) as { runtime: string; content: string };
  return { ...config, html: res.text };
}
