// Drives a running Pictor control plane with ImageKit's official Node SDK,
// pointed at Pictor through baseURL, exactly as a customer moving from
// ImageKit would. Every call's result is checked; any mismatch throws and
// the process exits non-zero (cmd/controlplane's TestImageKitNodeSDK runs
// it against the real `controlplane serve`).
//
//   PICTOR_API_URL=http://127.0.0.1:8080 PICTOR_PRIVATE_KEY=private_... \
//   PICTOR_ACCOUNT_ID=demo PICTOR_EDGE_URL=http://127.0.0.1:8081 node sdk.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ImageKit, {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
} from '@imagekit/nodejs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

const baseURL = env('PICTOR_API_URL');
const privateKey = env('PICTOR_PRIVATE_KEY');
const accountId = env('PICTOR_ACCOUNT_ID');
const edgeURL = env('PICTOR_EDGE_URL');

// The package's exports hide package.json; read it beside its entry point.
const sdkMain = createRequire(import.meta.url).resolve('@imagekit/nodejs');
const sdkVersion = JSON.parse(readFileSync(join(dirname(sdkMain), 'package.json'), 'utf8')).version;
assert.equal(sdkVersion.split('.')[0], '7', `expected @imagekit/nodejs v7, found ${sdkVersion}`);

const client = new ImageKit({ baseURL, privateKey, timeout: 20_000 });
let checks = 0;
async function check(name, fn) {
  try {
    await fn();
    checks++;
  } catch (err) {
    err.message = `${name}: ${err.message}`;
    throw err;
  }
}
const hexId = /^[0-9a-f]{24}$/;

// Origins: list, create, get, update (PUT), delete.
let photos, cdn;
await check('origins.list (empty)', async () => {
  assert.deepEqual(await client.accounts.origins.list(), []);
});
await check('origins.create', async () => {
  photos = await client.accounts.origins.create({
    type: 'WEB_FOLDER',
    name: 'Photos',
    baseUrl: 'https://images.example.com/photos/',
    forwardHostHeaderToOrigin: true,
  });
  assert.match(photos.id, hexId);
  assert.deepEqual(photos, {
    id: photos.id,
    type: 'WEB_FOLDER',
    name: 'Photos',
    baseUrl: 'https://images.example.com/photos/',
    forwardHostHeaderToOrigin: true,
    includeCanonicalHeader: false,
    baseUrlForCanonicalHeader: '',
  });
  cdn = await client.accounts.origins.create({ type: 'WEB_FOLDER', name: 'CDN', baseUrl: 'https://cdn.example.com' });
});
await check('origins.get', async () => {
  assert.deepEqual(await client.accounts.origins.get(photos.id), photos);
});
await check('origins.update', async () => {
  const updated = await client.accounts.origins.update(photos.id, {
    type: 'WEB_FOLDER',
    name: 'Photos 2',
    baseUrl: 'https://images.example.com/v2',
    includeCanonicalHeader: true,
    baseUrlForCanonicalHeader: 'https://www.example.com',
  });
  assert.equal(updated.id, photos.id);
  assert.equal(updated.name, 'Photos 2');
  assert.equal(updated.baseUrl, 'https://images.example.com/v2');
  assert.equal(updated.forwardHostHeaderToOrigin, false);
  assert.equal(updated.includeCanonicalHeader, true);
  photos = updated;
});
await check('origins.list', async () => {
  const list = await client.accounts.origins.list();
  assert.deepEqual(list.map((o) => o.id), [photos.id, cdn.id]);
});
await check('origins.create refuses an unsupported type with 400', async () => {
  await assert.rejects(
    client.accounts.origins.create({
      type: 'GCS',
      name: 'GCS',
      bucket: 'sdk-images',
      clientEmail: 'reader@sdk-project.iam.gserviceaccount.com',
      privateKey: '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n',
    }),
    (err) => err instanceof BadRequestError && err.error?.field === 'type',
  );
});

// An AZURE_BLOB origin as the SDK sends it (its AzureBlob type). The SAS
// token is stored encrypted and never comes back; an update without it
// keeps it.
await check('origins AZURE_BLOB: create, get, list, update, delete', async () => {
  const sasToken = '?sv=2022-11-02&ss=b&srt=o&sp=rl&se=2030-01-01T00:00:00Z&spr=https&sig=SdkSig%2Babc%3D';
  const azure = await client.accounts.origins.create({
    type: 'AZURE_BLOB',
    name: 'Azure',
    container: 'sdk-images',
    accountName: 'sdkstore',
    sasToken,
    prefix: 'originals/',
  });
  assert.match(azure.id, hexId);
  assert.deepEqual(azure, {
    id: azure.id,
    type: 'AZURE_BLOB',
    name: 'Azure',
    container: 'sdk-images',
    accountName: 'sdkstore',
    prefix: 'originals',
    forwardHostHeaderToOrigin: false,
    includeCanonicalHeader: false,
    baseUrlForCanonicalHeader: '',
  });
  assert.equal('sasToken' in azure, false);
  assert.equal('baseUrl' in azure, false);
  assert.deepEqual(await client.accounts.origins.get(azure.id), azure);
  const listed = (await client.accounts.origins.list()).find((o) => o.id === azure.id);
  assert.deepEqual(listed, azure);
  const updated = await client.accounts.origins.update(azure.id, {
    type: 'AZURE_BLOB',
    name: 'Azure 2',
    container: 'sdk-images-2',
    accountName: 'sdkstore2',
    includeCanonicalHeader: true,
    baseUrlForCanonicalHeader: 'https://www.example.com',
  });
  assert.equal(updated.name, 'Azure 2');
  assert.equal(updated.container, 'sdk-images-2');
  assert.equal(updated.accountName, 'sdkstore2');
  assert.equal(updated.prefix, '');
  assert.equal(updated.includeCanonicalHeader, true);
  assert.equal('sasToken' in updated, false);
  for (const o of [azure, listed, updated]) {
    assert.equal(JSON.stringify(o).includes('SdkSig'), false, 'the SAS token never comes back');
  }
  await assert.rejects(
    client.accounts.origins.create({ type: 'AZURE_BLOB', name: 'Azure', container: 'sdk-images', accountName: 'sdkstore', sasToken: 'sv=2022-11-02' }),
    (err) => err instanceof BadRequestError && err.error?.field === 'sasToken',
  );
  assert.equal(await client.accounts.origins.delete(azure.id), null);
});

// An S3_COMPATIBLE origin as the SDK sends it. The secret key is stored
// encrypted and never comes back; an update without it keeps it.
await check('origins S3_COMPATIBLE: create, get, list, update, delete', async () => {
  const secretKey = 'sdk-Secret/Key+0123456789';
  const bucket = await client.accounts.origins.create({
    type: 'S3_COMPATIBLE',
    name: 'MinIO',
    bucket: 'sdk-images',
    prefix: 'originals/',
    accessKey: 'sdk-access',
    secretKey,
    endpoint: 'https://s3.example.com',
    s3ForcePathStyle: true,
  });
  assert.match(bucket.id, hexId);
  assert.deepEqual(bucket, {
    id: bucket.id,
    type: 'S3_COMPATIBLE',
    name: 'MinIO',
    bucket: 'sdk-images',
    prefix: 'originals',
    accessKey: 'sdk-access',
    endpoint: 'https://s3.example.com',
    s3ForcePathStyle: true,
    forwardHostHeaderToOrigin: false,
    includeCanonicalHeader: false,
    baseUrlForCanonicalHeader: '',
  });
  assert.equal('secretKey' in bucket, false);
  assert.equal('baseUrl' in bucket, false);
  assert.deepEqual(await client.accounts.origins.get(bucket.id), bucket);
  const listed = (await client.accounts.origins.list()).find((o) => o.id === bucket.id);
  assert.deepEqual(listed, bucket);
  const updated = await client.accounts.origins.update(bucket.id, {
    type: 'S3_COMPATIBLE',
    name: 'MinIO 2',
    bucket: 'sdk-images-2',
    accessKey: 'sdk-access-2',
    secretKey: '',
    endpoint: 'https://minio.example.com:9000',
  });
  assert.equal(updated.name, 'MinIO 2');
  assert.equal(updated.bucket, 'sdk-images-2');
  assert.equal(updated.prefix, '');
  assert.equal(updated.endpoint, 'https://minio.example.com:9000');
  assert.equal(updated.s3ForcePathStyle, false);
  assert.equal('secretKey' in updated, false);
  for (const o of [bucket, listed, updated]) {
    assert.equal(JSON.stringify(o).includes(secretKey), false, 'the secret key never comes back');
  }
  await assert.rejects(
    client.accounts.origins.create({ type: 'S3', name: 'S3', bucket: 'sdk-images', accessKey: 'a', secretKey: '' }),
    (err) => err instanceof BadRequestError && err.error?.field === 'secretKey',
  );
  assert.equal(await client.accounts.origins.delete(bucket.id), null);
});

// An Amazon S3 origin (type S3) as the SDK sends it: no endpoint, the
// region found by the edge. Its secret stays through an update that omits
// it, and through a change to S3_COMPATIBLE (the same kind of secret).
await check('origins S3: create, get, list, update, delete', async () => {
  const secretKey = 'sdk-Amazon/Secret+9876543210';
  const bucket = await client.accounts.origins.create({
    type: 'S3',
    name: 'Amazon',
    bucket: 'sdk-amazon-images',
    prefix: 'products/',
    accessKey: 'AKIAIOSFODNN7EXAMPLE',
    secretKey,
  });
  assert.match(bucket.id, hexId);
  assert.deepEqual(bucket, {
    id: bucket.id,
    type: 'S3',
    name: 'Amazon',
    bucket: 'sdk-amazon-images',
    prefix: 'products',
    accessKey: 'AKIAIOSFODNN7EXAMPLE',
    forwardHostHeaderToOrigin: false,
    includeCanonicalHeader: false,
    baseUrlForCanonicalHeader: '',
  });
  assert.deepEqual(await client.accounts.origins.get(bucket.id), bucket);
  assert.deepEqual((await client.accounts.origins.list()).find((o) => o.id === bucket.id), bucket);
  const renamed = await client.accounts.origins.update(bucket.id, {
    type: 'S3', name: 'Amazon 2', bucket: 'sdk-amazon-images', accessKey: 'AKIAIOSFODNN7EXAMPLE',
  });
  assert.equal(renamed.name, 'Amazon 2');
  assert.equal(renamed.prefix, '');
  const moved = await client.accounts.origins.update(bucket.id, {
    type: 'S3_COMPATIBLE', name: 'Moved', bucket: 'sdk-amazon-images', accessKey: 'AKIAIOSFODNN7EXAMPLE',
    endpoint: 'https://storage.example.net', s3ForcePathStyle: true,
  });
  assert.equal(moved.type, 'S3_COMPATIBLE');
  assert.equal(moved.endpoint, 'https://storage.example.net');
  for (const o of [bucket, renamed, moved]) {
    assert.equal(JSON.stringify(o).includes(secretKey), false, 'the secret key never comes back');
  }
  await assert.rejects(
    client.accounts.origins.create({ type: 'S3', name: 'S3', bucket: 'sdk-images', accessKey: 'a', secretKey: 'x', endpoint: 'https://x.example' }),
    (err) => err instanceof BadRequestError && err.error?.field === 'endpoint',
  );
  assert.equal(await client.accounts.origins.delete(bucket.id), null);
  await assert.rejects(client.accounts.origins.get(bucket.id), NotFoundError);
});

// A WEB_PROXY origin as the SDK sends it: no baseUrl, in the request or
// the response. allowedHosts is Pictor's own field; the SDK passes it on.
await check('origins WEB_PROXY: create, get, update, delete', async () => {
  const proxy = await client.accounts.origins.create({
    type: 'WEB_PROXY',
    name: 'Proxy',
    includeCanonicalHeader: true,
    baseUrlForCanonicalHeader: 'https://www.example.com',
  });
  assert.match(proxy.id, hexId);
  assert.deepEqual(proxy, {
    id: proxy.id,
    type: 'WEB_PROXY',
    name: 'Proxy',
    forwardHostHeaderToOrigin: false,
    includeCanonicalHeader: true,
    baseUrlForCanonicalHeader: 'https://www.example.com',
    allowedHosts: [],
  });
  assert.deepEqual(await client.accounts.origins.get(proxy.id), proxy);
  const updated = await client.accounts.origins.update(proxy.id, {
    type: 'WEB_PROXY',
    name: 'Proxy 2',
    allowedHosts: ['images.example.com', '*.cdn.example.com'],
  });
  assert.equal(updated.name, 'Proxy 2');
  assert.equal(updated.includeCanonicalHeader, false);
  assert.deepEqual(updated.allowedHosts, ['images.example.com', '*.cdn.example.com']);
  assert.equal('baseUrl' in updated, false);
  await assert.rejects(
    client.accounts.origins.create({ type: 'WEB_PROXY', name: 'P', baseUrl: 'https://www.example.com' }),
    (err) => err instanceof BadRequestError && err.error?.field === 'baseUrl',
  );
  assert.equal(await client.accounts.origins.delete(proxy.id), null);
});

// URL-endpoints: the default one, then create, get, update (PUT), delete.
let products;
await check('urlEndpoints.list (default only)', async () => {
  const list = await client.accounts.urlEndpoints.list();
  assert.equal(list.length, 1);
  assert.equal(list[0].id, 'default');
  assert.equal(list[0].urlPrefix, '');
  assert.deepEqual(list[0].origins, [photos.id], 'the first origin serves the default endpoint');
});
await check('urlEndpoints.get(default)', async () => {
  const def = await client.accounts.urlEndpoints.get('default');
  assert.equal(def.urlPrefix, '');
});
await check('urlEndpoints.create', async () => {
  products = await client.accounts.urlEndpoints.create({
    description: 'Products',
    urlPrefix: 'products',
    origins: [cdn.id, photos.id],
  });
  assert.match(products.id, hexId);
  assert.equal(products.description, 'Products');
  assert.equal(products.urlPrefix, 'products');
  assert.deepEqual(products.origins, [cdn.id, photos.id]);
});
await check('urlEndpoints.get', async () => {
  const got = await client.accounts.urlEndpoints.get(products.id);
  assert.deepEqual(got, products);
});
await check('urlEndpoints.update', async () => {
  const updated = await client.accounts.urlEndpoints.update(products.id, {
    description: 'Items',
    urlPrefix: 'items',
    origins: [cdn.id],
  });
  assert.equal(updated.id, products.id);
  assert.equal(updated.description, 'Items');
  assert.equal(updated.urlPrefix, 'items');
  assert.deepEqual(updated.origins, [cdn.id]);
  products = updated;
});
await check('urlEndpoints.list', async () => {
  const list = await client.accounts.urlEndpoints.list();
  assert.deepEqual(list.map((e) => e.id), ['default', products.id]);
});
await check('urlEndpoints.create with a taken prefix is a 409', async () => {
  await assert.rejects(
    client.accounts.urlEndpoints.create({ description: 'Again', urlPrefix: 'items' }),
    (err) => err instanceof ConflictError && err.status === 409 && err.headers.get('x-should-retry') === 'false',
  );
});
await check('origins.delete of an origin in use is a 409', async () => {
  await assert.rejects(client.accounts.origins.delete(cdn.id), ConflictError);
});
await check('urlEndpoints.delete of the default is refused', async () => {
  await assert.rejects(client.accounts.urlEndpoints.delete('default'), ConflictError);
});
await check('urlEndpoints.delete', async () => {
  assert.equal(await client.accounts.urlEndpoints.delete(products.id), null, 'delete answers 204 No Content');
  await assert.rejects(client.accounts.urlEndpoints.get(products.id), NotFoundError);
});
await check('origins.delete', async () => {
  assert.equal(await client.accounts.origins.delete(cdn.id), null, 'delete answers 204 No Content');
  await assert.rejects(client.accounts.origins.get(cdn.id), NotFoundError);
});

// Named transformations: create, list, update (PATCH), get, delete.
let thumb;
await check('namedTransformations.create', async () => {
  thumb = await client.namedTransformations.create({
    name: 'small_thumbnail',
    transformation: 'w-150,h-150,fo-center,cm-pad_resize',
    enabled: true,
  });
  assert.match(thumb.id, hexId);
  assert.equal(thumb.name, 'small_thumbnail');
  assert.equal(thumb.transformation, 'w-150,h-150,fo-center,cm-pad_resize');
  assert.equal(thumb.enabled, true);
  assert.ok(!Number.isNaN(Date.parse(thumb.createdAt)), 'createdAt is a date');
});
await check('namedTransformations.list', async () => {
  const list = await client.namedTransformations.list();
  assert.deepEqual(list.map((n) => n.id), [thumb.id]);
});
await check('namedTransformations.update', async () => {
  const updated = await client.namedTransformations.update(thumb.id, { transformation: 'w-200,h-200,fo-center,cm-pad_resize' });
  assert.equal(updated.transformation, 'w-200,h-200,fo-center,cm-pad_resize');
  assert.equal(updated.name, 'small_thumbnail');
  assert.equal(updated.enabled, true);
  const disabled = await client.namedTransformations.update(thumb.id, { enabled: false });
  assert.equal(disabled.enabled, false);
  assert.equal(disabled.transformation, 'w-200,h-200,fo-center,cm-pad_resize');
});
await check('namedTransformations.get', async () => {
  const got = await client.namedTransformations.get(thumb.id);
  assert.equal(got.enabled, false);
});
await check('namedTransformations.create refuses a bad transformation', async () => {
  await assert.rejects(
    client.namedTransformations.create({ name: 'broken', transformation: 'w-abc' }),
    (err) => err instanceof BadRequestError && err.error?.field === 'transformation',
  );
});
await check('namedTransformations.delete', async () => {
  assert.equal(await client.namedTransformations.delete(thumb.id), null, 'delete answers 204 No Content');
  await assert.rejects(client.namedTransformations.get(thumb.id), NotFoundError);
});

// Purge and its status.
await check('cache.invalidation.create and get', async () => {
  const created = await client.cache.invalidation.create({ url: `${edgeURL}/${accountId}/tr:w-300/products/shoe.jpg` });
  assert.match(created.requestId, hexId);
  const status = await client.cache.invalidation.get(created.requestId);
  assert.ok(['Pending', 'Completed'].includes(status.status), `status ${status.status}`);
  await assert.rejects(client.cache.invalidation.create({ url: `${edgeURL}/someone-else/a.jpg` }), BadRequestError);
});

// Usage.
await check('accounts.usage.get', async () => {
  const usage = await client.accounts.usage.get({ startDate: '2024-01-01', endDate: '2024-01-08' });
  assert.equal(usage.bandwidthBytes, 0);
  assert.equal(usage.days.length, 7);
  await assert.rejects(client.accounts.usage.get({ startDate: '2024-01-08', endDate: '2024-01-01' }), BadRequestError);
});

// A wrong key is refused.
await check('wrong key is a 401', async () => {
  const wrong = new ImageKit({ baseURL, privateKey: 'private_' + 'A'.repeat(43), maxRetries: 0 });
  await assert.rejects(wrong.accounts.origins.list(), AuthenticationError);
});

console.log(`ok: @imagekit/nodejs ${sdkVersion}, ${checks} checks passed against ${baseURL}`);
