import { describe, expect, it } from 'vitest';
import { buildTransformation, emptyControls, parseTransformation, type Controls } from './transform';

const c = (over: Partial<Controls>): Controls => ({ ...emptyControls, ...over });

describe('buildTransformation', () => {
  it('is empty when no control is set', () => {
    expect(buildTransformation(emptyControls)).toEqual({ tr: '', errors: {} });
  });

  it('builds w-300 from the width control', () => {
    expect(buildTransformation(c({ width: '300' })).tr).toBe('w-300');
  });

  it('writes parameters in the edge canonical order, whatever order they were set in', () => {
    const r = buildTransformation(
      c({ rotation: '90', quality: '70', height: '200', width: '300', format: 'webp', crop: 'at_max', focus: 'top_left', blur: '5', radius: 'max', grayscale: true, contrast: true, sharpen: true }),
    );
    expect(r.errors).toEqual({});
    expect(r.tr).toBe('w-300,h-200,c-at_max,fo-top_left,q-70,f-webp,r-max,rt-90,bl-5,e-grayscale,e-sharpen,e-contrast');
  });

  it('writes negative rotation with N, and accepts N as typed', () => {
    expect(buildTransformation(c({ rotation: '-90' })).tr).toBe('rt-N90');
    expect(buildTransformation(c({ rotation: 'N45' })).tr).toBe('rt-N45');
    expect(buildTransformation(c({ rotation: 'auto' })).tr).toBe('rt-auto');
  });

  it('takes fractions, aspect ratios, dpr, colours and flags', () => {
    expect(buildTransformation(c({ width: '0.5', aspectRatio: '16:9', dpr: '2', background: '#ff0000', flip: 'h_v', trim: true, progressive: true, lossless: true, named: 'thumb' })).tr).toBe(
      'w-0.5,ar-16-9,dpr-2,bg-FF0000,fl-h_v,t-true,n-thumb,pr-true,lo-true',
    );
    expect(buildTransformation(c({ background: 'Red' })).tr).toBe('bg-red');
    expect(buildTransformation(c({ aspectRatio: '4-3', cropMode: 'pad_resize' })).tr).toBe('ar-4-3,cm-pad_resize');
  });

  it('ignores blank and whitespace-only values', () => {
    expect(buildTransformation(c({ width: '  ', quality: '' })).tr).toBe('');
    expect(buildTransformation(c({ width: ' 300 ' })).tr).toBe('w-300');
  });

  it('names every control whose value the edge would refuse, and leaves it out', () => {
    const r = buildTransformation(
      c({ width: '300', height: '1.5', quality: '101', blur: '0', rotation: '400', radius: '-1', dpr: '9', background: 'zz', aspectRatio: '16x9', named: 'a b' }),
    );
    expect(r.tr).toBe('w-300');
    expect(Object.keys(r.errors).sort()).toEqual(['aspectRatio', 'background', 'blur', 'dpr', 'height', 'named', 'quality', 'radius', 'rotation'].sort());
    expect(buildTransformation(c({ width: '70000' })).errors.width).toMatch(/65535/);
    expect(buildTransformation(c({ width: 'abc' })).errors.width).toBeTruthy();
    expect(buildTransformation(c({ width: '0' })).errors.width).toBeTruthy();
  });
});

describe('overlays', () => {
  it('builds an image and a text layer as ImageKit writes them, after the step', () => {
    const r = buildTransformation(
      c({ width: '400', imageOverlay: '/brand/logo.png', imageOverlayWidth: '80', textOverlay: 'Hello World', textSize: '30', textColor: '#ffffff', overlayPosition: 'bottom_right' }),
    );
    expect(r.errors).toEqual({});
    expect(r.tr).toBe('w-400,l-image,i-brand@@logo.png,lfo-bottom_right,w-80,l-end,l-text,i-Hello%20World,lfo-bottom_right,fs-30,co-FFFFFF,l-end');
  });

  it('writes text and paths the grammar would misread in base64 (ie-)', () => {
    expect(buildTransformation(c({ textOverlay: 'a,b:c' })).tr).toBe(`l-text,ie-${encodeURIComponent(btoa('a,b:c'))},l-end`);
    const hindi = buildTransformation(c({ textOverlay: 'नमस्ते' })).tr;
    expect(hindi).toMatch(/^l-text,ie-[A-Za-z0-9%]+,l-end$/);
    expect(buildTransformation(c({ imageOverlay: 'a,b.png' })).tr).toMatch(/^l-image,ie-/);
  });

  it('offers face focus, and not as an overlay position', () => {
    expect(buildTransformation(c({ width: '200', height: '200', focus: 'face' })).tr).toBe('w-200,h-200,fo-face');
    expect(parseTransformation('w-200,h-200,fo-face')!.focus).toBe('face');
    expect(buildTransformation(c({ textOverlay: 'x', overlayPosition: 'face' })).errors.overlayPosition).toBeTruthy();
  });

  it('names the overlay controls the edge would refuse', () => {
    const r = buildTransformation(c({ textOverlay: 'x'.repeat(1001), imageOverlay: 'a.png', imageOverlayWidth: '0', overlayPosition: 'auto' }));
    expect(Object.keys(r.errors).sort()).toEqual(['imageOverlayWidth', 'overlayPosition', 'textOverlay']);
    expect(buildTransformation(c({ textOverlay: 'x', textSize: '0', textColor: 'zz9' })).errors).toEqual({ textSize: expect.any(String), textColor: expect.any(String) });
  });

  it('reads the layers it builds back into controls', () => {
    for (const over of [
      { width: '400', imageOverlay: 'brand/logo.png', imageOverlayWidth: '80', textOverlay: 'Hello World', textSize: '30', textColor: 'FFFFFF', overlayPosition: 'top_left' },
      { textOverlay: 'नमस्ते, world: 1' },
      { imageOverlay: 'a,b.png' },
    ]) {
      const tr = buildTransformation(c(over)).tr;
      const parsed = parseTransformation(tr);
      expect(parsed).not.toBeNull();
      expect(buildTransformation(parsed!).tr).toBe(tr);
    }
    expect(parseTransformation('l-text,i-x,lx-5,l-end')).toBeNull(); // a position the controls do not hold
    expect(parseTransformation('l-image,i-a.png,fs-5,l-end')).toBeNull();
    expect(parseTransformation('l-text,i-x')).toBeNull();
  });
});

describe('parseTransformation', () => {
  it('reads a single step of known parameters back into controls', () => {
    const parsed = parseTransformation('w-300,h-200,rt-N90,f-jpeg,e-grayscale');
    expect(parsed).not.toBeNull();
    expect(parsed!.width).toBe('300');
    expect(parsed!.rotation).toBe('-90');
    expect(parsed!.format).toBe('jpg');
    expect(parsed!.grayscale).toBe(true);
    expect(buildTransformation(parsed!).tr).toBe('w-300,h-200,f-jpg,rt-N90,e-grayscale');
  });

  it('round-trips whatever the controls build', () => {
    const tr = 'w-0.5,h-200,ar-16-9,c-force,fo-auto,q-60,f-png,dpr-1.5,bg-00FF0080,r-20,rt-auto,fl-v,bl-10,t-true,n-x,pr-true,lo-true,e-sharpen';
    expect(buildTransformation(parseTransformation(tr)!).tr).toBe(tr);
    expect(parseTransformation('tr:w-10')!.width).toBe('10');
    expect(parseTransformation('')).toEqual(emptyControls);
  });

  it('refuses chains, unknown parameters and values the controls cannot hold', () => {
    expect(parseTransformation('w-300:rt-90')).toBeNull();
    expect(parseTransformation('w-300,l-text')).toBeNull();
    expect(parseTransformation('e-usm-1-1-1-1')).toBeNull();
    expect(parseTransformation('w-abc')).toBeNull();
    expect(parseTransformation('w')).toBeNull();
  });
});
