/** The first byte of every data-channel frame (see docs/PROTOCOL.md §8). */
export const FrameType = {
  CONFIRM: 1,
  RECORDS: 2,
  MESSAGE_START: 3,
  MESSAGE_CHUNK: 4,
  PING: 5,
  /** A sealed signal or message on its way through the mesh (shared/protocol/mesh.ts). */
  RELAY: 6,
  /** A membership (HyParView) message to this neighbour (shared/protocol/mesh.ts). */
  MEMBERSHIP: 7,
} as const;
