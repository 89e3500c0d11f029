import { useState, type FormEvent } from 'react';
import { ApiError, get, type Usage, type UsageDay } from '../lib/api';
import { addDays, formatBytes, formatNumber, utcDate } from '../lib/format';
import { useLoad, useTitle } from '../lib/hooks';
import { BarChart } from '../components/BarChart';
import { ErrorBox, Field, Loading, PageHeader } from '../components/ui';

/** Cache hit ratio of a day in %, or null when nothing was served from or missed the cache. */
export function hitRatio(d: Pick<UsageDay, 'hitsL1' | 'hitsL2' | 'misses'>): number | null {
  const lookups = d.hitsL1 + d.hitsL2 + d.misses;
  return lookups > 0 ? ((d.hitsL1 + d.hitsL2) / lookups) * 100 : null;
}

export function UsagePage() {
  useTitle('Usage');
  const today = new Date();
  // endDate is exclusive: the last 30 days up to and including today (UTC).
  const [range, setRange] = useState({ startDate: utcDate(addDays(today, -29)), endDate: utcDate(addDays(today, 1)) });
  const [draft, setDraft] = useState(range);
  const usage = useLoad(
    () => get<Usage>(`/v1/accounts/usage?startDate=${encodeURIComponent(range.startDate)}&endDate=${encodeURIComponent(range.endDate)}`),
    [range.startDate, range.endDate],
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setRange(draft);
  };
  const fieldError = (f: string) => (usage.error instanceof ApiError && usage.error.field === f ? usage.error.message : undefined);
  const general = usage.error instanceof ApiError && usage.error.field ? null : usage.error;
  const u = usage.data;
  const totalRatio = u ? hitRatio(u) : null;

  return (
    <div>
      <PageHeader title="Usage" />
      <p className="lead">Requests, bandwidth and cache hits the edges reported, per day (UTC). Edges report every few seconds.</p>
      <form onSubmit={submit} className="inline-form" noValidate>
        <Field label="From (UTC)" type="date" value={draft.startDate} onChange={(v) => setDraft((d) => ({ ...d, startDate: v }))} error={fieldError('startDate')} />
        <Field label="Until, not included (UTC)" type="date" value={draft.endDate} onChange={(v) => setDraft((d) => ({ ...d, endDate: v }))} error={fieldError('endDate')} />
        <button type="submit">Show</button>
      </form>
      {usage.loading && !u ? (
        <Loading what="Loading usage" />
      ) : general ? (
        <ErrorBox error={general} onRetry={usage.reload} title="Could not load usage" />
      ) : u ? (
        <>
          <dl className="totals">
            <div>
              <dt>Requests</dt>
              <dd>{formatNumber(u.requests)}</dd>
            </div>
            <div>
              <dt>Bandwidth</dt>
              <dd>{formatBytes(u.bandwidthBytes)}</dd>
            </div>
            <div>
              <dt>Cache hit ratio</dt>
              <dd>{totalRatio === null ? '—' : `${totalRatio.toFixed(1)}%`}</dd>
            </div>
            <div>
              <dt>Transforms</dt>
              <dd>{formatNumber(u.transforms)}</dd>
            </div>
            <div>
              <dt>Errors (4xx / 5xx)</dt>
              <dd>
                {formatNumber(u.status4xx)} / {formatNumber(u.status5xx)}
              </dd>
            </div>
          </dl>
          <BarChart title="Requests per day" bars={u.days.map((d) => ({ label: d.date, value: d.requests }))} format={formatNumber} />
          <BarChart title="Bandwidth per day" bars={u.days.map((d) => ({ label: d.date, value: d.bandwidthBytes }))} format={formatBytes} />
          <BarChart title="Cache hit ratio per day" bars={u.days.map((d) => ({ label: d.date, value: hitRatio(d) }))} format={(v) => `${v.toFixed(1)}%`} max={100} />
        </>
      ) : null}
    </div>
  );
}
