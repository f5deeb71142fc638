import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CallbackUrlError, checkCallbackUrl, isPrivateAddress } from './callback-url';

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
