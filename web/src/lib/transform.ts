// Transformation controls ↔ ImageKit/Pictor transformation strings
// (DESIGN §3). The builder turns control values into one step, with the
// parameters in the same canonical order the edge uses for its cache key,
// and checks each value against the same limits the edge enforces, so the
// dashboard never builds a URL the edge would answer 400.

export interface Controls {
  width: string;
  height: string;
  aspectRatio: string; // "4:3" or "4-3"
  crop: string; // c-
  cropMode: string; // cm-
  focus: string; // fo-
  quality: string; // q-
  format: string; // f-
  dpr: string;
  background: string; // bg-: RRGGBB, RRGGBBAA or a colour name
  radius: string; // r-: pixels or "max"
  rotation: string; // rt-: degrees (negative allowed) or "auto"
  flip: string; // fl-
  blur: string; // bl-
  trim: boolean; // t-true
  named: string; // n-
  progressive: boolean; // pr-true
  lossless: boolean; // lo-true
  grayscale: boolean; // e-grayscale
  sharpen: boolean; // e-sharpen
  contrast: boolean; // e-contrast
  // Layers (drawn in this order, after the step's other parameters).
  imageOverlay: string; // l-image,i-: a path on the same URL-endpoint
  imageOverlayWidth: string; // the image layer's w-
  textOverlay: string; // l-text: the text
  textSize: string; // fs-
  textColor: string; // co-
  overlayPosition: string; // lfo- of both layers
}

export type ControlName = keyof Controls;
export type ControlErrors = Partial<Record<ControlName, string>>;

export const emptyControls: Controls = {
  width: '',
  height: '',
  aspectRatio: '',
  crop: '',
  cropMode: '',
  focus: '',
  quality: '',
  format: '',
  dpr: '',
  background: '',
  radius: '',
  rotation: '',
  flip: '',
  blur: '',
  trim: false,
  named: '',
  progressive: false,
  lossless: false,
  grayscale: false,
  sharpen: false,
  contrast: false,
  imageOverlay: '',
  imageOverlayWidth: '',
  textOverlay: '',
  textSize: '',
  textColor: '',
  overlayPosition: '',
};

export const cropValues = ['maintain_ratio', 'force', 'at_max', 'at_max_enlarge', 'at_least'] as const;
export const cropModeValues = ['pad_resize', 'extract', 'pad_extract'] as const;
export const focusValues = [
  'center',
  'top',
  'left',
  'bottom',
  'right',
  'top_left',
  'top_right',
  'bottom_left',
  'bottom_right',
  'auto',
  'face',
] as const;
export const formatValues = ['auto', 'jpg', 'png', 'webp', 'avif', 'gif', 'orig'] as const;
export const flipValues = ['h', 'v', 'h_v'] as const;
export const overlayPositionValues = focusValues.filter((v) => v !== 'auto' && v !== 'face');

const MAX_SIDE = 65535;
const MAX_RADIUS = 10000;
const decimalRe = /^\d{1,6}(\.\d{1,6})?$|^\.\d{1,6}$/;
const intRe = /^-?\d{1,6}$/;
const nameRe = /^[A-Za-z0-9_-]{1,100}$/;
const hexColorRe = /^[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$/;
const colorNameRe = /^[a-z]{3,30}$/;

/** Formats a number the way the edge's canonical form does: no exponent, negative as N. */
function fmtNumber(n: number): string {
  const s = String(Math.abs(n));
  return n < 0 ? 'N' + s : s;
}

function checkSize(v: string): string | undefined {
  if (!decimalRe.test(v)) return 'pixels (1–65535) or a fraction between 0 and 1, e.g. 0.5';
  const f = Number(v);
  if (f <= 0) return 'must be more than 0';
  if (f >= 1 && !Number.isInteger(f)) return 'pixels must be a whole number';
  if (f > MAX_SIDE) return `at most ${MAX_SIDE} pixels`;
  return undefined;
}

function checkIntRange(v: string, lo: number, hi: number, what: string): string | undefined {
  if (!intRe.test(v) || Number(v) < lo || Number(v) > hi) return `${what} from ${lo} to ${hi}`;
  return undefined;
}

/** One parameter as it goes into the step, or an error for its control. */
type Part = { key: string; value: string } | { error: string } | null;

function part(c: Controls, name: ControlName): Part {
  const raw = c[name];
  if (typeof raw === 'boolean') {
    if (!raw) return null;
    switch (name) {
      case 'trim':
        return { key: 't', value: 'true' };
      case 'progressive':
        return { key: 'pr', value: 'true' };
      case 'lossless':
        return { key: 'lo', value: 'true' };
      case 'grayscale':
        return { key: 'e', value: 'grayscale' };
      case 'sharpen':
        return { key: 'e', value: 'sharpen' };
      case 'contrast':
        return { key: 'e', value: 'contrast' };
    }
    return null;
  }
  const v = raw.trim();
  if (v === '') return null;
  let err: string | undefined;
  switch (name) {
    case 'width':
    case 'height':
      err = checkSize(v);
      return err ? { error: err } : { key: name === 'width' ? 'w' : 'h', value: String(Number(v)) };
    case 'aspectRatio': {
      const m = /^(\d{1,6}(?:\.\d{1,6})?)\s*[:-]\s*(\d{1,6}(?:\.\d{1,6})?)$/.exec(v);
      if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) return { error: 'width:height, e.g. 16:9' };
      return { key: 'ar', value: `${Number(m[1])}-${Number(m[2])}` };
    }
    case 'crop':
      return (cropValues as readonly string[]).includes(v) ? { key: 'c', value: v } : { error: 'unknown crop strategy' };
    case 'cropMode':
      return (cropModeValues as readonly string[]).includes(v) ? { key: 'cm', value: v } : { error: 'unknown crop mode' };
    case 'focus':
      return (focusValues as readonly string[]).includes(v) ? { key: 'fo', value: v } : { error: 'unknown focus' };
    case 'quality':
      err = checkIntRange(v, 1, 100, 'a whole number');
      return err ? { error: err } : { key: 'q', value: String(Number(v)) };
    case 'format':
      return (formatValues as readonly string[]).includes(v) ? { key: 'f', value: v } : { error: 'unknown format' };
    case 'dpr':
      if (!decimalRe.test(v) || Number(v) < 0.1 || Number(v) > 5) return { error: 'a number from 0.1 to 5' };
      return { key: 'dpr', value: String(Number(v)) };
    case 'background': {
      const bg = v.replace(/^#/, '');
      if (hexColorRe.test(bg)) return { key: 'bg', value: bg.toUpperCase() };
      if (colorNameRe.test(bg.toLowerCase())) return { key: 'bg', value: bg.toLowerCase() };
      return { error: 'RRGGBB, RRGGBBAA or a colour name' };
    }
    case 'radius':
      if (v === 'max') return { key: 'r', value: 'max' };
      err = checkIntRange(v, 1, MAX_RADIUS, '"max" or a whole number');
      return err ? { error: err } : { key: 'r', value: String(Number(v)) };
    case 'rotation':
      if (v === 'auto') return { key: 'rt', value: 'auto' };
      err = checkIntRange(v.replace(/^N/, '-'), -360, 360, '"auto" or whole degrees');
      return err ? { error: err } : { key: 'rt', value: fmtNumber(Number(v.replace(/^N/, '-'))) };
    case 'flip':
      return (flipValues as readonly string[]).includes(v) ? { key: 'fl', value: v } : { error: 'h, v or h_v' };
    case 'blur':
      err = checkIntRange(v, 1, 100, 'a whole number');
      return err ? { error: err } : { key: 'bl', value: String(Number(v)) };
    case 'named':
      return nameRe.test(v) ? { key: 'n', value: v } : { error: "letters, digits, '_' and '-'" };
  }
  return null;
}

// Layer inputs as ImageKit's SDKs write them: plain when simple, else
// base64 (ie-), so neither ',' nor ':' ever reads as grammar.
const simplePathRe = /^[A-Za-z0-9._\-/ ]+$/;
const simpleTextRe = /^[A-Za-z0-9._\- ]+$/;
const MAX_TEXT = 1000;

function base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
}

function unbase64(s: string): string | null {
  try {
    const bin = atob(decodeURIComponent(s));
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

function colour(v: string): string | undefined {
  const c = v.replace(/^#/, '');
  if (hexColorRe.test(c)) return c.toUpperCase();
  if (colorNameRe.test(c.toLowerCase())) return c.toLowerCase();
  return undefined;
}

/** The layers the controls describe, and the errors of their controls. */
function layers(c: Controls, errors: ControlErrors): string[] {
  const out: string[] = [];
  const pos = c.overlayPosition.trim();
  if (pos !== '' && !(overlayPositionValues as readonly string[]).includes(pos)) errors.overlayPosition = 'unknown position';
  const lfo = pos !== '' && !errors.overlayPosition ? [`lfo-${pos}`] : [];
  const img = c.imageOverlay.trim().replace(/^\/+/, '');
  if (img !== '') {
    const parts = ['l-image', simplePathRe.test(img) ? `i-${img.replace(/\//g, '@@')}` : `ie-${encodeURIComponent(base64(img))}`, ...lfo];
    const w = c.imageOverlayWidth.trim();
    if (w !== '') {
      const err = checkSize(w);
      if (err) errors.imageOverlayWidth = err;
      else parts.push(`w-${Number(w)}`);
    }
    out.push([...parts, 'l-end'].join(','));
  }
  const text = c.textOverlay;
  if (text.trim() !== '') {
    if ([...text].length > MAX_TEXT) {
      errors.textOverlay = `at most ${MAX_TEXT} characters`;
      return out;
    }
    const parts = ['l-text', simpleTextRe.test(text) ? `i-${encodeURIComponent(text)}` : `ie-${encodeURIComponent(base64(text))}`, ...lfo];
    const fs = c.textSize.trim();
    if (fs !== '') {
      const err = checkIntRange(fs, 1, 1000, 'a whole number');
      if (err) errors.textSize = err;
      else parts.push(`fs-${Number(fs)}`);
    }
    const co = c.textColor.trim();
    if (co !== '') {
      const v = colour(co);
      if (v === undefined) errors.textColor = 'RRGGBB, RRGGBBAA or a colour name';
      else parts.push(`co-${v}`);
    }
    out.push([...parts, 'l-end'].join(','));
  }
  return out;
}

/** The controls in the edge's canonical parameter order. */
const canonicalOrder: ControlName[] = [
  'width',
  'height',
  'aspectRatio',
  'crop',
  'cropMode',
  'focus',
  'quality',
  'format',
  'dpr',
  'background',
  'radius',
  'rotation',
  'flip',
  'blur',
  'trim',
  'named',
  'progressive',
  'lossless',
  'grayscale',
  'sharpen',
  'contrast',
];

export interface BuildResult {
  /** The transformation step, e.g. "w-300,h-200"; "" when no control is set. */
  tr: string;
  /** Per-control problems; when any is present, tr leaves that control out. */
  errors: ControlErrors;
}

/** Builds one transformation step from the controls. */
export function buildTransformation(c: Controls): BuildResult {
  const params: string[] = [];
  const errors: ControlErrors = {};
  for (const name of canonicalOrder) {
    const p = part(c, name);
    if (p === null) continue;
    if ('error' in p) {
      errors[name] = p.error;
      continue;
    }
    params.push(`${p.key}-${p.value}`);
  }
  params.push(...layers(c, errors));
  return { tr: params.join(','), errors };
}

/** Reads one layer the controls build ("l-…" to "l-end") into c; false when they could not have built it. */
function parseLayer(params: string[], c: Controls): boolean {
  const kind = params[0];
  for (const param of params.slice(1, -1)) {
    const dash = param.indexOf('-');
    const key = param.slice(0, dash);
    const value = param.slice(dash + 1);
    switch (key) {
      case 'i':
      case 'ie': {
        const v = key === 'ie' ? unbase64(value) : kind === 'l-text' ? decodeURIComponent(value) : value.replace(/@@/g, '/');
        if (v === null) return false;
        if (kind === 'l-text') c.textOverlay = v;
        else c.imageOverlay = v;
        break;
      }
      case 'lfo':
        c.overlayPosition = value;
        break;
      case 'w':
        if (kind !== 'l-image') return false;
        c.imageOverlayWidth = value;
        break;
      case 'fs':
      case 'co':
        if (kind !== 'l-text') return false;
        if (key === 'fs') c.textSize = value;
        else c.textColor = value;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Reads a transformation string back into controls, when it is a single
 * step made only of parameters the controls cover. Anything else (chained
 * steps, other parameters) returns null: it stays a hand-written string.
 */
export function parseTransformation(tr: string): Controls | null {
  const s = tr.trim().replace(/^tr:/, '');
  const c: Controls = { ...emptyControls };
  if (s === '') return c;
  if (s.includes(':')) return null;
  const all = s.split(',');
  for (let i = 0; i < all.length; i++) {
    const param = all[i];
    if (param === 'l-image' || param === 'l-text') {
      const end = all.indexOf('l-end', i);
      const done = param === 'l-image' ? c.imageOverlay : c.textOverlay;
      if (end < 0 || done !== '' || !parseLayer(all.slice(i, end + 1), c)) return null;
      i = end;
      continue;
    }
    const dash = param.indexOf('-');
    if (dash <= 0) return null;
    const key = param.slice(0, dash);
    const value = param.slice(dash + 1);
    switch (key) {
      case 'w':
        c.width = value;
        break;
      case 'h':
        c.height = value;
        break;
      case 'ar':
        c.aspectRatio = value.replace('-', ':');
        break;
      case 'c':
        c.crop = value;
        break;
      case 'cm':
        c.cropMode = value;
        break;
      case 'fo':
        c.focus = value;
        break;
      case 'q':
        c.quality = value;
        break;
      case 'f':
        c.format = value === 'jpeg' ? 'jpg' : value;
        break;
      case 'dpr':
        c.dpr = value;
        break;
      case 'bg':
        c.background = value;
        break;
      case 'r':
        c.radius = value;
        break;
      case 'rt':
        c.rotation = value.replace(/^N/, '-');
        break;
      case 'fl':
        c.flip = value === 'v_h' ? 'h_v' : value;
        break;
      case 'bl':
        c.blur = value;
        break;
      case 't':
        if (value !== 'true') return null;
        c.trim = true;
        break;
      case 'n':
        c.named = value;
        break;
      case 'pr':
      case 'lo':
        if (value !== 'true') return null;
        if (key === 'pr') c.progressive = true;
        else c.lossless = true;
        break;
      case 'e':
        if (value === 'grayscale') c.grayscale = true;
        else if (value === 'sharpen') c.sharpen = true;
        else if (value === 'contrast') c.contrast = true;
        else return null;
        break;
      default:
        return null;
    }
  }
  // Only a string the controls reproduce exactly counts as parsed.
  const rebuilt = buildTransformation(c);
  if (Object.keys(rebuilt.errors).length > 0) return null;
  return c;
}
