import { SseParser, type SseEvent } from '../support/sse-client.js';

/** The SSE specs read streams with this parser: it follows the HTML standard's event stream interpretation. */
describe('the test SSE parser', () => {
  function parse(chunks: string[]): Array<Pick<SseEvent, 'event' | 'data' | 'id'>> {
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    chunks.forEach((chunk, i) => parser.push(chunk, i === chunks.length - 1));
    return events.map(({ event, data, id }) => ({ event, data, id }));
  }

  it('dispatches an event at the blank line, with its name, data and id', () => {
    expect(parse(['\n', 'event: session_end\nid: 3\ndata: {"reason":"session_closed"}\n\n'])).toEqual([
      { event: 'session_end', data: '{"reason":"session_closed"}', id: '3' },
    ]);
  });

  it('joins data lines with a newline, defaults the name to message, ignores comments and unknown fields', () => {
    expect(parse([': a comment\nretry: 10\nfoo: bar\ndata: one\ndata:two\n\n'])).toEqual([{ event: 'message', data: 'one\ntwo', id: '' }]);
  });

  it('handles CRLF and CR line ends, also split between chunks', () => {
    expect(parse(['event: a\r', '\ndata: 1\r\n\r', '\nevent: b\rdata: 2\r\r'])).toEqual([
      { event: 'a', data: '1', id: '' },
      { event: 'b', data: '2', id: '' },
    ]);
  });

  it('keeps one event split anywhere between chunks whole', () => {
    const text = 'event: tick\ndata: {"i":1}\n\nevent: tick\ndata: {"i":2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(parse([text.slice(0, cut), text.slice(cut)])).toEqual([
        { event: 'tick', data: '{"i":1}', id: '' },
        { event: 'tick', data: '{"i":2}', id: '' },
      ]);
    }
  });

  it('dispatches nothing for an event without data, nor for an unfinished event at the end', () => {
    expect(parse(['event: empty\n\n', 'event: late\ndata: x\n'])).toEqual([]);
  });
});
