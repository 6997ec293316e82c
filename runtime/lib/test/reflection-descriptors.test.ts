import { describe, expect, it } from 'vitest';
import { protoJsonName } from '../reflection-descriptors.ts';

describe('protoJsonName (protoc ToJsonName)', () => {
  it('drops underscores and upper-cases the letter after one', () => {
    expect(protoJsonName('token_role')).toBe('tokenRole');
    expect(protoJsonName('content_id')).toBe('contentId');
    expect(protoJsonName('ts')).toBe('ts');
    expect(protoJsonName('foo__bar')).toBe('fooBar');
    expect(protoJsonName('field_1')).toBe('field1');
    expect(protoJsonName('already_Camel')).toBe('alreadyCamel');
  });
});
