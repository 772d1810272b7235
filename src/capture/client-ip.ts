import { BlockList, isIP } from 'node:net';

/**
 * QueryIpAddress (SPEC section 2): the peer address, unless the peer is a trusted proxy
 * (OMS_TRUSTED_PROXIES); then X-Forwarded-For is read from right to left and the first address that is
 * not a trusted proxy is the client. The matcher is compiled once at startup (as Fastify's
 * getTrustProxyFn). It fails closed: an entry that is not an IP address stops the walk, and the hop that
 * handed it over is taken as the client, so a forged or garbled header can never put an arbitrary string
 * in the record.
 */
export type ClientIpResolver = (peerAddress: string | undefined, forwardedFor: string | string[] | undefined) => string;

function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function compileClientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(bits), family);
  }
  const isTrusted = (address: string): boolean => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };

  if (trustedProxies.length === 0) {
    return (peer) => unmapIpv4(peer ?? '');
  }
  return (peerAddress, forwardedFor) => {
    let client = unmapIpv4(peerAddress ?? '');
    if (!isTrusted(client) || forwardedFor === undefined) return client;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapIpv4((hops[i] ?? '').trim());
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}
