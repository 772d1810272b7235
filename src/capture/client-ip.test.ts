import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { compileClientIpResolver } from './client-ip.js';

describe('compileClientIpResolver', () => {
  describe('without trusted proxies', () => {
    const resolve = compileClientIpResolver([]);

    it('takes the peer address', () => {
      assert.equal(resolve('198.51.100.7', undefined), '198.51.100.7');
      assert.equal(resolve('2001:db8::7', undefined), '2001:db8::7');
    });

    it('ignores X-Forwarded-For entirely', () => {
      assert.equal(resolve('198.51.100.7', '203.0.113.9'), '198.51.100.7');
      assert.equal(resolve('198.51.100.7', ['203.0.113.9', '192.0.2.1']), '198.51.100.7');
    });

    it('unmaps an IPv4-mapped IPv6 peer', () => {
      assert.equal(resolve('::ffff:1.2.3.4', undefined), '1.2.3.4');
    });

    it('leaves other IPv6 peers as they are', () => {
      assert.equal(resolve('::ffff:abcd', undefined), '::ffff:abcd');
      assert.equal(resolve('::1', undefined), '::1');
    });

    it('gives an empty address when the socket has none', () => {
      assert.equal(resolve(undefined, '203.0.113.9'), '');
    });
  });

  describe('with trusted proxies', () => {
    const resolve = compileClientIpResolver(['10.0.0.0/8', '192.0.2.10', 'fd00::/8']);

    it('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
      assert.equal(resolve('198.51.100.7', '203.0.113.9'), '198.51.100.7');
      assert.equal(resolve('198.51.100.7', '10.1.2.3'), '198.51.100.7');
      assert.equal(resolve('11.0.0.1', '203.0.113.9'), '11.0.0.1');
    });

    it('a trusted peer without X-Forwarded-For is the client', () => {
      assert.equal(resolve('10.1.2.3', undefined), '10.1.2.3');
    });

    it('a trusted peer hands over to the last X-Forwarded-For entry', () => {
      assert.equal(resolve('10.1.2.3', '203.0.113.9'), '203.0.113.9');
    });

    it('reads X-Forwarded-For from right to left, skipping trusted hops', () => {
      assert.equal(resolve('10.1.2.3', '198.51.100.1, 203.0.113.9, 10.9.9.9, 192.0.2.10'), '203.0.113.9');
    });

    it('never trusts what an untrusted hop claims about earlier hops', () => {
      // 203.0.113.9 is the first untrusted hop: whatever it wrote to its left is its own claim.
      assert.equal(resolve('10.1.2.3', '10.5.5.5, 203.0.113.9'), '203.0.113.9');
    });

    it('joins repeated X-Forwarded-For headers in order', () => {
      assert.equal(resolve('10.1.2.3', ['198.51.100.1, 203.0.113.9', '10.9.9.9']), '203.0.113.9');
      assert.equal(resolve('10.1.2.3', ['203.0.113.9', '198.51.100.1']), '198.51.100.1');
    });

    it('takes the leftmost address when every hop is trusted', () => {
      assert.equal(resolve('10.1.2.3', '10.0.0.1, 10.0.0.2, 192.0.2.10'), '10.0.0.1');
    });

    it('tolerates missing or extra spaces around entries', () => {
      assert.equal(resolve('10.1.2.3', '198.51.100.1,203.0.113.9 ,  10.9.9.9'), '203.0.113.9');
    });

    it('unmaps IPv4-mapped addresses in the peer and in the chain', () => {
      assert.equal(resolve('::ffff:10.1.2.3', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('10.1.2.3', '::ffff:203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('10.1.2.3', '203.0.113.9, ::ffff:10.9.9.9'), '203.0.113.9');
    });

    describe('fails closed on an entry that is not an address', () => {
      const cases: [string, string, string][] = [
        ['a name', 'attacker.example', '10.1.2.3'],
        ['an address with a port', '203.0.113.9:4711', '10.1.2.3'],
        ['a bracketed IPv6 address', '[2001:db8::1]', '10.1.2.3'],
        ['the word unknown', 'unknown', '10.1.2.3'],
        ['an empty header', '', '10.1.2.3'],
        ['an empty entry', '203.0.113.9,', '10.1.2.3'],
        ['script text', '<script>alert(1)</script>', '10.1.2.3'],
        ['an IPv4 address with a leading zero', '203.0.113.09', '10.1.2.3'],
        ['an address with a CIDR suffix', '203.0.113.9/32', '10.1.2.3'],
      ];
      for (const [label, header, expected] of cases) {
        it(`stops at ${label} and keeps the hop that handed it over`, () => {
          assert.equal(resolve('10.1.2.3', header), expected);
        });
      }

      it('stops at garbage behind trusted hops and keeps the last trusted hop', () => {
        assert.equal(resolve('10.1.2.3', '198.51.100.1, garbage, 10.9.9.9'), '10.9.9.9');
      });

      it('never reaches an address to the left of garbage', () => {
        assert.equal(resolve('10.1.2.3', '198.51.100.1, not-an-ip'), '10.1.2.3');
      });
    });

    it('matches IPv6 subnets and leaves other IPv6 addresses untrusted', () => {
      assert.equal(resolve('fd12:3456::1', '2001:db8::42'), '2001:db8::42');
      assert.equal(resolve('10.1.2.3', '2001:db8::42, fd12::9'), '2001:db8::42');
      assert.equal(resolve('fe80::1', '2001:db8::42'), 'fe80::1');
    });

    it('matches a single trusted address exactly, not its neighbours', () => {
      assert.equal(resolve('192.0.2.10', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('192.0.2.11', '203.0.113.9'), '192.0.2.11');
    });
  });

  describe('CIDR boundaries', () => {
    it('an IPv4 /24 includes its first and last address and nothing beyond', () => {
      const resolve = compileClientIpResolver(['192.0.2.0/24']);
      assert.equal(resolve('192.0.2.0', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('192.0.2.255', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('192.0.3.0', '203.0.113.9'), '192.0.3.0');
      assert.equal(resolve('192.0.1.255', '203.0.113.9'), '192.0.1.255');
    });

    it('an IPv6 /64 includes its range and nothing beyond', () => {
      const resolve = compileClientIpResolver(['2001:db8:1:2::/64']);
      assert.equal(resolve('2001:db8:1:2::1', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('2001:db8:1:2:ffff:ffff:ffff:ffff', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('2001:db8:1:3::1', '203.0.113.9'), '2001:db8:1:3::1');
    });

    it('a single IPv6 address is trusted by itself', () => {
      const resolve = compileClientIpResolver(['::1']);
      assert.equal(resolve('::1', '203.0.113.9'), '203.0.113.9');
      assert.equal(resolve('::2', '203.0.113.9'), '::2');
    });

    it('a trusted IPv4 proxy seen through an IPv4-mapped peer address is trusted', () => {
      const resolve = compileClientIpResolver(['127.0.0.1']);
      assert.equal(resolve('::ffff:127.0.0.1', '203.0.113.9'), '203.0.113.9');
    });
  });

  it('always answers an IP address taken from the peer or the chain, never arbitrary text', () => {
    const resolve = compileClientIpResolver(['10.0.0.0/8']);
    const hop = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('10.0.0.1'), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.constant('10.2.3.4')), fc.array(hop, { maxLength: 6 }), (peer, hops) => {
        const header = hops.join(', ');
        const client = resolve(peer, header);
        assert.notEqual(isIP(client), 0, `${client} is not an address`);
        const candidates = [peer, ...hops.map((h) => h.trim()).map((h) => (h.startsWith('::ffff:') && isIP(h.slice(7)) === 4 ? h.slice(7) : h))];
        assert.ok(candidates.includes(client));
      }),
      { numRuns: 1_000 },
    );
  });
});
