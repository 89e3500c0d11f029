import { describe, expect, it } from 'vitest';
import { buildImageUrl, hmacSha1Hex, originalImageUrl, signImageUrl, stringToSign } from './imageUrl';

const EP = 'http://127.0.0.1:8081/acme';

describe('buildImageUrl', () => {
  it('puts the transformation in the path', () => {
    expect(buildImageUrl(EP, 'photos/a.jpg', 'w-300', 'path')).toBe('http://127.0.0.1:8081/acme/tr:w-300/photos/a.jpg');
  });
  it('or in the query', () => {
    expect(buildImageUrl(EP, 'photos/a.jpg', 'w-300,h-200', 'query')).toBe('http://127.0.0.1:8081/acme/photos/a.jpg?tr=w-300,h-200');
  });
  it('keeps a forwarded query and adds tr after it', () => {
    expect(buildImageUrl(EP, '/photos/a.jpg?v=2', 'w-300', 'query')).toBe('http://127.0.0.1:8081/acme/photos/a.jpg?v=2&tr=w-300');
    expect(buildImageUrl(EP, 'photos/a.jpg?v=2', 'w-300', 'path')).toBe('http://127.0.0.1:8081/acme/tr:w-300/photos/a.jpg?v=2');
  });
  it('leaves tr out when there is none, and tolerates slashes and a tr: prefix', () => {
    expect(buildImageUrl(EP + '/', '//a.jpg', '', 'path')).toBe('http://127.0.0.1:8081/acme/a.jpg');
    expect(buildImageUrl(EP, 'a.jpg', '  ', 'query')).toBe('http://127.0.0.1:8081/acme/a.jpg');
    expect(buildImageUrl(EP, 'a.jpg', 'tr:w-1', 'path')).toBe('http://127.0.0.1:8081/acme/tr:w-1/a.jpg');
  });
  it('works on a prefixed endpoint and chained steps', () => {
    expect(buildImageUrl('https://cdn.example.com/acme/products', 'shoe.jpg', 'w-300:rt-90', 'path')).toBe('https://cdn.example.com/acme/products/tr:w-300:rt-90/shoe.jpg');
  });
  it('percent-encodes what a browser would, so signatures match the wire', () => {
    expect(buildImageUrl(EP, 'my photos/हिन्दी.png', '', 'path')).toBe('http://127.0.0.1:8081/acme/my%20photos/%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80.png');
  });
  it('builds the original URL with orig-true', () => {
    expect(originalImageUrl(EP, 'a.jpg')).toBe('http://127.0.0.1:8081/acme/tr:orig-true/a.jpg');
  });
});

// DESIGN §4's test vectors (key dummy-key).
describe('signing', () => {
  const endpoint = 'https://ik.imagekit.io/demo';
  const hindi = 'sdk-testing-files/%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80.png';

  it('HMAC-SHA1 of the design test vectors', async () => {
    expect(await hmacSha1Hex('dummy-key', 'sdk-testing-files/future-search.png9999999999')).toBe('32dbbbfc5f945c0403c71b54c38e76896ef2d6b0');
    expect(await hmacSha1Hex('dummy-key', hindi + '9999999999')).toBe('3fff2f31da1f45e007adcdbe95f88c8c330e743c');
    expect(
      await hmacSha1Hex(
        'dummy-key',
        hindi + '?tr=l-text,ie-4KS54KS%2F4KSo4KWN4KSm4KWA,fs-32,ff-sdk-testing-files@@Poppins-Regular_Q15GrYWmL.ttf,co-red,l-end9999999999',
      ),
    ).toBe('705e41579d368caa6530a4375355325277fcfe5c');
  });

  it('string to sign drops the endpoint and ik- parameters, and appends the expiry', () => {
    expect(stringToSign(endpoint, `${endpoint}/sdk-testing-files/future-search.png`)).toBe('sdk-testing-files/future-search.png9999999999');
    expect(stringToSign(endpoint + '/', `${endpoint}/a.jpg?ik-t=5&v=1&ik-s=abc`, 5)).toBe('a.jpg?v=15');
    expect(stringToSign(endpoint, `${endpoint}/a.jpg?ik-s=abc`)).toBe('a.jpg9999999999');
    expect(() => stringToSign(endpoint, 'https://elsewhere.example/demo/a.jpg')).toThrow(/endpoint/);
  });

  it('signs URLs as ImageKit SDKs do: the non-ASCII path is signed as sent', async () => {
    const url = buildImageUrl(endpoint, 'sdk-testing-files/हिन्दी.png', '', 'path');
    expect(await signImageUrl(endpoint, url, 'dummy-key')).toBe(`${endpoint}/${hindi}?ik-s=3fff2f31da1f45e007adcdbe95f88c8c330e743c`);
    const withTr = `${endpoint}/${hindi}?tr=l-text,ie-4KS54KS%2F4KSo4KWN4KSm4KWA,fs-32,ff-sdk-testing-files@@Poppins-Regular_Q15GrYWmL.ttf,co-red,l-end`;
    expect(await signImageUrl(endpoint, withTr, 'dummy-key')).toBe(`${withTr}&ik-s=705e41579d368caa6530a4375355325277fcfe5c`);
  });

  it('puts ik-t before ik-s and signs the expiry', async () => {
    const signed = await signImageUrl(endpoint, `${endpoint}/sdk-testing-files/future-search.png`, 'dummy-key', 1700000000);
    const sig = await hmacSha1Hex('dummy-key', 'sdk-testing-files/future-search.png1700000000');
    expect(signed).toBe(`${endpoint}/sdk-testing-files/future-search.png?ik-t=1700000000&ik-s=${sig}`);
  });
});
