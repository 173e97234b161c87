/// How a ``Queue``'s items travel between processes.
public enum QueueTransport: String, Sendable, Codable, CaseIterable {
  /// `Codable` messages through a pipe, encoded and decoded: any item type.
  case pipe
  /// `BitwiseCopyable` values copied into typed slots of a ring in shared memory.
  case ring
}
