import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isUnavailable } from './exception.filter';

describe('isUnavailable', () => {
  it('knows a dependency that is away from a bug', () => {
    assert.equal(isUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isUnavailable({ message: 'query failed', driverError: { code: '57P01', message: 'terminating connection due to administrator command' } }), true);
    assert.equal(isUnavailable({ message: 'x', driverError: { code: '08006' } }), true);
    assert.equal(isUnavailable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isUnavailable(new Error('Connection is closed.')), true);
    assert.equal(isUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')")), false);
    assert.equal(isUnavailable({ message: 'duplicate key', driverError: { code: '23505' } }), false);
  });
});
