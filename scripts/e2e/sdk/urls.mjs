// Prints, one JSON object per line, image URLs built by ImageKit's SDKs for
// a Pictor URL-endpoint: {name, url, width} where width is what the edge
// must return. Usage: node urls.mjs URL_ENDPOINT PRIVATE_KEY SRC
import ImageKit from '@imagekit/nodejs';
import { buildSrc } from '@imagekit/javascript';

const [urlEndpoint, privateKey, src] = process.argv.slice(2);
if (!urlEndpoint || !privateKey || !src) {
  console.error('usage: node urls.mjs URL_ENDPOINT PRIVATE_KEY SRC');
  process.exit(2);
}
const client = new ImageKit({ privateKey });
const out = (name, url, width) => console.log(JSON.stringify({ name, url, width }));

out('javascript buildSrc query', buildSrc({ urlEndpoint, src, transformation: [{ width: 200 }] }), 200);
out('javascript buildSrc path', buildSrc({ urlEndpoint, src, transformation: [{ width: 210 }], transformationPosition: 'path' }), 210);
out('javascript buildSrc chained', buildSrc({ urlEndpoint, src, transformation: [{ width: 600 }, { width: 200, quality: 70 }] }), 200);
out('nodejs signed', client.helper.buildSrc({ urlEndpoint, src, transformation: [{ width: 220 }], signed: true }), 220);
out('nodejs signed with expiry', client.helper.buildSrc({
  urlEndpoint, src, transformation: [{ width: 230 }], transformationPosition: 'path', signed: true, expiresIn: 600,
}), 230);
out('nodejs signed no transformation', client.helper.buildSrc({ urlEndpoint, src, signed: true, expiresIn: 300 }), 0);
