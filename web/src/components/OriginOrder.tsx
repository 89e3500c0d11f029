import { useId, useState, type DragEvent } from 'react';
import type { Origin } from '../lib/api';
import { originSource } from '../lib/origin';

/** Moves the item at from to index to (both within bounds) and returns a new list. */
export function moveItem<T>(list: T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= list.length || to >= list.length) return list;
  const next = list.slice();
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item);
  return next;
}

/**
 * An endpoint's origin preference list: reorder with the Move up/down
 * buttons (keyboard) or by dragging, add and remove origins.
 */
export function OriginOrder(props: { origins: Origin[]; value: string[]; onChange: (ids: string[]) => void; error?: string }) {
  const { origins, value, onChange } = props;
  const [dragFrom, setDragFrom] = useState<number | null>(null);
  const [dropAt, setDropAt] = useState<number | null>(null);
  const [announce, setAnnounce] = useState('');
  const [toAdd, setToAdd] = useState('');
  const selectId = useId();
  const name = (id: string) => origins.find((o) => o.id === id)?.name ?? `unknown origin ${id}`;
  const available = origins.filter((o) => !value.includes(o.id));

  const move = (from: number, to: number) => {
    const next = moveItem(value, from, to);
    if (next !== value) {
      onChange(next);
      setAnnounce(`${name(value[from])} moved to position ${to + 1} of ${value.length}.`);
    }
  };

  const onDrop = (e: DragEvent, to: number) => {
    e.preventDefault();
    const from = dragFrom ?? Number(e.dataTransfer.getData('text/plain'));
    setDragFrom(null);
    setDropAt(null);
    if (Number.isInteger(from)) move(from, to);
  };

  return (
    <fieldset className="origin-order">
      <legend>Origins, in the order they are tried</legend>
      {value.length === 0 ? (
        <p className="muted">No origin: every image on this URL-endpoint answers 404 until you add one.</p>
      ) : (
        <ol>
          {value.map((id, i) => (
            <li
              key={id}
              draggable
              data-testid="origin-order-item"
              className={(dragFrom === i ? 'dragging ' : '') + (dropAt === i && dragFrom !== i ? 'drop-target' : '')}
              onDragStart={(e) => {
                setDragFrom(i);
                e.dataTransfer.effectAllowed = 'move';
                e.dataTransfer.setData('text/plain', String(i));
              }}
              onDragOver={(e) => {
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
                setDropAt(i);
              }}
              onDragLeave={() => setDropAt((d) => (d === i ? null : d))}
              onDrop={(e) => onDrop(e, i)}
              onDragEnd={() => {
                setDragFrom(null);
                setDropAt(null);
              }}
            >
              <span className="drag-handle" aria-hidden="true" title="Drag to reorder">
                ⠿
              </span>
              <span className="order-number">{i + 1}.</span>
              <span className="order-name">{name(id)}</span>
              <span className="order-actions">
                <button type="button" className="secondary small" onClick={() => move(i, i - 1)} disabled={i === 0} aria-label={`Move ${name(id)} up`}>
                  ↑ Up
                </button>
                <button type="button" className="secondary small" onClick={() => move(i, i + 1)} disabled={i === value.length - 1} aria-label={`Move ${name(id)} down`}>
                  ↓ Down
                </button>
                <button
                  type="button"
                  className="danger-outline small"
                  onClick={() => {
                    onChange(value.filter((x) => x !== id));
                    setAnnounce(`${name(id)} removed.`);
                  }}
                  aria-label={`Remove ${name(id)}`}
                >
                  Remove
                </button>
              </span>
            </li>
          ))}
        </ol>
      )}
      {available.length > 0 && (
        <div className="inline-form">
          <label htmlFor={selectId}>Add an origin</label>
          <select id={selectId} value={toAdd} onChange={(e) => setToAdd(e.target.value)}>
            <option value="">Choose…</option>
            {available.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name} ({originSource(o)})
              </option>
            ))}
          </select>
          <button
            type="button"
            className="secondary"
            disabled={!toAdd}
            onClick={() => {
              onChange([...value, toAdd]);
              setAnnounce(`${name(toAdd)} added at position ${value.length + 1}.`);
              setToAdd('');
            }}
          >
            Add
          </button>
        </div>
      )}
      {props.error && (
        <p className="field-error" role="alert">
          {props.error}
        </p>
      )}
      <p className="visually-hidden" aria-live="polite">
        {announce}
      </p>
    </fieldset>
  );
}
