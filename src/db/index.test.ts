import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { isConnectionError, mapDbError } from './index.js';

/** Errors shaped as pg, knex and Node produce them (their real constructors need a live server). */
const pgError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`pg error ${code}`), { code, ...extra });

describe('isConnectionError', () => {
  it.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['DNS failure', Object.assign(new Error('getaddrinfo ENOTFOUND db'), { code: 'ENOTFOUND' })],
    ['admin shutdown 57P01', pgError('57P01')],
    ['crash shutdown 57P02', pgError('57P02')],
    ['cannot connect now 57P03', pgError('57P03')],
    ['too many connections 53300', pgError('53300')],
    ['connection exception class 08', pgError('08006')],
    ['pg connect timeout', new Error('timeout expired')],
    ['pg terminated', new Error('Connection terminated unexpectedly')],
    ['pg terminated by timeout', new Error('Connection terminated due to connection timeout')],
    ['knex acquire timeout', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' })],
  ])('%s → true', (_name, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['unique violation', pgError('23505')],
    ['syntax error', pgError('42601')],
    ['undefined table', pgError('42P01')],
    ['a message merely mentioning a timeout', new Error('statement timeout expired while sorting')],
    ['a string', 'Connection terminated'],
    ['null', null],
  ])('%s → false', (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});

describe('mapDbError', () => {
  it('turns an unreachable database into 503 service_unavailable with Retry-After, keeping the cause', () => {
    const cause = new Error('timeout expired');
    const mapped = mapDbError(cause) as AppError;
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped.code).toBe('service_unavailable');
    expect(mapped.status).toBe(503);
    expect(mapped.headers).toEqual({ 'Retry-After': '5' });
    expect(mapped.cause).toBe(cause);
    expect(mapped.message).not.toContain('timeout expired');
  });

  it('maps constraint violations to 409 with a readable sentence for known constraints', () => {
    const known = mapDbError(pgError('23505', { constraint: 'users_tenant_id_email_unique' })) as AppError;
    expect([known.code, known.message]).toEqual(['conflict', 'A user with this email already exists in this tenant.']);
    const unknown = mapDbError(pgError('23505', { constraint: 'something_else_unique' })) as AppError;
    expect([unknown.code, unknown.message]).toEqual(['conflict', 'A record with the same unique value already exists.']);
    expect((mapDbError(pgError('23503')) as AppError).code).toBe('conflict');
  });

  it('maps bad values to 400 and serialization failures to 409', () => {
    for (const code of ['23514', '22P02', '22007', '22008', '22003']) expect((mapDbError(pgError(code)) as AppError).code, code).toBe('bad_request');
    for (const code of ['40001', '40P01']) expect((mapDbError(pgError(code)) as AppError).code, code).toBe('conflict');
  });

  it('leaves AppErrors and unknown failures alone (the latter become a 500 that hides them)', () => {
    const appError = new AppError('not_found');
    expect(mapDbError(appError)).toBe(appError);
    const bug = pgError('42P01');
    expect(mapDbError(bug)).toBe(bug);
  });
});
