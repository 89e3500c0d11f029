import { useId } from 'react';

export interface Bar {
  label: string; // x label, e.g. a date
  value: number | null; // null: no data for that bar
}

/** A plain SVG bar chart with a data table for screen readers and copying. */
export function BarChart(props: { title: string; bars: Bar[]; format: (v: number) => string; max?: number }) {
  const id = useId();
  const { bars, format } = props;
  const values = bars.map((b) => b.value ?? 0);
  const max = props.max ?? Math.max(1, ...values);
  const W = 640;
  const H = 180;
  const pad = { top: 10, right: 8, bottom: 22, left: 8 };
  const innerW = W - pad.left - pad.right;
  const innerH = H - pad.top - pad.bottom;
  const slot = bars.length ? innerW / bars.length : innerW;
  const barW = Math.max(1, slot * 0.75);
  const labelEvery = Math.max(1, Math.ceil(bars.length / 8));
  const total = values.reduce((a, b) => a + b, 0);
  // A ratio chart (fixed max) has data wherever a value exists, 0% included;
  // a count chart only where something was counted.
  const hasData = bars.some((b) => b.value !== null && (props.max !== undefined || b.value > 0));

  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>
        <strong>{props.title}</strong>
        <span className="muted"> — peak {format(Math.max(0, ...values))}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title ${id}-desc`}>
        <desc id={`${id}-desc`}>{!hasData ? 'No traffic in this range.' : props.max !== undefined ? `${bars.length} days.` : `${bars.length} days; total ${format(total)}.`}</desc>
        <line x1={pad.left} x2={W - pad.right} y1={pad.top + innerH} y2={pad.top + innerH} className="axis" />
        {bars.map((b, i) => {
          const h = b.value === null ? 0 : (b.value / max) * innerH;
          const x = pad.left + i * slot + (slot - barW) / 2;
          return (
            <g key={b.label}>
              <rect x={x} y={pad.top + innerH - h} width={barW} height={Math.max(0, h)} className="bar">
                <title>{`${b.label}: ${b.value === null ? 'no data' : format(b.value)}`}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={H - 6} textAnchor="middle" className="tick">
                  {b.label.slice(5)}
                </text>
              )}
            </g>
          );
        })}
        {!hasData && (
          <text x={W / 2} y={H / 2} textAnchor="middle" className="empty-text">
            No traffic in this range
          </text>
        )}
      </svg>
      <details>
        <summary>Show as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">{props.title}</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.label}>
                <td>{b.label}</td>
                <td>{b.value === null ? '—' : format(b.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
