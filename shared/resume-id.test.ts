import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { onChangeInput } from './orders.ts';
import { resumeIdSchema } from './orders.ts';
import { formatResumeId, parseResumeId, positionOf } from './resume-id.ts';

const DIGEST = '0123456789abcdef';

describe('resume ids', () => {
  test('a plain position, and a position with the digest of its event, parse to what was formatted', () => {
    for (const [position, digest] of [
      ['0', null],
      ['1', null],
      ['1207', DIGEST],
      ['9223372036854775807', DIGEST],
    ] as const) {
      const id = formatResumeId(position, digest);
      expect(resumeIdSchema.parse(id)).toBe(id);
      expect(parseResumeId(id)).toEqual({ position, digest });
      expect(positionOf(id)).toBe(position);
    }
    expect(formatResumeId('1207', DIGEST)).toBe(`1207.${DIGEST}`);
    expect(formatResumeId('1207', null)).toBe('1207');
  });

  test.each([
    ['', 'empty'],
    ['01', 'a leading zero'],
    ['-1', 'negative'],
    ['1.', 'a dot without a digest'],
    ['1.0123456789abcde', 'a digest one digit short'],
    ['1.0123456789abcdef0', 'a digest one digit long'],
    ['1.0123456789ABCDEF', 'upper-case hex'],
    ['1.012345678_abcdef', 'not hex'],
    [`.${DIGEST}`, 'no position'],
    ['9223372036854775808', 'past bigint'],
    [`9223372036854775808.${DIGEST}`, 'past bigint, with a digest'],
    ['1 ', 'trailing space'],
  ])('refuses %j (%s)', (id) => {
    expect(resumeIdSchema.safeParse(id).success).toBe(false);
  });

  test('orders.onChange takes either form as lastEventId, and names the field when it is bad', () => {
    expect(onChangeInput.parse({ lastEventId: `5.${DIGEST}` })).toEqual({ lastEventId: `5.${DIGEST}` });
    expect(onChangeInput.parse({ lastEventId: '5' })).toEqual({ lastEventId: '5' });
    expect(onChangeInput.parse({ lastEventId: null })).toEqual({ lastEventId: null });
    const bad = onChangeInput.safeParse({ lastEventId: '5.xyz' });
    expect(bad.success).toBe(false);
    expect(Object.keys(z.flattenError(bad.error!).fieldErrors)).toEqual(['lastEventId']);
  });
});
