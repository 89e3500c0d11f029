import { describe, expect, it } from 'vitest';
import { dnsRecordFor, formatBytes, formatName, formatSaving } from './format';

describe('format', () => {
  it('bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
  });
  it('saving against the original', () => {
    expect(formatSaving(25, 100)).toBe('75% smaller than the original');
    expect(formatSaving(150, 100)).toBe('50% larger than the original');
    expect(formatSaving(10, 0)).toBe('');
  });
  it('format names from Content-Type', () => {
    expect(formatName('image/webp')).toBe('WebP');
    expect(formatName('image/jpeg; charset=binary')).toBe('JPEG');
  });
  it('DNS record for a custom domain: CNAME to an edge name, A/AAAA to an address', () => {
    expect(dnsRecordFor('images.example.com', 'https://cdn.pictor.example')).toEqual({ type: 'CNAME', name: 'images.example.com', value: 'cdn.pictor.example.' });
    expect(dnsRecordFor('images.example.com', 'http://127.0.0.1:8081')).toEqual({ type: 'A', name: 'images.example.com', value: '127.0.0.1' });
    expect(dnsRecordFor('images.example.com', 'http://[2001:db8::1]:8081')).toEqual({ type: 'AAAA', name: 'images.example.com', value: '2001:db8::1' });
  });
});
