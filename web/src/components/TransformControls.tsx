import {
  cropModeValues,
  cropValues,
  flipValues,
  focusValues,
  formatValues,
  overlayPositionValues,
  type ControlErrors,
  type ControlName,
  type Controls,
} from '../lib/transform';
import { Checkbox, Field, Select } from './ui';

const opts = (values: readonly string[], none: string) => [{ value: '', label: none }, ...values.map((v) => ({ value: v, label: v }))];

/** The transformation controls of the URL builder. Values are strings as typed; buildTransformation checks them. */
export function TransformControls(props: { value: Controls; onChange: (c: Controls) => void; errors: ControlErrors }) {
  const { value, onChange, errors } = props;
  const text = (name: ControlName) => (v: string) => onChange({ ...value, [name]: v });
  const flag = (name: ControlName) => (v: boolean) => onChange({ ...value, [name]: v });
  const str = (name: ControlName) => value[name] as string;
  const bool = (name: ControlName) => value[name] as boolean;

  return (
    <div className="controls">
      <fieldset>
        <legend>Size and crop</legend>
        <div className="grid">
          <Field label="Width (w)" inputMode="decimal" value={str('width')} onChange={text('width')} error={errors.width} placeholder="e.g. 300 or 0.5" />
          <Field label="Height (h)" inputMode="decimal" value={str('height')} onChange={text('height')} error={errors.height} placeholder="e.g. 200" />
          <Field label="Aspect ratio (ar)" value={str('aspectRatio')} onChange={text('aspectRatio')} error={errors.aspectRatio} placeholder="e.g. 16:9" />
          <Field label="Device pixel ratio (dpr)" inputMode="decimal" value={str('dpr')} onChange={text('dpr')} error={errors.dpr} placeholder="0.1 – 5" />
          <Select label="Crop (c)" value={str('crop')} onChange={text('crop')} options={opts(cropValues, 'default (maintain_ratio)')} error={errors.crop} />
          <Select label="Crop mode (cm)" value={str('cropMode')} onChange={text('cropMode')} options={opts(cropModeValues, 'default (resize)')} error={errors.cropMode} />
          <Select label="Focus (fo)" value={str('focus')} onChange={text('focus')} options={opts(focusValues, 'default (center)')} error={errors.focus} />
        </div>
      </fieldset>
      <fieldset>
        <legend>Format and quality</legend>
        <div className="grid">
          <Select label="Format (f)" value={str('format')} onChange={text('format')} options={opts(formatValues, 'auto (WebP/AVIF when the browser takes it)')} error={errors.format} />
          <Field label="Quality (q)" inputMode="numeric" value={str('quality')} onChange={text('quality')} error={errors.quality} placeholder="1 – 100 (default 80)" />
          <Checkbox label="Progressive (pr)" checked={bool('progressive')} onChange={flag('progressive')} />
          <Checkbox label="Lossless (lo)" checked={bool('lossless')} onChange={flag('lossless')} />
        </div>
      </fieldset>
      <fieldset>
        <legend>Effects</legend>
        <div className="grid">
          <Field label="Blur (bl)" inputMode="numeric" value={str('blur')} onChange={text('blur')} error={errors.blur} placeholder="1 – 100" />
          <Field label="Rotation (rt)" value={str('rotation')} onChange={text('rotation')} error={errors.rotation} placeholder="degrees, e.g. 90 or -90, or auto" />
          <Field label="Corner radius (r)" value={str('radius')} onChange={text('radius')} error={errors.radius} placeholder="pixels or max" />
          <Field label="Background (bg)" value={str('background')} onChange={text('background')} error={errors.background} placeholder="RRGGBB or a colour name" />
          <Select label="Flip (fl)" value={str('flip')} onChange={text('flip')} options={opts(flipValues, 'none')} error={errors.flip} />
          <Field label="Named transformation (n)" value={str('named')} onChange={text('named')} error={errors.named} placeholder="e.g. thumbnail" />
          <Checkbox label="Grayscale (e-grayscale)" checked={bool('grayscale')} onChange={flag('grayscale')} />
          <Checkbox label="Sharpen (e-sharpen)" checked={bool('sharpen')} onChange={flag('sharpen')} />
          <Checkbox label="Contrast stretch (e-contrast)" checked={bool('contrast')} onChange={flag('contrast')} />
          <Checkbox label="Trim borders (t-true)" checked={bool('trim')} onChange={flag('trim')} />
        </div>
      </fieldset>
      <fieldset>
        <legend>Overlays (layers)</legend>
        <div className="grid">
          <Field label="Image overlay (l-image, i)" value={str('imageOverlay')} onChange={text('imageOverlay')} error={errors.imageOverlay} placeholder="a path on this endpoint, e.g. logo.png" />
          <Field label="Image overlay size (w)" inputMode="decimal" value={str('imageOverlayWidth')} onChange={text('imageOverlayWidth')} error={errors.imageOverlayWidth} placeholder="e.g. 100 or 0.2" />
          <Field label="Text overlay (l-text, i)" value={str('textOverlay')} onChange={text('textOverlay')} error={errors.textOverlay} placeholder="e.g. © Pictor" />
          <Field label="Font size (fs)" inputMode="numeric" value={str('textSize')} onChange={text('textSize')} error={errors.textSize} placeholder="default 14" />
          <Field label="Text colour (co)" value={str('textColor')} onChange={text('textColor')} error={errors.textColor} placeholder="RRGGBB or a colour name" />
          <Select label="Overlay position (lfo)" value={str('overlayPosition')} onChange={text('overlayPosition')} options={opts(overlayPositionValues, 'default (center)')} error={errors.overlayPosition} />
        </div>
      </fieldset>
    </div>
  );
}
