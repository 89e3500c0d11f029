import { describe, expect, it } from 'vitest';
import type { Origin, UrlEndpoint } from './api';
import { describeReason, displayPath, endpointLabel, formatAgo, originNames } from './deliveryErrors';

const origin = (id: string, name: string): Origin => ({
  id,
  name,
  type: 'WEB_FOLDER',
  baseUrl: `https://${id}.example`,
  forwardHostHeaderToOrigin: false,
  includeCanonicalHeader: false,
  baseUrlForCanonicalHeader: '',
});

describe('delivery errors', () => {
  it('reasons in words, known or derived from the status', () => {
    expect(describeReason('not_found', 404)).toBe('Not found on any origin');
    expect(describeReason('timeout', 504)).toBe('An origin did not answer in time');
    expect(describeReason('origin_status', 502)).toBe('An origin answered with an error status');
    expect(describeReason('something_new', 422)).toBe('The original could not be processed');
    expect(describeReason('something_new', 418)).toBe('something new');
    expect(describeReason('', 418)).toBe('HTTP 418');
  });
  it('origins by name in the order tried; deleted ones by id', () => {
    const origins = [origin('o1', 'Website'), origin('o2', 'Backup')];
    expect(originNames(['o2', 'o1'], origins)).toEqual(['Backup', 'Website']);
    expect(originNames(['o3'], origins)).toEqual(['deleted origin o3']);
    expect(originNames(['o1'], undefined)).toEqual(['o1']);
    expect(originNames([], origins)).toEqual([]);
  });
  it('paths with their leading slash, still escaped', () => {
    expect(displayPath('photos/a%20b.jpg')).toBe('/photos/a%20b.jpg');
    expect(displayPath('/x.jpg')).toBe('/x.jpg');
  });
  it('endpoint labels: nothing for the default one, the prefix otherwise', () => {
    const ep = (id: string, urlPrefix: string) => ({ id, urlPrefix }) as UrlEndpoint;
    const list = [ep('e1', ''), ep('e2', 'shop')];
    expect(endpointLabel('e1', list)).toBe('');
    expect(endpointLabel('default', undefined)).toBe('');
    expect(endpointLabel('e2', list)).toBe('endpoint /shop');
    expect(endpointLabel('e3', list)).toBe('deleted endpoint e3');
    expect(endpointLabel('e3', undefined)).toBe('');
  });
  it('how long ago', () => {
    const now = new Date('2025-05-01T12:00:00Z');
    expect(formatAgo('2025-05-01T11:59:30Z', now)).toBe('just now');
    expect(formatAgo('2025-05-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAgo('2025-05-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2025-04-30T11:00:00Z', now)).toBe('1 day ago');
    expect(formatAgo('2025-04-28T12:00:00Z', now)).toBe('3 days ago');
    expect(formatAgo('2025-05-01T12:00:10Z', now)).toBe('just now');
    expect(formatAgo('nonsense', now)).toBe('');
  });
});
