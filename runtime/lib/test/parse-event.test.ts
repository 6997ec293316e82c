import { describe, expect, it } from 'vitest';
import { parseEvent } from '../storage/bus.ts';

describe('parseEvent', () => {
  it('accepts an object with a string id and names what is wrong with anything else', () => {
    expect(parseEvent('{"id":"e1","n":1}')).toEqual({ event: { id: 'e1', n: 1 } });
    expect(parseEvent('null')).toEqual({ reason: 'the message is JSON null, not an event object' });
    expect(parseEvent('[1]')).toEqual({ reason: 'the message is JSON array, not an event object' });
    expect(parseEvent('42')).toEqual({ reason: 'the message is JSON number, not an event object' });
    expect(parseEvent('not json')).toEqual({ reason: 'the message is not JSON' });
    expect(parseEvent('{"id":7}')).toEqual({ reason: 'the event has no string id' });
  });
});
