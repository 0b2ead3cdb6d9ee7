/**
 * Signature checks each neighbour may make us do on its behalf (VERIFY_RATE;
 * issue 15, item 8): the records in its membership messages (Neighbours) and
 * the broadcasts it forwards (Messages) draw on one budget per neighbour, so
 * one neighbour cannot take more than its share of the main thread, with
 * tweetnacl as much as with native Ed25519.
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import { NEIGHBOUR_BUDGETS_KEPT, VERIFY_BURST, VERIFY_BYTES_PER_CHECK, VERIFY_RATE } from '../../shared/limits.js';
import { KeyedBuckets, type Rate } from './budgets.js';

export type VerifyBudgets = KeyedBuckets<PeerId>;

export const DEFAULT_VERIFY_BUDGET: Rate = Object.freeze({ rate: VERIFY_RATE, burst: VERIFY_BURST });

/** A budget per neighbour; the bench switches it off with Infinity. */
export function verifyBudgets(limit: Rate = DEFAULT_VERIFY_BUDGET): VerifyBudgets {
  return new KeyedBuckets(limit, NEIGHBOUR_BUDGETS_KEPT);
}

/** What checking a signature over `bytes` costs: one check, plus one per VERIFY_BYTES_PER_CHECK hashed. */
export function verifyCost(bytes: number): number {
  return 1 + Math.floor(bytes / VERIFY_BYTES_PER_CHECK);
}
