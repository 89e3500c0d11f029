import { describe, expect, it } from 'vitest';
import { exampleMapping } from './Origins';
import { originSource } from '../lib/origin';
import { originBody } from './OriginForm';
import type { Origin, OriginInput, UrlEndpoint } from '../lib/api';

const endpoint = { urlEndpoint: 'https://edge.example/demo/' } as UrlEndpoint;
const folder: Origin = {
  id: 'o1', type: 'WEB_FOLDER', name: 'site', baseUrl: 'https://www.example.com/', forwardHostHeaderToOrigin: false,
  includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
};
const proxy: Origin = { ...folder, id: 'o2', type: 'WEB_PROXY', baseUrl: undefined, allowedHosts: ['*.cdn.example.net'] };

describe('origins', () => {
  it('maps a web server path under the endpoint', () => {
    expect(exampleMapping(folder, endpoint)).toEqual({
      from: 'https://www.example.com/rest-of-the-path.jpg',
      to: 'https://edge.example/demo/rest-of-the-path.jpg',
    });
  });
  it('maps a web proxy URL whole after the endpoint', () => {
    expect(exampleMapping(proxy, endpoint)).toEqual({
      from: 'https://images.cdn.example.net/rest-of-the-path.jpg',
      to: 'https://edge.example/demo/https://images.cdn.example.net/rest-of-the-path.jpg',
    });
  });
  it('names what an origin fetches', () => {
    expect(originSource(folder)).toBe('https://www.example.com/');
    expect(originSource(proxy)).toBe('URLs on *.cdn.example.net');
    expect(originSource({ ...proxy, allowedHosts: [] })).toBe('any public URL');
  });
  it('sends a web proxy without a base URL and with its hosts', () => {
    const form: OriginInput = { ...folder, type: 'WEB_PROXY', forwardHostHeaderToOrigin: true, includeCanonicalHeader: false, baseUrlForCanonicalHeader: 'x' };
    const body = originBody(form, 'Images.Example.com\n\n *.cdn.example.net, a.example.org');
    expect(body.baseUrl).toBeUndefined();
    expect(body.allowedHosts).toEqual(['images.example.com', '*.cdn.example.net', 'a.example.org']);
    expect(body.forwardHostHeaderToOrigin).toBe(false);
    expect(body.baseUrlForCanonicalHeader).toBe('');
  });
  it('sends a web server without a host list', () => {
    const body = originBody({ ...folder, allowedHosts: ['x.example'] }, 'ignored.example');
    expect(body.allowedHosts).toBeUndefined();
    expect(body.baseUrl).toBe('https://www.example.com/');
  });
});
