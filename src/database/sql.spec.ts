import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { prepared, run } from './sql';

describe('prepared statements', () => {
  it('names a statement after its text, so one name never stands for two texts', () => {
    assert.equal(prepared('SELECT 1').name, prepared('SELECT 1').name);
    assert.notEqual(prepared('SELECT 1').name, prepared('SELECT 2').name);
    assert.match(prepared('SELECT 1').name, /^kiln_[0-9a-f]{24}$/);
  });

  it('hands node-postgres a named query and gives back the rows, also of an UPDATE ... RETURNING', async () => {
    const seen: unknown[] = [];
    const statement = prepared('UPDATE t SET x = $1 RETURNING x');
    const em = {
      query: async (query: unknown, params: unknown[]) => {
        seen.push(query, params);
        return [[{ x: 1 }], 1]; // TypeORM's answer to an UPDATE: [rows, rowCount]
      },
    };
    assert.deepEqual(await run(em as never, statement, [1]), [{ x: 1 }]);
    assert.deepEqual(seen, [{ name: statement.name, text: statement.text }, [1]]);
    const select = { query: async () => [{ a: 1 }, { a: 2 }] };
    assert.deepEqual(await run(select as never, prepared('SELECT a FROM t'), []), [{ a: 1 }, { a: 2 }]);
  });
});
