import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('reads events split anywhere across chunks, with ids, types and multi-line data', () => {
    const text = ': ping\n\nid: 7\nevent: build\ndata: {"to":"compiling"}\n\nid: 8\nevent: end\ndata: a\ndata: b\n\n';
    for (const size of [1, 2, 5, text.length]) {
      const p = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...p.feed(text.slice(i, i + size)));
      assert.deepEqual(events, [
        { id: '7', event: 'build', data: '{"to":"compiling"}' },
        { id: '8', event: 'end', data: 'a\nb' },
      ]);
      assert.equal(p.lastEventId, '8');
    }
  });

  it('accepts CRLF and CR line ends, even a CRLF split between chunks, and defaults the type to message', () => {
    const p = new SseParser();
    const events = [...p.feed('data: one\r'), ...p.feed('\n\r\n'), ...p.feed('data:two\r\r')];
    assert.deepEqual(events, [
      { id: null, event: 'message', data: 'one' },
      { id: null, event: 'message', data: 'two' },
    ]);
  });

  it('holds back an event until its blank line arrives', () => {
    const p = new SseParser();
    assert.deepEqual(p.feed('event: build\ndata: x\n'), []);
    assert.equal(p.feed('\n').length, 1);
  });
});
