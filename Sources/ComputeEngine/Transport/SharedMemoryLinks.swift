/// The shared-memory link, what pools use: each worker's channels are rings in shared memory
/// (typed slots for `BitwiseCopyable` values, byte messages for `Codable` ones), and its
/// status is a line of a control block both ends map (``SharedStatus``), where the pool reads
/// it without a message. The block's header says whether the pool's thread sleeps and
/// whether a caller collects, so that a worker rings the pool's doorbell only when nobody
/// would look otherwise.
final class SharedMemoryLinks<Input, Output>: PoolLinks, @unchecked Sendable {
  // @unchecked: the control block is shared memory used through atomic words; the rest is
  // set once.
  let control: PoolControl
  let setup: PoolLinkSetup
  /// Makes a worker's rings, with its status.
  private let makeRings: (SharedStatus) throws -> any WorkerTransport<Input, Output>

  init(
    _ setup: PoolLinkSetup, makeRings: @escaping (SharedStatus) throws -> any WorkerTransport<Input, Output>
  ) throws {
    control = try PoolControl(slots: setup.slots)
    self.setup = setup
    self.makeRings = makeRings
  }

  func makeChannels(slot: Int) throws -> any WorkerTransport<Input, Output> {
    try makeRings(SharedStatus(control: control, slot: slot, doorbellFD: setup.doorbellFD, forked: setup.forked))
  }

  func setDispatcherSleeping(_ sleeping: Bool) {
    control.header(.dispatcherSleeping).value = sleeping ? 1 : 0
  }

  func addCollectors(_ delta: Int) {
    _ = control.header(.collectors).add(delta)
  }
}
