import { describe, expect, it } from 'vitest';
import { exampleMapping } from './Origins';
import { originSource, originTypeName } from '../lib/origin';
import { originBody } from './OriginForm';
import type { Origin, OriginInput, UrlEndpoint } from '../lib/api';

const endpoint = { urlEndpoint: 'https://edge.example/demo/' } as UrlEndpoint;
const folder: Origin = {
  id: 'o1', type: 'WEB_FOLDER', name: 'site', baseUrl: 'https://www.example.com/', forwardHostHeaderToOrigin: false,
  includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
};
const proxy: Origin = { ...folder, id: 'o2', type: 'WEB_PROXY', baseUrl: undefined, allowedHosts: ['*.cdn.example.net'] };
const s3: Origin = {
  id: 'o3', type: 'S3', name: 'bucket', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
  bucket: 'images', prefix: 'site/originals', accessKey: 'AKIDEXAMPLE',
};
const compatible: Origin = { ...s3, id: 'o4', type: 'S3_COMPATIBLE', endpoint: 'https://s3.example.net', s3ForcePathStyle: true };
const azure: Origin = {
  id: 'o5', type: 'AZURE_BLOB', name: 'container', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
  accountName: 'mystorage', container: 'images', prefix: 'site/originals',
};
const azureFields = ['accountName', 'container', 'sasToken'];
/** An origin as the form holds it: without its id. */
const input = ({ id: _id, ...rest }: Origin): OriginInput => (void _id, rest);
const s3Fields = ['bucket', 'prefix', 'accessKey', 'secretKey', 'endpoint', 's3ForcePathStyle'];

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
  it('sends a web server or a web proxy without the S3 fields', () => {
    const leftovers = { bucket: 'b', prefix: 'p', accessKey: 'AK', secretKey: 'SK', endpoint: 'https://s3.example.net', s3ForcePathStyle: true };
    for (const type of ['WEB_FOLDER', 'WEB_PROXY']) {
      const body = originBody({ ...folder, ...leftovers, type }, 'images.example.com');
      for (const f of s3Fields) expect(body, `${type} ${f}`).not.toHaveProperty(f);
    }
  });
  it('sends an S3 origin with its bucket and keys, without a base URL, hosts, endpoint or addressing style', () => {
    const form: OriginInput = {
      ...input(s3), baseUrl: 'https://www.example.com', allowedHosts: ['x.example'], forwardHostHeaderToOrigin: true,
      bucket: ' images ', prefix: '/site/', accessKey: ' AKIDEXAMPLE ', secretKey: 'wJalrXUtnFEMI/K7MDENG', endpoint: 'https://s3.example.net', s3ForcePathStyle: true,
    };
    expect(originBody(form, 'ignored.example')).toEqual({
      type: 'S3', name: 'bucket', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
      bucket: 'images', prefix: 'site/', accessKey: 'AKIDEXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG',
    });
  });
  it('sends an S3-compatible origin with its endpoint and addressing style', () => {
    const body = originBody({ ...input(compatible), baseUrl: '', allowedHosts: [], secretKey: 'SK', s3ForcePathStyle: false }, '');
    expect(body).toEqual({
      type: 'S3_COMPATIBLE', name: 'bucket', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
      bucket: 'images', prefix: 'site/originals', accessKey: 'AKIDEXAMPLE', secretKey: 'SK', endpoint: 'https://s3.example.net', s3ForcePathStyle: false,
    });
  });
  it('leaves an empty secret key out, so that an edit keeps the stored one', () => {
    expect(originBody({ ...compatible, secretKey: '' }, '')).not.toHaveProperty('secretKey');
    expect(originBody({ ...s3, secretKey: '  ' }, '')).not.toHaveProperty('secretKey');
    expect(originBody(s3, '')).not.toHaveProperty('secretKey');
  });
  it('keeps the canonical header of an S3 origin', () => {
    const body = originBody({ ...s3, includeCanonicalHeader: true, baseUrlForCanonicalHeader: 'https://www.example.com' }, '');
    expect(body.includeCanonicalHeader).toBe(true);
    expect(body.baseUrlForCanonicalHeader).toBe('https://www.example.com');
  });
  it('names an S3 origin by its bucket and folder, and an S3-compatible one also by its endpoint host', () => {
    expect(originSource(s3)).toBe('s3://images/site/originals');
    expect(originSource({ ...s3, prefix: '' })).toBe('s3://images');
    expect(originSource({ ...s3, prefix: 'site/' })).toBe('s3://images/site');
    expect(originSource(compatible)).toBe('s3://images/site/originals on s3.example.net');
    expect(originSource({ ...compatible, prefix: '', endpoint: 'http://127.0.0.1:9000/' })).toBe('s3://images on 127.0.0.1:9000');
  });
  it('names the origin types', () => {
    expect(originTypeName('WEB_FOLDER')).toBe('Web server');
    expect(originTypeName('WEB_PROXY')).toBe('Web proxy');
    expect(originTypeName('S3')).toBe('Amazon S3');
    expect(originTypeName('S3_COMPATIBLE')).toBe('S3-compatible');
    expect(originTypeName('AZURE_BLOB')).toBe('Azure Blob');
    expect(originTypeName('GCS')).toBe('GCS');
  });
  it('sends an Azure Blob origin with only its account, container, folder and SAS token', () => {
    const form: OriginInput = {
      ...input(azure), baseUrl: 'https://www.example.com', allowedHosts: ['x.example'], forwardHostHeaderToOrigin: true,
      bucket: 'b', accessKey: 'AK', secretKey: 'SK', endpoint: 'https://s3.example.net', s3ForcePathStyle: true,
      accountName: ' mystorage ', container: ' images ', prefix: '/site/', sasToken: ' sv=2024-11-04&sp=rl&sig=abc ',
    };
    expect(originBody(form, 'ignored.example')).toEqual({
      type: 'AZURE_BLOB', name: 'container', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
      accountName: 'mystorage', container: 'images', prefix: 'site/', sasToken: 'sv=2024-11-04&sp=rl&sig=abc',
    });
  });
  it('leaves an empty SAS token out, so that an edit keeps the stored one', () => {
    expect(originBody({ ...azure, sasToken: '' }, '')).not.toHaveProperty('sasToken');
    expect(originBody({ ...azure, sasToken: '  ' }, '')).not.toHaveProperty('sasToken');
    expect(originBody(azure, '')).not.toHaveProperty('sasToken');
  });
  it('keeps the canonical header of an Azure Blob origin', () => {
    const body = originBody({ ...azure, includeCanonicalHeader: true, baseUrlForCanonicalHeader: 'https://www.example.com' }, '');
    expect(body.includeCanonicalHeader).toBe(true);
    expect(body.baseUrlForCanonicalHeader).toBe('https://www.example.com');
  });
  it('sends the other types without the Azure Blob fields', () => {
    const leftovers = { accountName: 'mystorage', container: 'images', sasToken: 'sv=x' };
    for (const o of [folder, proxy, s3, compatible]) {
      const body = originBody({ ...o, ...leftovers }, 'images.example.com');
      for (const f of azureFields) expect(body, `${o.type} ${f}`).not.toHaveProperty(f);
    }
  });
  it('names an Azure Blob origin by its account, container and folder', () => {
    expect(originSource(azure)).toBe('azure://mystorage/images/site/originals');
    expect(originSource({ ...azure, prefix: '' })).toBe('azure://mystorage/images');
    expect(originSource({ ...azure, prefix: '/site/' })).toBe('azure://mystorage/images/site');
  });
  it('maps a blob in the container folder under the endpoint', () => {
    expect(exampleMapping(azure, endpoint)).toEqual({
      from: 'azure://mystorage/images/site/originals/rest-of-the-path.jpg',
      to: 'https://edge.example/demo/rest-of-the-path.jpg',
    });
  });
  it('maps a key in the bucket folder under the endpoint', () => {
    expect(exampleMapping(s3, endpoint)).toEqual({
      from: 's3://images/site/originals/rest-of-the-path.jpg',
      to: 'https://edge.example/demo/rest-of-the-path.jpg',
    });
    expect(exampleMapping({ ...compatible, prefix: '' }, endpoint)).toEqual({
      from: 's3://images/rest-of-the-path.jpg',
      to: 'https://edge.example/demo/rest-of-the-path.jpg',
    });
  });
});
