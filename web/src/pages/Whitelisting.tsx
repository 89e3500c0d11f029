import { useSession } from '../components/session';
import { CopyButton, PageHeader } from '../components/ui';
import { useTitle } from '../lib/hooks';

export function WhitelistingPage() {
  useTitle('Whitelisting');
  const { config } = useSession();
  return (
    <div>
      <PageHeader title="Whitelisting" />
      <p className="lead">
        If a firewall or WAF protects your origin, let Pictor's edges through. Every request an edge sends to your origin carries a header you can match, and
        comes from the addresses below.
      </p>
      <section className="card" aria-labelledby="wl-header">
        <h2 id="wl-header">Request header</h2>
        <p>
          <code data-testid="req-from-header">{config.reqFromHeader}</code> <CopyButton text={config.reqFromHeader} />
        </p>
        <p className="muted">
          Edges also send <code>User-Agent: pictor-edge/…</code> and <code>Via: 1.1 pictor</code>. Anyone can send a header, so on its own it identifies Pictor
          but does not authenticate it; combine it with the addresses.
        </p>
      </section>
      <section className="card" aria-labelledby="wl-addresses">
        <h2 id="wl-addresses">Edge egress addresses</h2>
        {config.egressAddresses.length > 0 ? (
          <>
            <ul className="addresses" data-testid="egress-addresses">
              {config.egressAddresses.map((a) => (
                <li key={a}>
                  <code>{a}</code>
                </li>
              ))}
            </ul>
            <CopyButton text={config.egressAddresses.join('\n')} label="Copy all" />
          </>
        ) : (
          <p data-testid="egress-addresses">
            The operator of this Pictor has not published the edges' egress addresses (the control plane's <code>PICTOR_EDGE_EGRESS_ADDRESSES</code> setting is
            empty). Ask them for the addresses, or allow by the header above.
          </p>
        )}
      </section>
    </div>
  );
}
