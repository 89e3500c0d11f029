// Creates origins and URL-endpoints on a Pictor control plane with
// ImageKit's own Node SDK, as a customer moving from ImageKit would, so
// the end-to-end test serves images from origins the SDK made.
//
// Usage: node origins.mjs API_URL PRIVATE_KEY < spec.json, where spec is
// {origins: [ImageKit origin, …], endpoints: [{description, urlPrefix,
// origins: [index into origins, or the id of an origin made before, …]}]}. Prints {origins: [{id, type}],
// endpoints: [{id, urlPrefix}]} as one JSON line; any failure exits 1.
import { readFileSync } from 'node:fs';
import ImageKit from '@imagekit/nodejs';

const [baseURL, privateKey] = process.argv.slice(2);
if (!baseURL || !privateKey) {
  console.error('usage: node origins.mjs API_URL PRIVATE_KEY < spec.json');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(0, 'utf8'));
const client = new ImageKit({ baseURL, privateKey, timeout: 20_000, maxRetries: 0 });

const origins = [];
for (const o of spec.origins ?? []) {
  const created = await client.accounts.origins.create(o);
  if (created.type !== o.type) throw new Error(`created a ${created.type} origin, asked for ${o.type}`);
  origins.push({ id: created.id, type: created.type });
}
const listed = new Set((await client.accounts.origins.list()).map((o) => o.id));
for (const o of origins) {
  if (!listed.has(o.id)) throw new Error(`origin ${o.id} is not in the list`);
}
const endpoints = [];
for (const e of spec.endpoints ?? []) {
  const created = await client.accounts.urlEndpoints.create({
    description: e.description,
    urlPrefix: e.urlPrefix,
    origins: e.origins.map((o) => (typeof o === 'number' ? origins[o].id : o)),
  });
  endpoints.push({ id: created.id, urlPrefix: created.urlPrefix });
}
console.log(JSON.stringify({ origins, endpoints }));
