import type { EvaluationRecord } from '@fathom/database';
import type { Principal } from '../auth/principal';

/** Who asks: the key, and whether it has models:admin (which sees every run). */
export type Caller = Pick<Principal, 'keyId' | 'scopes'>;

export function isAdmin(principal: Caller): boolean {
  return principal.scopes.includes('models:admin');
}

/** A key sees the runs it started; models:admin sees every run. */
export function mayRead(principal: Caller, record: Pick<EvaluationRecord, 'createdBy'>): boolean {
  return isAdmin(principal) || record.createdBy === principal.keyId;
}
