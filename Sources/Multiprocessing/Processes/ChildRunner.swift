import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// What every child does once it exists, whatever its start method: tie its life to its
/// parent, become its ``Process``, run, report, clean up and exit.
enum ChildRunner {
  /// Runs, once in the parent, the generic code every forked child runs on its way out, so
  /// that the Swift runtime has built the metadata and witness tables it needs. A forked
  /// child must not build them: another thread of the parent may have held the runtime's
  /// cache lock at the moment of the fork, and the child would wait for it forever.
  static let warmedUp: Void = {
    ProcessRegistry.finish(hooks: [], children: [])
    QueueFeeders.shared.warmUp()
    // The objects a child's `prepare` resets, made here if this process has not yet: a child
    // that makes one pays its allocations in page faults (each page it writes is copied).
    _ = ExitWatcher.shared
    _ = ForkingThread.shared
    // And the C functions it calls that this process may never have: binding one lazily in
    // the child walks every loaded library's symbol table (some twenty page faults).
    _ = getppid()
    _ = write(-1, nil, 0)  // EBADF: only binds `write`, which the handshake uses.
    // And its arguments' decoding: `BinaryDecoder` reads them through `Data`'s generic
    // `withUnsafeBytes`, whose inline storage's type the runtime builds by mangled name at its
    // first use in a process (a tenth of a fork-server child's start). Through a table, as a
    // child finds its entry point, so that the compiler runs the same unspecialised code.
    var entryPoints = EntryPointTable()
    entryPoints[""] = EntryPoint<Int>("") { _ in }
    if let encoded = try? BinaryEncoder().encode(0) { try? entryPoints[""]?.run(encodedArguments: encoded) }
    let error: any Error = ProcessExit(0)
    if let exit = error as? ProcessExit { _ = exit.code }
    // And what a child that starts a process of its own waits for that child's handshake
    // with: a child forked while another thread built `poll`'s witness table waited for it
    // for ever (seen in the test suite, whose children start processes).
    _ = SystemCall.pollReadable([], timeout: .zero)
  }()

  /// Runs, once in the parent, what a child that ends with an error runs to report it: the
  /// generic printing of an `any Error` (`Mirror` and the ad hoc printer's metadata, a
  /// conformance scan of the whole program for each type it asks about: a millisecond). Only
  /// a child forked straight from this process needs it (the fork start method): the
  /// children of a fork server or of a fork template are forked from a single-threaded
  /// process, which holds none of the runtime's locks, and build it themselves if they fail.
  static let errorReportWarmedUp: Void = {
    let error: any Error = ProcessExit(0)
    _ = Data("Process \(String(describing: error)):\n\(error)\n".utf8)
  }()

  /// Runs `process` as this (new, single-threaded) process and exits; never returns.
  ///
  /// - Parameters:
  ///   - actualParent: the pid the kernel has as parent (the fork server, for its children);
  ///     if it is gone already the child dies, as `PR_SET_PDEATHSIG` would have made it.
  ///   - parent: the process that asked for this one.
  ///   - handshake: where to confirm, just before `run()`, that the child got there (nil: nowhere).
  static func become(
    _ process: Process, actualParent: pid_t, parent: (pid: Int32, name: String), handshake: FileDescriptor? = nil
  ) -> Never {
    prepare(actualParent: actualParent)
    let registry = ProcessRegistry.shared
    registry.becomeChild(
      current: process, identity: process.identity, parent: ParentProcess(name: parent.name, pid: parent.pid))
    // As `ps`, `top` and debuggers show it (its first 15 bytes): a forked child would
    // otherwise carry the name of the thread that forked it.
    SystemCall.setThreadName(process.name)
    confirm(handshake)

    var code: Int32 = 0
    do {
      try process.run()
    } catch let exit as ProcessExit {
      code = exit.code
    } catch {
      code = 1
      fflush(nil)
      FileHandle.standardError.write(Data("Process \(process.name):\n\(error)\n".utf8))
    }
    // The items its puts accepted reach their queues before it ends (Python joins its
    // queues' feeder threads at exit).
    QueueFeeders.shared.flushAll()
    registry.finishChildren()
    fflush(nil)
    cs_exit_now(code)
  }

  /// Makes a freshly forked child its own: tied to its parent's life, with every signal
  /// unblocked, and the library's threads and locks as a single-threaded process has them.
  static func prepare(actualParent: pid_t) {
    dieWithParent()
    if getppid() != actualParent { try? SystemCall.sendSignal(SIGKILL, to: getpid()) }
    // A child forked from the forking thread inherits that thread's signal mask.
    cs_unblock_all_signals()
    // And the runtime's hooks on `throw`: Swift Testing's takes locks another thread of the
    // parent may have held at the fork (a child that threw ProcessExit blocked there forever).
    cs_clear_throw_hooks()
    ForkingThread.shared.resetInChild()
    ExitWatcher.shared.resetInChild()
    ProcessRegistry.shared.lock.reinitializeInChild()
    QueueFeeders.shared.resetInChild()
    // The library's other locks are `ForkSafeLock`s, which reset themselves at their first
    // use here.
  }

  /// Tells the parent waiting in ``Launcher/forkConfirmed(name:budget:countingThreads:_:)`` that this child reached
  /// its entry, and closes the descriptor.
  static func confirm(_ handshake: FileDescriptor?) {
    guard let handshake else { return }
    // Dropped: a parent that is gone (EPIPE) has killed this child already (PR_SET_PDEATHSIG).
    try? withUnsafeBytes(of: UInt8(1)) { (byte) throws(Errno) in try handshake.writeAll(byte) }
    handshake.release()
  }

  /// Asks the kernel to SIGKILL this process when the thread that forked it ends. The
  /// result is dropped: `prctl(PR_SET_PDEATHSIG)` fails only for an invalid signal.
  static func dieWithParent() {
    _ = cs_set_parent_death_signal(SIGKILL)
  }

  /// Waits forever, as a child whose start-up needs a lock held at its fork would: for the
  /// tests of the handshake.
  static func stallForTesting() -> Never {
    while true { pause() }
  }
}
