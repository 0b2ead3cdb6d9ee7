/**
 * Reply credit: the answers a connection may send the peers that signalled
 * it without paying for them. Each signal a peer relays to the connection
 * (and pays for) earns one credit towards that peer; a signal the connection
 * sends to a peer it holds credit for spends one and costs its sender no
 * token: the token of the signal it answers paid for it. So a tab that
 * answers every offer (a `bye` for each one it declines) is never rate
 * limited, let alone closed, by the offers: whoever sends them pays. An
 * answer earns no credit back (the hub relays it with earnsCredit false),
 * so two peers cannot signal each other for nothing, and the server relays
 * at most two messages per token.
 *
 * Bounded per peer (perPeer), in peers (the oldest entry is forgotten
 * first) and in time (ttlMs after the last signal that earned it).
 */

export interface ReplyCreditLimits {
  /** Most credits towards one peer (0: no credit at all). */
  readonly perPeer: number;
  /** Most peers credit is held towards at once. */
  readonly peers: number;
  /** How long credit lasts after the signal that last earned it. */
  readonly ttlMs: number;
}

interface Credit {
  count: number;
  expiresAt: number;
}

export class ReplyCredit {
  /** By peer ID, oldest first (the order entries were made in); made with the first credit (most connections earn none). */
  private credits: Map<string, Credit> | undefined;

  constructor(private readonly limits: ReplyCreditLimits) {}

  /** True when no credit is held (every frame is then charged to its sender before it is parsed). */
  get empty(): boolean {
    return this.peers === 0;
  }

  get peers(): number {
    return this.credits?.size ?? 0;
  }

  /** `from` relayed us a signal it paid for: one more answer to it is paid for. */
  earn(from: string, now: number): void {
    if (this.limits.perPeer <= 0) return;
    const credits = (this.credits ??= new Map<string, Credit>());
    const held = credits.get(from);
    // Updated in place: this runs on every relay, so it allocates nothing for a peer already held.
    if (held !== undefined && held.expiresAt > now) {
      held.count = Math.min(this.limits.perPeer, held.count + 1);
      held.expiresAt = now + this.limits.ttlMs;
      return;
    }
    credits.delete(from);
    if (credits.size >= this.limits.peers) this.forgetOldest(credits);
    credits.set(from, { count: 1, expiresAt: now + this.limits.ttlMs });
  }

  /** Spend one credit towards `to`; false when none is held (or it has expired). */
  spend(to: string, now: number): boolean {
    const held = this.credits?.get(to);
    if (held === undefined) return false;
    if (held.expiresAt <= now) {
      this.credits?.delete(to);
      return false;
    }
    held.count--;
    if (held.count === 0) this.credits?.delete(to);
    return true;
  }

  private forgetOldest(credits: Map<string, Credit>): void {
    for (const key of credits.keys()) {
      credits.delete(key);
      return;
    }
  }
}
