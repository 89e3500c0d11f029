// @vitest-environment jsdom
import { useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { Origin } from '../lib/api';
import { OriginOrder, moveItem } from './OriginOrder';

afterEach(cleanup);

const origin = (id: string, name: string): Origin => ({
  id,
  name,
  type: 'WEB_FOLDER',
  baseUrl: `https://${id}.example.com`,
  forwardHostHeaderToOrigin: false,
  includeCanonicalHeader: false,
  baseUrlForCanonicalHeader: '',
});
const origins = [origin('a', 'Alpha'), origin('b', 'Bravo'), origin('c', 'Charlie')];

function Harness({ initial }: { initial: string[] }) {
  const [ids, setIds] = useState(initial);
  return (
    <>
      <OriginOrder origins={origins} value={ids} onChange={setIds} />
      <output data-testid="ids">{ids.join(',')}</output>
    </>
  );
}

const order = () => screen.getByTestId('ids').textContent;

describe('moveItem', () => {
  it('moves within bounds and leaves the list alone otherwise', () => {
    expect(moveItem([1, 2, 3], 0, 2)).toEqual([2, 3, 1]);
    expect(moveItem([1, 2, 3], 2, 0)).toEqual([3, 1, 2]);
    const l = [1, 2];
    expect(moveItem(l, 0, 5)).toBe(l);
    expect(moveItem(l, 1, 1)).toBe(l);
  });
});

describe('OriginOrder', () => {
  it('reorders with the move buttons, which are disabled at the ends', () => {
    render(<Harness initial={['a', 'b']} />);
    expect((screen.getByRole('button', { name: 'Move Alpha up' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole('button', { name: 'Move Bravo down' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Move Bravo up' }));
    expect(order()).toBe('b,a');
    fireEvent.click(screen.getByRole('button', { name: 'Move Bravo down' }));
    expect(order()).toBe('a,b');
  });

  it('reorders by drag and drop', () => {
    render(<Harness initial={['a', 'b', 'c']} />);
    const items = screen.getAllByTestId('origin-order-item');
    const data = new Map<string, string>();
    const dataTransfer = { setData: (k: string, v: string) => data.set(k, v), getData: (k: string) => data.get(k) ?? '', effectAllowed: '', dropEffect: '' };
    fireEvent.dragStart(items[2], { dataTransfer });
    fireEvent.dragOver(items[0], { dataTransfer });
    fireEvent.drop(items[0], { dataTransfer });
    expect(order()).toBe('c,a,b');
  });

  it('adds and removes origins', () => {
    render(<Harness initial={['a']} />);
    fireEvent.change(screen.getByLabelText('Add an origin'), { target: { value: 'c' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(order()).toBe('a,c');
    fireEvent.click(screen.getByRole('button', { name: 'Remove Alpha' }));
    expect(order()).toBe('c');
  });
});
