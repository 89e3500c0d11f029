import { describe, expect, it } from 'vitest';
import { describeOriginTest, formatElapsed, formatLabel, type OriginTestResult } from './originTest';

const url = 'https://www.example.com/photos/sample.jpg';
const result = (r: Partial<OriginTestResult>): OriginTestResult => ({
  url,
  status: 200,
  contentType: 'image/jpeg',
  bytes: 12595,
  format: 'jpeg',
  image: true,
  elapsedMs: 45,
  error: '',
  ...r,
});

describe('describeOriginTest', () => {
  it('an image: its format, size, time and URL', () => {
    expect(describeOriginTest(result({}))).toEqual({ ok: true, message: `Got a JPEG image, 12.3 KB, in 45 ms from ${url}` });
    expect(describeOriginTest(result({ format: 'avif', bytes: 512, elapsedMs: 1234.4 }))).toEqual({
      ok: true,
      message: `Got an AVIF image, 512 B, in 1.2 s from ${url}`,
    });
    expect(describeOriginTest(result({ format: 'webp' })).message).toMatch(/^Got a WebP image/);
    expect(describeOriginTest(result({ format: '' })).message).toMatch(/^Got an image, /);
  });
  it('not found', () => {
    expect(describeOriginTest(result({ status: 404, image: false, format: '', contentType: 'text/html' }))).toEqual({
      ok: false,
      message: `HTTP 404 from ${url} — not found on this origin`,
    });
  });
  it('other error statuses', () => {
    expect(describeOriginTest(result({ status: 403, image: false, format: '' })).message).toBe(
      `HTTP 403 from ${url} — the origin refused access (does it block Pictor’s addresses?)`,
    );
    expect(describeOriginTest(result({ status: 403, image: false, format: '' }), true).message).toBe(
      `HTTP 403 from ${url} — the storage service refused access: check the access key and secret (or SAS token), and that they may read this bucket or container`,
    );
    expect(describeOriginTest(result({ status: 503, image: false, format: '' }), true).message).toBe(`HTTP 503 from ${url} — the origin is unavailable`);
    expect(describeOriginTest(result({ status: 503, image: false, format: '' })).message).toBe(`HTTP 503 from ${url} — the origin is unavailable`);
    expect(describeOriginTest(result({ status: 599, image: false, format: '' })).message).toBe(`HTTP 599 from ${url} — the origin failed`);
    expect(describeOriginTest(result({ status: 302, image: false, format: '' })).message).toBe(`HTTP 302 from ${url} — a redirect that was not followed`);
  });
  it('not an image', () => {
    expect(describeOriginTest(result({ image: false, format: '', contentType: 'text/html; charset=utf-8' }))).toEqual({
      ok: false,
      message: `HTTP 200 from ${url} but it is not an image (text/html; charset=utf-8)`,
    });
    expect(describeOriginTest(result({ image: false, format: '', contentType: '' })).message).toBe(`HTTP 200 from ${url} but it is not an image (no Content-Type)`);
  });
  it('a fetch error: its message', () => {
    const failed = result({ status: 0, image: false, format: '', contentType: '', bytes: 0, error: 'www.example.com: no such host' });
    expect(describeOriginTest(failed)).toEqual({ ok: false, message: `www.example.com: no such host (${url})` });
    expect(describeOriginTest({ ...failed, error: `Timed out fetching ${url}` }).message).toBe(`Timed out fetching ${url}`);
    expect(describeOriginTest({ ...failed, error: '' }).message).toBe(`No answer from ${url}.`);
    expect(describeOriginTest({ ...failed, url: '', error: 'The address is not allowed' }).message).toBe('The address is not allowed');
  });
  it('a body cut short after a 200', () => {
    expect(describeOriginTest(result({ image: false, format: '', error: 'timed out' })).message).toBe(`HTTP 200 from ${url} but the fetch failed: timed out`);
  });
});

describe('helpers', () => {
  it('format labels', () => {
    expect(formatLabel('jpeg')).toBe('JPEG');
    expect(formatLabel('webp')).toBe('WebP');
    expect(formatLabel('jp2k')).toBe('JP2K');
  });
  it('elapsed time', () => {
    expect(formatElapsed(0)).toBe('0 ms');
    expect(formatElapsed(999.6)).toBe('1.0 s');
    expect(formatElapsed(2500)).toBe('2.5 s');
    expect(formatElapsed(NaN)).toBe('');
  });
});
