import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { clientKey } from './auth-failures';

describe('clientKey', () => {
  it('counts an IPv4 address by itself, also when written IPv4-mapped', () => {
    assert.equal(clientKey('203.0.113.7'), 'ip:203.0.113.7');
    assert.equal(clientKey('::ffff:203.0.113.7'), 'ip:203.0.113.7');
    assert.equal(clientKey('::FFFF:203.0.113.7'), 'ip:203.0.113.7');
    assert.notEqual(clientKey('203.0.113.7'), clientKey('203.0.113.8'));
  });

  it('counts an IPv6 address by its /64, however it is written', () => {
    const key = clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    assert.equal(key, 'ip6:2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2::1', '2001:0db8:0001:0002:0:0:0:ffff', '2001:DB8:1:2::abcd%eth0', '2001:db8:1:2:0:0:1.2.3.4']) assert.equal(clientKey(same), key, same);
    assert.notEqual(clientKey('2001:db8:1:3::1'), key);
    assert.equal(clientKey('::1'), 'ip6:0:0:0:0::/64');
    assert.equal(clientKey('fe80::1'), 'ip6:fe80:0:0:0::/64');
  });

  it('puts requests whose address is unknown together', () => {
    assert.equal(clientKey(undefined), 'ip:unknown');
    assert.equal(clientKey(''), 'ip:unknown');
  });
});
