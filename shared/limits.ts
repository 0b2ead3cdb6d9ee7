/**
 * Every protocol-level limit, with its reason. Server-only defaults live in
 * `signaling-server/defaults.ts`; both are listed in `docs/PROTOCOL.md`.
 * Changing a value here changes what peers accept from each other, so treat
 * it as a protocol change.
 */

/** The wire protocol version this code speaks. Every message carries it as `v`. */
export const PROTOCOL_VERSION = 1;
/** Versions this code can parse; anything else is answered with VERSION_UNSUPPORTED. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

// --- Identity ---------------------------------------------------------------

/** Human-readable prefix of every peer ID (bech32m HRP). */
export const PEER_ID_PREFIX = 'tm';
/** Length of a peer ID: 'tm' + '1' + 52 data characters + 6 checksum characters. */
export const PEER_ID_LENGTH = 61;
/** Ed25519 public key, seed and signature sizes (RFC 8032). */
export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

// --- Peer records -------------------------------------------------------------

/**
 * Hard cap on a signed record (canonical bytes plus the 64-byte signature).
 * Records travel in bootstrap samples and peer exchange by the dozen, so they
 * must stay small; 1 KiB leaves room for four endpoints and a display name.
 */
export const MAX_RECORD_BYTES = 1024;
/** Signaling endpoints one record may list. */
export const MAX_RECORD_ENDPOINTS = 4;
/** Longest endpoint URL, in bytes. */
export const MAX_ENDPOINT_BYTES = 256;
/** Longest network name, in bytes (ASCII only, see NETWORK_NAME_PATTERN). */
export const MAX_NETWORK_BYTES = 64;
/** Longest display name, in UTF-8 bytes. */
export const MAX_DISPLAY_NAME_BYTES = 64;
/**
 * How far a record's issue time may lie in the future, and how long after
 * expiry it is still accepted: tolerance for clocks that disagree.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Longest validity a record may claim (expiry minus issue time). */
export const MAX_RECORD_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** Validity a node gives its own record unless told otherwise. */
export const DEFAULT_RECORD_LIFETIME_MS = 24 * 60 * 60 * 1000;
/**
 * Network names: 1 to 64 of letters, digits, '.', '_', '~', '-' (URL-safe, so
 * a link can carry one in `?network=` unescaped).
 */
export const NETWORK_NAME_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

// --- Client <-> signaling server ---------------------------------------------

/**
 * Largest WebSocket frame a signaling server accepts by default (ws's own
 * default is 100 MiB, far too much for a public endpoint). Oversize closes 1009.
 */
export const MAX_SIGNALING_FRAME_BYTES = 64 * 1024;
/**
 * Largest opaque signal payload, in characters. A full non-trickle SDP offer
 * with candidates and a signature is under 10 KB; 32 KiB leaves headroom.
 */
export const MAX_SIGNAL_PAYLOAD_CHARS = 32 * 1024;
/** Bytes in a registration challenge nonce. */
export const CHALLENGE_NONCE_BYTES = 32;
/**
 * Requests a client may send right behind its registration answer, held by
 * the server until the answer is verified (so a tab's first offer need not
 * wait a round trip). More is a protocol error.
 */
export const MAX_HELD_DURING_REGISTRATION = 16;
/** Largest number of records in one bootstrap sample. */
export const MAX_SAMPLE_SIZE = 32;
/** Largest `ref` a client may attach to a request (fits in 32 bits). */
export const MAX_REF = 0xffffffff;
/** Longest server name in a challenge. */
export const MAX_SERVER_NAME_CHARS = 128;
/** Longest human-readable error message accepted from a server. */
export const MAX_ERROR_MESSAGE_CHARS = 512;
/**
 * TURN URLs in one set of credentials a server hands out. A deployment lists
 * a few (UDP, TCP and TLS on one or two hosts); each is a candidate the
 * browser gathers, so more would only slow every connection attempt.
 */
export const MAX_TURN_URLS = 8;
/**
 * STUN URLs a server announces in its challenge (docs/PROTOCOL.md): its own
 * responder's under one name, or a few of the operator's; as with TURN, each
 * is queried on every connection attempt.
 */
export const MAX_STUN_URLS = 8;
/** Longest STUN URL (`stun:` or `stuns:`, a host of at most 253 characters, a port). */
export const MAX_STUN_URL_CHARS = 272;
/** Longest TURN URL (`turn:` or `turns:`, host, port, `?transport=`). */
export const MAX_TURN_URL_CHARS = 256;
/**
 * Longest TURN username: `<unix expiry>:<peer ID>` is 11 + 1 + 61 characters
 * (coturn's REST-API form); 128 leaves room for other servers' forms.
 */
export const MAX_TURN_USERNAME_CHARS = 128;
/** Longest TURN password: base64 of an HMAC-SHA1 is 28 characters; 128 leaves room for other MACs. */
export const MAX_TURN_CREDENTIAL_CHARS = 128;
/** Longest validity a server may claim for TURN credentials (a day, as coturn's own docs suggest at most). */
export const MAX_TURN_TTL_MS = 24 * 60 * 60 * 1000;

// --- Peer <-> peer: signals ------------------------------------------------

/** Random bytes naming a connection attempt (and each side's nonce in it). */
export const SESSION_NONCE_BYTES = 16;
/** Largest SDP or candidate body in a signed signal. Data-channel-only SDPs are under 2 KB. */
export const MAX_SIGNAL_BODY_BYTES = 8 * 1024;
/** A signal is valid this long after it is made; older ones are dropped as stale. */
export const SIGNAL_TTL_MS = 60 * 1000;
/** Highest sequence number in one session (offer, answer and candidates number far fewer). */
export const MAX_SIGNAL_SEQ = 1000;

// --- Peer <-> peer: the data channel ---------------------------------------

/** Largest frame on a data channel (16 KiB: the size every browser delivers unsplit). */
export const MAX_CHANNEL_FRAME_BYTES = 16 * 1024;
/** Largest payload `send` accepts; larger is refused with PAYLOAD_TOO_LARGE. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest payload `broadcast` accepts: a broadcast is copied to every peer of the network. */
export const MAX_BROADCAST_BYTES = 1024 * 1024;
/** Messages one peer may have half-received at once before it is cut off. */
export const MAX_PARTIAL_MESSAGES_PER_PEER = 4;
/**
 * Hops a broadcast may travel by default. The active views' diameter at
 * 10,000 peers is about 9 and the first copy to arrive often came the long
 * way, so 8 reached only ~99.3% in the simulator; 16 reaches all at the same
 * cost (duplicates are dropped either way). See docs/MEMBERSHIP.md.
 */
export const DEFAULT_BROADCAST_HOPS = 16;
/** Hops a received broadcast may still claim; more is a protocol violation. */
export const MAX_BROADCAST_HOPS = 16;
/** Broadcast IDs remembered for deduplication (oldest forgotten first). */
export const BROADCAST_DEDUP_ENTRIES = 8192;
/**
 * Frames a link holds that arrive right behind the peer's channel
 * confirmation, while that confirmation's signature is still being checked.
 * The peer counts the channel as connected once it has checked ours, and may
 * start sending at once (records, membership); they are handled once ours is
 * checked too. More than this before then is a protocol violation.
 */
export const MAX_FRAMES_BEFORE_CONFIRMED = 64;
/** A channel quiet this long gets a keepalive frame. */
export const CHANNEL_KEEPALIVE_MS = 5_000;
/** A channel that brings nothing, not even a keepalive, for this long is closed as dead. */
export const CHANNEL_DEAD_AFTER_MS = 15_000;
/** Records in one peer-exchange message. */
export const MAX_RECORDS_PER_MESSAGE = 32;
/** Peer-exchange messages a peer may send: sustained rate per second, and burst. */
export const PEER_EXCHANGE_RATE = 0.2;
export const PEER_EXCHANGE_BURST = 3;

// --- Peer <-> peer: through the mesh ----------------------------------------

/** X25519 public key bytes for sealing (tweetnacl `box`). */
export const SEAL_KEY_BYTES = 32;
/** Random bytes naming one relayed frame, for deduplication along its way. */
export const RELAY_ID_BYTES = 16;
/**
 * Hops a relayed frame may travel along a route: a join walk's path is at
 * most ARWL + 1 = 7 peers long, so 8 lets every recorded route be followed.
 */
export const MAX_RELAY_TTL = 8;
/**
 * Hops a relayed frame with no route (or a broken one) may flood. A flood over
 * active views of 5 costs ~5·4^(ttl-1) messages: TTL 5 is ~1,700 at 10,000
 * peers and reaches a mesh of a few dozen tabs whole; TTL 6 would cost ~6,200
 * (the simulator's figures, docs/MEMBERSHIP.md). A flood is the last resort:
 * with a route or a server, neither floods.
 */
export const MESH_FLOOD_TTL = 5;
/** Peers named in a relayed frame's route or trail; at most one per hop. */
export const MAX_RELAY_PATH = MAX_RELAY_TTL;
/** Relayed frames one neighbour may send us: sustained rate per second, and burst. Over it they are dropped. */
export const RELAY_RATE = 20;
export const RELAY_BURST = 60;
/**
 * Relayed frames over a neighbour's budgets (RELAY_RATE, RELAY_PASS_RATE) that
 * it may send before it is cut off as a flooder. The allowance refills at
 * RELAY_DROP_REFILL_RATE (below), so the odd frame over a budget on a link
 * that lives for hours is forgiven, while a neighbour that keeps sending
 * over it runs out: honest forwarders keep under both budgets by
 * construction (RELAY_SEND_RATE, RELAY_PASS_SEND_RATE), so what runs out is
 * a flooder's. 100: a flooder at the full RELAY_RATE, all of it to pass on,
 * is cut within about 20 s.
 */
export const RELAY_DROP_ALLOWANCE = 100;
/** Membership messages (joins, walks, shuffles) one neighbour may send: sustained rate per second, and burst. */
export const MEMBERSHIP_RATE = 10;
export const MEMBERSHIP_BURST = 40;
/** Relay IDs remembered for deduplication (oldest forgotten first). */
export const RELAY_DEDUP_ENTRIES = 4096;
/** Hops a join or shuffle walk may claim, and peers its path may name (HyParView walks are ~6 long). */
export const MAX_WALK_HOPS = 16;
/** Largest payload `send` routes sealed through the mesh to a peer it has no channel to. */
export const MAX_ROUTED_MESSAGE_BYTES = 8 * 1024;
/** Wait for any answer to a signal sent through the mesh before trying the signaling server. */
export const MESH_SIGNAL_FALLBACK_MS = 3_000;
/**
 * With no server to fall back to, an attempt through the mesh that has heard
 * nothing is given up after this long, freeing its slot for a peer that can
 * be reached (a flood through a busy mesh can take seconds to be answered).
 */
export const MESH_SIGNAL_GIVE_UP_MS = 10_000;

// --- The peer cache (shared/peer-cache.ts; issue 15, item 7) ------------------
// After Bitcoin Core's addrman: tables of buckets placed by a keyed hash with a
// secret per-browser salt, test-before-evict for tried entries, and anchors.
// Keys are free, so nothing here counts on an attacker running out of peer IDs:
// what bounds it is time (connections that last), our own reachability tests,
// and shares of the cache it cannot write to at all.

/** Records cached per network (qp2p's bootstrap cache held the 200 most recent). */
export const MAX_CACHED_RECORDS = 200;
/**
 * Entries in one bucket of any table. Small buckets spread one source's
 * records thin: 8 gives the 200 entries 21 buckets (addrman's are 64 deep,
 * in tables of 65,536).
 */
export const PEER_CACHE_BUCKET_SLOTS = 8;
/**
 * Buckets of the tried table (peers we held a connection with for at least
 * MIN_TRIED_CONNECTION_MS): 12 × 8 = 96, about half the cache, since a
 * returning tab rejoins through them first. A tried peer's bucket is set by
 * the keyed hash of its ID alone, so an attacker cannot choose whose place it
 * contests.
 */
export const PEER_CACHE_TRIED_BUCKETS = 12;
/**
 * Entries reserved for records from a signaling server's sample: one whole
 * sample (MAX_SAMPLE_SIZE). Peers cannot write here, so however many keys an
 * attacker has, a tab keeps the server's last honest sample to rejoin through.
 */
export const PEER_CACHE_SERVER_SHARE = MAX_SAMPLE_SIZE;
/**
 * Buckets of the new table (records heard of from peers): the rest of the
 * cache, (200 − 96 − 32) / 8 = 9.
 */
export const PEER_CACHE_NEW_BUCKETS =
  (MAX_CACHED_RECORDS - PEER_CACHE_TRIED_BUCKETS * PEER_CACHE_BUCKET_SLOTS - PEER_CACHE_SERVER_SHARE) /
  PEER_CACHE_BUCKET_SLOTS;
/**
 * New-table buckets one introducer's records may land in (addrman maps a
 * source group to 64 of its 1,024): 2 of 9, so one introducer holds at most
 * 16 new entries and can displace only what shares those two buckets.
 */
export const PEER_CACHE_BUCKETS_PER_SOURCE = 2;
/**
 * How long a connection must last before its peer counts as tried (and its
 * signaling URLs may be learned). Honest neighbours stay for minutes to hours;
 * a minute outlives a join's churn (walks, evictions at
 * MEMBERSHIP_EVICTION_RATE) and two peer exchanges, and makes each tried entry
 * cost an attacker a minute of one of our few connection slots.
 */
export const MIN_TRIED_CONNECTION_MS = 60_000;
/**
 * Tried newcomers waiting while the incumbent of their full bucket is tested
 * (test-before-evict; addrman keeps 10). Beyond it, newcomers are refused and
 * counted: the node dials at most one test at a time, so a longer queue would
 * only wait out its timeout.
 */
export const MAX_PENDING_EVICTION_TESTS = 8;
/**
 * A reachability test not decided in this time is dropped in favour of the
 * incumbent (a tab offline cannot test, and must not evict for it). The node
 * starts one test per maintenance round (5 s) and a dial gives up after 20 s,
 * so 8 queued tests finish well within 5 minutes.
 */
export const EVICTION_TEST_TIMEOUT_MS = 5 * 60_000;
/**
 * Anchors: the longest-lived neighbours, saved with the cache and dialled
 * first on the next start, so a cache poisoned while the tab was away cannot
 * choose its first neighbours (Bitcoin Core keeps 2 anchor connections).
 */
export const PEER_CACHE_ANCHORS = 2;
/** Bytes of the cache's secret salt (the SipHash-2-4 key that places entries in buckets). */
export const PEER_CACHE_SALT_BYTES = 16;

// --- Membership (HyParView) ---
// Defaults from Leitão, Pereira, Rodrigues, "HyParView", DSN 2007, section 5,
// checked for Tabmesh by `npm run sim` (docs/MEMBERSHIP.md has the figures).

/**
 * Peers in the active view: the open, authenticated data channels a tab keeps
 * for the overlay. HyParView uses fanout + 1 with fanout ≈ ln(N): 5 serves
 * 10,000 peers. Default 5; a node never uses more than its maxConnections.
 */
export const DEFAULT_ACTIVE_VIEW = 5;
/**
 * Peers in the passive view: known but unconnected, the reserve promoted when
 * an active neighbour is lost. HyParView's k·(fanout + 1) with k = 6. Default 30
 * (drawn from and written back to the 200-record cache).
 */
export const DEFAULT_PASSIVE_VIEW = 30;
/** Active random walk length (ARWL): hops a forward-join travels before the joiner is taken into an active view. Default 6. */
export const DEFAULT_ACTIVE_WALK = 6;
/** Passive random walk length (PRWL): the hop (counting down from ARWL) at which the joiner is also put in a passive view. Default 3. */
export const DEFAULT_PASSIVE_WALK = 3;
/** Hops a shuffle walks before it is accepted. Default 6, like ARWL (walks that long mix the views well). */
export const DEFAULT_SHUFFLE_WALK = 6;
/** Active-view peers in a shuffle sample (HyParView's ka). Default 3. */
export const DEFAULT_SHUFFLE_ACTIVE = 3;
/** Passive-view peers in a shuffle sample (HyParView's kp). Default 4. */
export const DEFAULT_SHUFFLE_PASSIVE = 4;
/**
 * Largest walk TTL a received forward-join or shuffle may claim. Honest walks
 * start at ARWL or the shuffle walk (6); a larger claim only lengthens the work
 * a hostile peer can make the mesh do, so it is a protocol violation.
 */
export const MAX_MEMBERSHIP_WALK_TTL = 10;
/**
 * Peers named in one walk path, shuffle sample or reply route: capped like
 * peer exchange (MAX_RECORDS_PER_MESSAGE), so a message names a bounded set.
 */
export const MAX_MEMBERSHIP_IDS = MAX_RECORDS_PER_MESSAGE;
/**
 * How often a host calls Membership.tick(): one shuffle, a refill of the
 * active view and the expiry of stale handshakes. Default 5 s; the simulator's
 * round is one tick.
 */
export const MEMBERSHIP_TICK_MS = 5_000;
/**
 * An inbound link must send its first membership message (join or neighbour)
 * within this time, and a neighbour request or shuffle must be answered in it,
 * or it is given up. The message is sent the moment the channel is confirmed,
 * so 10 s is generous even over a slow relay.
 */
export const MEMBERSHIP_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * A connect the host has not resolved by then is forgotten (and its slot in the
 * active view freed); the host should have reported connectFailed long before.
 */
export const MEMBERSHIP_CONNECT_TIMEOUT_MS = 30_000;
/** Inbound links still waiting for their first membership message; more are refused (acceptsInbound). */
export const MAX_INBOUND_HANDSHAKES = 8;
/**
 * Evictions from a full active view (for a join, a high-priority neighbour
 * request or a forward-join that ends here), sustained per second and burst.
 * Honest churn evicts rarely; the bucket stops a flood of joins from cycling
 * out every honest neighbour. Over it, such requests are treated as low priority.
 */
export const MEMBERSHIP_EVICTION_RATE = 0.5;
export const MEMBERSHIP_EVICTION_BURST = 8;
/**
 * A node with fewer neighbours than this asks a new one with high priority
 * (which a full peer makes room for, within its eviction rate), not only a
 * node with none. Otherwise two nodes holding only each other (two tabs of
 * one browser that joined each other while the others were full, say) ask
 * full peers with low priority forever and stay an island (seen in the
 * twelve-tab mesh test: ~1 run in 5 never became one mesh). Default 2.
 */
export const MEMBERSHIP_HIGH_PRIORITY_BELOW = 2;
/**
 * A passive peer that refused our neighbour request is not asked again for this
 * long. One tick: right after a mass failure most survivors still count dead
 * neighbours and refuse, and a longer wait (30 s was tried) left isolated peers
 * with no one left to ask for several rounds (docs/MEMBERSHIP.md). Default 5 s.
 */
export const NEIGHBOUR_RETRY_MS = 5_000;

// --- A tab's defences (issue 15, the tab's items) ----------------------------
// What a tab spends on behalf of others (replies, forwarding, signature
// checks, memory) is bounded per party and charged to the party that asks
// for it. Each value below says why. docs/PROTOCOL.md ("Limits (mesh)") and
// docs/MEMBERSHIP.md list them.

/**
 * Replies (signed byes) to offers from peers this tab has never dealt with
 * (no link held, no channel confirmed): sustained per second, and burst. A
 * reply costs a signature and goes out under the tab's own rate at the
 * server (20/s, burst 100), so replies to whoever offers would let ten
 * strangers get the tab throttled or closed (issue 15, item 2). A tenth of
 * the server's burst leaves the tab's own signals all of their budget; past
 * it, offers from strangers are declined without a reply (the dialler's
 * timeout frees its slot) and, when nothing else would come of them, not
 * even verified.
 */
export const STRANGER_REPLY_RATE = 1;
export const STRANGER_REPLY_BURST = 10;
/** Peers a tab has had a confirmed channel with, remembered so that their offers are always answered. */
export const DEALT_WITH_PEERS = 256;

/**
 * Relayed frames one neighbour may send us that are not for us (so that we
 * must pass them on): sustained per second, and burst. Over it they are not
 * passed on and count against RELAY_DROP_ALLOWANCE. Below RELAY_RATE, so a
 * neighbour cannot make us forward all it may send; above
 * RELAY_PASS_SEND_RATE, what an honest forwarder sends, so jitter on the way
 * never makes an honest one look like a flooder.
 */
export const RELAY_PASS_RATE = 12;
export const RELAY_PASS_BURST = 40;
/** Refill of RELAY_DROP_ALLOWANCE per second: one frame over a budget forgiven per second of good behaviour. */
export const RELAY_DROP_REFILL_RATE = 1;
/**
 * Relayed frames we send one neighbour, our own and forwarded: sustained per
 * second, and burst. Four fifths of what it accepts (RELAY_RATE, RELAY_BURST),
 * so frames that left evenly and arrive bunched still fit. Over it a copy is
 * not sent (counted): a forwarder that passed on whatever came in got its
 * honest neighbours to cut it off when an attacker sent it floods at the
 * full rate on several links (issue 15, item 6).
 */
export const RELAY_SEND_RATE = 16;
export const RELAY_SEND_BURST = 48;
/**
 * Of those, frames that the neighbour must pass on (not addressed to it):
 * sustained per second, and burst; under its RELAY_PASS_RATE and
 * RELAY_PASS_BURST by the same margin.
 */
export const RELAY_PASS_SEND_RATE = 10;
export const RELAY_PASS_SEND_BURST = 32;
/**
 * Of RELAY_PASS_SEND_RATE to one neighbour, the share that routed frames
 * coming in from any one other neighbour may take: sustained per second, and
 * burst. A quarter of the rate, as a tab with a full active view passes on
 * what four neighbours send: so a neighbour that sends us frames along routes
 * takes at most its quarter of each onward link over time, and what the other
 * three route through us still goes on; half the burst, as honest signals come
 * in bursts (an offer and its candidates within a second) and rarely from all
 * four at once. Flood copies are bounded apart (RELAY_FLOOD_SEND_RATE).
 * Without these, three attacker links filled every onward link of the tab
 * they flooded, and the links beyond, until they were cut off.
 */
export const RELAY_PASS_SHARE_RATE = RELAY_PASS_SEND_RATE / 4;
export const RELAY_PASS_SHARE_BURST = RELAY_PASS_SEND_BURST / 2;
/**
 * Of RELAY_PASS_SEND_RATE to one neighbour, what may be flood copies (a frame
 * with no usable route, sent to every neighbour): sustained per second, and
 * burst. Every flood crosses nearly every link within its hops, so whatever
 * one link may carry is what the whole mesh carries; a flood is the last
 * resort (docs/MEMBERSHIP.md), and the rest of the budget stays for frames
 * that follow a route, so an attacker's floods cannot crowd them out. The
 * burst lets the tabs of a small mesh that lost its server flood their
 * attempts' first signals at once, and leaves a quarter of
 * RELAY_PASS_SEND_BURST to routed frames even then.
 */
export const RELAY_FLOOD_SEND_RATE = 4;
export const RELAY_FLOOD_SEND_BURST = 24;
/** Pairs of neighbours (from one, to another) whose shares are tracked: NEIGHBOUR_BUDGETS_KEPT squared, less than that in practice. */
export const RELAY_PASS_SHARES_KEPT = 4096;
/**
 * Relayed frames with one claimed sender that we pass on, over all links:
 * sustained per second, and burst. One attempt through the mesh is an offer
 * and a handful of candidates; a tab starting several at once stays within
 * the burst. The sender is not proven to forwarders, so an attacker can
 * spread its frames over many claimed senders: this keeps one sender's
 * frames (an honest one's flood, say) from taking every forwarder's share;
 * RELAY_PASS_RATE bounds the rest. Over it a frame is not passed on; nobody
 * is charged, as the neighbour may be forwarding it in good faith.
 */
export const RELAY_ORIGIN_RATE = 8;
export const RELAY_ORIGIN_BURST = 32;
/**
 * Claimed senders whose budgets are tracked (oldest forgotten first). A
 * forgotten sender starts again with a full burst, which is all an attacker
 * gains by claiming many; RELAY_PASS_RATE still bounds what it sends.
 */
export const RELAY_ORIGINS_TRACKED = 1024;
/**
 * Neighbours whose budgets (relay sends, signature checks) are kept, the
 * longest unused forgotten first: more than a tab's links (maxConnections
 * plus handshakes), so a neighbour whose link closes and opens again does
 * not find its budgets full again at once.
 */
export const NEIGHBOUR_BUDGETS_KEPT = 64;

/**
 * Signature checks one neighbour may make us do on its behalf, for the
 * records in its membership messages and the broadcasts it forwards:
 * sustained per second, and burst. With tweetnacl (the fallback where
 * the browser has no native Ed25519) one check costs ~5 ms, so a
 * neighbour can take at most ~5% of a core; a shuffle walk every tick brings
 * ~1.5 records per second per neighbour, and a sample is at most 8.
 * Over it, records are left out of the message and broadcast copies are
 * dropped (counted); nobody is cut off, as an honest forwarder may carry
 * others' traffic.
 */
export const VERIFY_RATE = 10;
export const VERIFY_BURST = 50;
/**
 * Payload bytes that count as one signature check in VERIFY_RATE: hashing
 * 1 MiB with tweetnacl costs ~50 ms, about nine checks, so a 1 MiB broadcast
 * costs nine.
 */
export const VERIFY_BYTES_PER_CHECK = 128 * 1024;
/**
 * Broadcasts one origin may make us verify, deliver and forward: sustained
 * per second, and burst. A broadcast reaches every peer of the network, so
 * even a few per second per origin is much; over it, copies are dropped
 * before their signature is checked. A node's own broadcast() holds to
 * BROADCAST_SEND_RATE (below), so honest origins are never dropped.
 */
export const BROADCAST_ORIGIN_RATE = 3;
export const BROADCAST_ORIGIN_BURST = 15;
/** Broadcasts a node sends itself: broadcast() rejects with RATE_LIMITED over it (under BROADCAST_ORIGIN_RATE and its burst, for jitter). */
export const BROADCAST_SEND_RATE = 2;
export const BROADCAST_SEND_BURST = 10;
/** Broadcast origins whose rates are tracked (oldest forgotten first). */
export const BROADCAST_ORIGINS_TRACKED = 1024;

/**
 * Bytes of half-received messages one link may announce at once. An honest
 * sender sends one message after another (PeerLink queues each whole), so
 * it never has more than one largest message in progress; over it is a
 * protocol violation. Before, four of MAX_MESSAGE_BYTES (64 MiB) per link.
 */
export const MAX_PARTIAL_BYTES_PER_PEER = MAX_MESSAGE_BYTES;
/**
 * A half-received message that makes no progress for this long is given up
 * and its link closed: an honest sender sends a message's chunks back to
 * back, and a link that brings nothing at all is closed as dead after
 * CHANNEL_DEAD_AFTER_MS anyway; one that keeps pinging while it holds a
 * message open is holding our memory on purpose.
 */
export const PARTIAL_MESSAGE_STALL_MS = 20_000;
/**
 * Bytes queued for one channel beyond which a broadcast copy we forward is
 * dropped rather than queued (counted). A channel that cannot take two of
 * the largest broadcasts is far behind, and a copy queued behind them only
 * grows memory; our own sends are queued regardless (the caller awaits them).
 */
export const MAX_FORWARD_QUEUE_BYTES = 2 * MAX_BROADCAST_BYTES;
/**
 * Peers whose signalling path a tab holds (oldest forgotten first). Paths
 * are kept for peers with a link only, which maxConnections bounds; this is
 * the backstop. Before, one entry per authenticated sender, dropped only when
 * a link closed (200,000 senders held 85 MiB).
 */
export const MAX_SIGNAL_PATHS = 256;
