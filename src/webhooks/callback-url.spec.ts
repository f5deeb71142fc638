import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { CallbackUrlError, checkCallbackUrl, embeddedIPv4, isPrivateAddress } from './callback-url';

describe('callback URLs', () => {
  it('tells private, loopback, link-local and reserved addresses from public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
      '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::a00:1', 'ff02::1', 'not-an-ip']) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
  });

  it('sees through the IPv6 forms that carry an IPv4 address: mapped, compatible, translated, 6to4, NAT64, Teredo', () => {
    // As URLs write them ([::127.0.0.1] is ::7f00:1) and as DNS answers them.
    for (const a of ['::7f00:1', '::127.0.0.1', '::a00:1', '::ffff:0:7f00:1', '::ffff:0:127.0.0.1', '::ffff:0:c0a8:101', '2002:7f00:1::1', '2002:a00:1::', '2002:c0a8:101:1::1', '2002:a9fe:a9fe::1',
      '64:ff9b::7f00:1', '64:ff9b::8.8.8.8', '2001:0:4136:e378:8000:63bf:80ff:fffe', '2001:0:7f00:1::1', '::', '::1', '0:0:0:0:0:ffff:7f00:1', '2002::1']) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    // The same forms of public addresses lead to public addresses.
    for (const a of ['::ffff:8.8.8.8', '::808:808', '::ffff:0:808:808', '2002:808:808::1', '2001:4860:4860::8888']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
    for (const [a, v4] of [['::7f00:1', ['127.0.0.1']], ['2002:c0a8:101::', ['192.168.1.1']], ['2001:0:4136:e378:8000:63bf:3fff:fdd2', ['65.54.227.120', '192.0.2.45']]] as const) {
      assert.deepEqual(embeddedIPv4(ipaddr.IPv6.parse(a)).addresses.map(String), v4, a);
    }
  });

  it('refuses malformed URLs and other schemes, with the reason', async () => {
    const refused = async (url: string, why: RegExp) => {
      await assert.rejects(checkCallbackUrl(url, true), (e: Error) => e instanceof CallbackUrlError && why.test(e.message));
    };
    await refused('not a url', /not a valid URL/);
    await refused('ftp://example.com/x', /must use http or https, not ftp/);
    await refused('file:///etc/passwd', /must use http or https, not file/);
    await refused('https://user:pw@example.com/', /user name or password/);
    await refused(`https://example.com/${'a'.repeat(2100)}`, /longer than 2048/);
  });

  it('refuses hosts that are or resolve to private addresses unless allowed', async () => {
    const lookup = async (host: string) => (host === 'internal.example' ? [{ address: '10.0.0.7', family: 4 }] : [{ address: '93.184.216.34', family: 4 }]);
    await assert.rejects(checkCallbackUrl('http://127.0.0.1:8080/hook', false, lookup), /"127.0.0.1" is a loopback, private/);
    await assert.rejects(checkCallbackUrl('http://[::1]/hook', false, lookup), /"::1" is a loopback, private/);
    for (const url of ['http://[::127.0.0.1]/', 'http://[::ffff:0:127.0.0.1]/', 'http://[2002:7f00:1::1]/', 'http://[64:ff9b::127.0.0.1]/']) {
      await assert.rejects(checkCallbackUrl(url, false, lookup), /is a loopback, private, link-local or reserved address/, url);
    }
    const sixToFour = async () => [{ address: '2002:a00:7::1', family: 6 }];
    await assert.rejects(checkCallbackUrl('https://tunnel.example/hook', false, sixToFour), /resolves to 2002:a00:7::1/);
    await assert.rejects(checkCallbackUrl('http://169.254.169.254/latest/meta-data', false, lookup), /link-local/);
    await assert.rejects(checkCallbackUrl('https://internal.example/hook', false, lookup), /resolves to 10.0.0.7/);
    await assert.rejects(
      checkCallbackUrl('https://nowhere.example/hook', false, async () => {
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      }),
      /does not resolve \(ENOTFOUND\)/,
    );
    assert.equal(await checkCallbackUrl('https://hooks.example.com/kiln?x=1', false, lookup), 'https://hooks.example.com/kiln?x=1');
    assert.equal(await checkCallbackUrl('http://127.0.0.1:8080/hook', true, lookup), 'http://127.0.0.1:8080/hook');
  });
});
