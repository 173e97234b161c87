import Multiprocessing

/// The pipe link, the pool's second: each worker's tasks, results and status go through
/// two operating-system pipes (``PipeChannels``), and nothing else is shared with it — no
/// control block, no doorbell, no shared memory at all. Its workers' status comes in their
/// messages (``InBandStatus``), and the pool's thread wakes when a results pipe becomes
/// readable (``WorkerTransport/wakeDescriptor``), so it needs neither to know whether that
/// thread sleeps nor whether callers collect.
final class PipeLinks<Input: Codable & Sendable, Output: Codable & Sendable>: PoolLinks {
  func makeChannels(slot: Int) throws -> any WorkerTransport<Input, Output> {
    try PipeChannels<Input, Output>(capacity: PoolLimits.pipeBytes, shared: nil)
  }

  func setDispatcherSleeping(_ sleeping: Bool) {}

  func addCollectors(_ delta: Int) {}
}
