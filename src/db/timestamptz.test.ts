import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from './index.js';

const reference = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date;

describe('timestamptz parsing', () => {
  it.each([
    '2026-11-21 23:41:08+00',
    '2026-11-21 23:41:08.1+00',
    '2026-11-21 23:41:08.123+00',
    '2026-11-21 23:41:08.123456+00',
    '2026-11-21 23:41:08.999+05:30',
    '1999-12-31 23:59:59.5-08',
    '2026-03-01 00:00:00-03:30',
  ])('matches pg\'s own parser for %s', (text) => {
    expect(parseTimestamptz(text).getTime()).toBe(reference(text).getTime());
  });

  it('falls back for values it does not recognise', () => {
    expect(parseTimestamptz('infinity')).toEqual(reference('infinity'));
    expect(parseTimestamptz('0044-03-15 12:00:00+00 BC').getTime()).toBe(reference('0044-03-15 12:00:00+00 BC').getTime());
  });
});
