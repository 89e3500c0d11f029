// @vitest-environment jsdom
import { useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { buildTransformation, emptyControls, type Controls } from '../lib/transform';
import { buildImageUrl } from '../lib/imageUrl';
import { TransformControls } from './TransformControls';

afterEach(cleanup);

/** The controls wired as the builder wires them, showing the URL they make. */
function Harness() {
  const [c, setC] = useState<Controls>(emptyControls);
  const { tr, errors } = buildTransformation(c);
  return (
    <>
      <TransformControls value={c} onChange={setC} errors={errors} />
      <output data-testid="url">{buildImageUrl('http://edge.test/acme', 'a.jpg', tr, 'path')}</output>
    </>
  );
}

describe('TransformControls', () => {
  it('labels every control', () => {
    render(<Harness />);
    for (const label of ['Width (w)', 'Height (h)', 'Crop (c)', 'Crop mode (cm)', 'Focus (fo)', 'Format (f)', 'Quality (q)', 'Blur (bl)', 'Rotation (rt)', 'Corner radius (r)', 'Grayscale (e-grayscale)']) {
      expect(screen.getByLabelText(label)).toBeTruthy();
    }
  });

  it('turns typed values and choices into the transformation', () => {
    render(<Harness />);
    fireEvent.change(screen.getByLabelText('Width (w)'), { target: { value: '300' } });
    expect(screen.getByTestId('url').textContent).toBe('http://edge.test/acme/tr:w-300/a.jpg');
    fireEvent.change(screen.getByLabelText('Format (f)'), { target: { value: 'webp' } });
    fireEvent.change(screen.getByLabelText('Focus (fo)'), { target: { value: 'top' } });
    fireEvent.change(screen.getByLabelText('Rotation (rt)'), { target: { value: '-90' } });
    fireEvent.click(screen.getByLabelText('Grayscale (e-grayscale)'));
    expect(screen.getByTestId('url').textContent).toBe('http://edge.test/acme/tr:w-300,fo-top,f-webp,rt-N90,e-grayscale/a.jpg');
    fireEvent.click(screen.getByLabelText('Grayscale (e-grayscale)'));
    fireEvent.change(screen.getByLabelText('Width (w)'), { target: { value: '' } });
    expect(screen.getByTestId('url').textContent).toBe('http://edge.test/acme/tr:fo-top,f-webp,rt-N90/a.jpg');
  });

  it('shows an error next to a bad value, tied to its input', () => {
    render(<Harness />);
    const q = screen.getByLabelText('Quality (q)');
    fireEvent.change(q, { target: { value: '150' } });
    expect(q.getAttribute('aria-invalid')).toBe('true');
    const errId = q.getAttribute('aria-describedby')!.split(' ').find((id) => id.endsWith('-error'))!;
    expect(document.getElementById(errId)!.textContent).toMatch(/1 to 100/);
    expect(screen.getByTestId('url').textContent).toBe('http://edge.test/acme/a.jpg');
    fireEvent.change(q, { target: { value: '60' } });
    expect(q.getAttribute('aria-invalid')).toBeNull();
    expect(screen.getByTestId('url').textContent).toBe('http://edge.test/acme/tr:q-60/a.jpg');
  });
});
