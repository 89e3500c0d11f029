// Prints, one JSON object per line, image URLs built by ImageKit's SDKs for
// a Pictor URL-endpoint: {name, url, width, probe?} where width is what the
// edge must return and probe, when set, a pixel {x, y, rgb} the overlay the
// SDK asked for must have painted. Usage: node urls.mjs URL_ENDPOINT
// PRIVATE_KEY SRC
import ImageKit from '@imagekit/nodejs';
import { buildSrc } from '@imagekit/javascript';

const [urlEndpoint, privateKey, src] = process.argv.slice(2);
if (!urlEndpoint || !privateKey || !src) {
  console.error('usage: node urls.mjs URL_ENDPOINT PRIVATE_KEY SRC');
  process.exit(2);
}
const client = new ImageKit({ privateKey });
const out = (name, url, width, probe) => console.log(JSON.stringify({ name, url, width, probe }));

out('javascript buildSrc query', buildSrc({ urlEndpoint, src, transformation: [{ width: 200 }] }), 200);
out('javascript buildSrc path', buildSrc({ urlEndpoint, src, transformation: [{ width: 210 }], transformationPosition: 'path' }), 210);
out('javascript buildSrc chained', buildSrc({ urlEndpoint, src, transformation: [{ width: 600 }, { width: 200, quality: 70 }] }), 200);
out('nodejs signed', client.helper.buildSrc({ urlEndpoint, src, transformation: [{ width: 220 }], signed: true }), 220);
out('nodejs signed with expiry', client.helper.buildSrc({
  urlEndpoint, src, transformation: [{ width: 230 }], transformationPosition: 'path', signed: true, expiresIn: 600,
}), 230);
out('nodejs signed no transformation', client.helper.buildSrc({ urlEndpoint, src, signed: true, expiresIn: 300 }), 0);

// Overlays, as the SDKs write them (l-…,l-end; ie- base64 for text that is
// not plain).
out('javascript overlay solid colour', buildSrc({
  urlEndpoint, src, transformation: [{
    width: 300,
    overlay: { type: 'solidColor', color: 'FF0000', transformation: [{ width: 40, height: 30 }], position: { x: 10, y: 20 } },
  }],
}), 300, { x: 30, y: 35, rgb: [255, 0, 0] });
out('javascript overlay image, path', buildSrc({
  urlEndpoint, src, transformationPosition: 'path', transformation: [{
    width: 310,
    overlay: { type: 'image', input: src, transformation: [{ width: 60 }], position: { focus: 'bottom_right' } },
  }],
}), 310);
out('nodejs overlay text, signed', client.helper.buildSrc({
  urlEndpoint, src, signed: true, transformation: [{
    width: 320,
    overlay: {
      type: 'text', text: 'Hello, Pictor! नमस्ते',
      transformation: [{ fontSize: 30, fontColor: 'FFFFFF', background: '000000', padding: 10 }],
      // The SDK drops a 0 position: 1 px in from the corner.
      position: { x: 1, y: 1 },
    },
  }],
}), 320, { x: 4, y: 4, rgb: [0, 0, 0] });
out('javascript overlay text in the account\'s font', buildSrc({
  urlEndpoint, src, transformation: [{
    width: 330,
    overlay: {
      type: 'text', text: 'Brand type',
      transformation: [{ fontSize: 28, fontFamily: 'fonts@@Brand.ttf', fontColor: 'FFFFFF', background: '0000FF', padding: 10 }],
      position: { x: 1, y: 1 },
    },
  }],
}), 330, { x: 4, y: 4, rgb: [0, 0, 255] });
