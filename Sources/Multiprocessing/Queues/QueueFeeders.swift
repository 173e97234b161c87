import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Every ``QueueFeeder`` of this process whose thread runs: what a process waits for before it
/// ends, so that the items its puts accepted reach their queues (Python joins its queues'
/// feeder threads at exit), and what a forked child forgets.
@usableFromInline final class QueueFeeders: @unchecked Sendable {
  // @unchecked: `running` and `exitHookInstalled` are only used with `lock` held.
  @usableFromInline static let shared = QueueFeeders()

  let lock = ForkSafeLock()
  /// A list, not a dictionary keyed by `ObjectIdentifier`: a process runs a few feeders, and
  /// a forked child whose first put started one checked that key's `Hashable` conformance by
  /// a scan of every conformance record of the program, taking the runtime's conformance
  /// cache lock, which another thread of its parent may have held at the fork.
  private var running: [any ForkResettable & AnyObject] = []
  private var exitHookInstalled = false
  /// Items the feeders wrote, ever.
  private let written = Atomic<Int>(0)

  /// Notes a feeder whose thread starts; the first one installs the exit hook.
  func started(_ feeder: some ForkResettable & AnyObject) {
    let install = lock.withLock {
      if !running.contains(where: { $0 === feeder }) { running.append(feeder) }
      defer { exitHookInstalled = true }
      return !exitHookInstalled
    }
    if install { atexit { QueueFeeders.shared.flushAll(givingUpAfter: .seconds(5)) } }
  }

  /// Notes a feeder whose thread ended.
  func finished(_ feeder: some ForkResettable & AnyObject) {
    lock.withLock { running.removeAll { $0 === feeder } }
  }

  /// Notes items a feeder wrote: what an exit that waits sees as progress.
  @usableFromInline func wrote(_ count: Int) {
    if count > 0 { written.add(count, ordering: .relaxed) }
  }

  /// Waits until every feeder has written its items. A child process waits as long as it
  /// takes, as Python's do (a parent that joins such a child before taking its items waits for
  /// ever); the main process, at exit, gives up once `stall` passed with no item written, and
  /// says so on standard error, rather than hang.
  func flushAll(givingUpAfter stall: Duration? = nil) {
    // Most processes never had a feeder: they end without reading the clock.
    if lock.withLock({ running.isEmpty }) { return }
    var seen = written.load(ordering: .relaxed)
    var progress = ContinuousClock.now
    while !lock.withLock({ running.isEmpty }) {
      usleep(1000)
      guard let stall else { continue }
      let now = written.load(ordering: .relaxed)
      if now != seen {
        (seen, progress) = (now, .now)
      } else if ContinuousClock.now - progress > stall {
        let message =
          "swift-multiprocessing: the process ends with items it put in a queue that no one took for \(stall)\n"
        FileHandle.standardError.write(Data(message.utf8))
        return
      }
    }
  }

  /// Builds, in the parent, what a forked child's ``resetInChild()`` and ``flushAll()`` use
  /// (see `ChildRunner.warmedUp`): the child must not build generic metadata.
  func warmUp() {
    _ = lock.withLock { running.contains { _ in false } || running.isEmpty }
  }

  /// In a freshly forked child: no feeder runs here, and none holds an item.
  func resetInChild() {
    lock.reinitializeInChild()
    // Most parents have no feeder: a child that writes nothing here copies no page.
    guard !running.isEmpty else { return }
    for feeder in running { feeder.resetInChild() }
    withUnsafeMutablePointer(to: &running) { $0.initialize(to: []) }
  }
}

/// State a forked child resets.
protocol ForkResettable: Sendable {
  /// Forgets what belongs to the parent; in a freshly forked child, which has one thread.
  func resetInChild()
}

extension QueueFeeder: ForkResettable {}
