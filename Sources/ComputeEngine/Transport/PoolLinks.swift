/// The pool's side of the links to all its workers, one per pool, made by its kernel: it
/// makes each new worker's channels, and is told when the pool's thread sleeps and when
/// callers collect results themselves, which a link whose workers wake the pool's thread
/// uses to ring only when needed.
///
/// ``SharedMemoryLinks`` (rings, a control block and a doorbell in shared memory) is what
/// pools use; ``PipeLinks`` (operating-system pipes only) is the second link, which shares no
/// memory with its workers and over which the pool's behavioural tests run too.
protocol PoolLinks<Input, Output>: AnyObject, Sendable {
  /// What the tasks carry.
  associatedtype Input
  /// What the results carry.
  associatedtype Output

  /// The channels to a new worker in `slot`, its status cleared.
  func makeChannels(slot: Int) throws -> any WorkerTransport<Input, Output>
  /// Says whether the pool's thread is asleep.
  func setDispatcherSleeping(_ sleeping: Bool)
  /// Counts a caller that starts (`1`) or stops (`-1`) collecting results itself.
  func addCollectors(_ delta: Int)
}

/// What a pool's links are made with.
struct PoolLinkSetup: Sendable {
  /// The pool's worker slots.
  var slots: Int
  /// The write end of the pool's doorbell, for workers that ring it.
  var doorbellFD: Int32
  /// Whether the workers are forked (and so inherit the doorbell's descriptor).
  var forked: Bool
}
