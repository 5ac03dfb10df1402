import { presentedKey } from './authenticator';

describe('the key a request presents', () => {
  const key = 'fth_abcdefghijklmnop_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

  it('is read from Authorization: Bearer (any case), else from X-API-Key', () => {
    expect(presentedKey({ authorization: `Bearer ${key}` })).toBe(key);
    expect(presentedKey({ authorization: `bearer  ${key} ` })).toBe(key);
    expect(presentedKey({ 'x-api-key': key })).toBe(key);
    expect(presentedKey({ authorization: `Bearer ${key}`, 'x-api-key': 'other' })).toBe(key);
  });

  it('is absent without either header, or with another Authorization scheme (so the route answers 401, not a lookup)', () => {
    expect(presentedKey({})).toBeUndefined();
    expect(presentedKey({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })).toBeUndefined();
    expect(presentedKey({ 'x-api-key': '' })).toBeUndefined();
  });
});
