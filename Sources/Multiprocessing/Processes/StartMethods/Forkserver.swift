import CSystemShims
import Foundation
import Synchronization
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// This process's connection to its fork server, and the handles of the children it forked.
///
/// The server is a fresh run of the program (started on first use through
/// ``Launcher/spawnProgram(role:passing:)``) that stops in ``bootstrapMultiprocessing(entryPoints:managedTypes:)``
/// and serves: single-threaded, it forks a child per request, so the children come from a
/// clean process whatever threads this one runs. Each request (``ForkserverRequest``) travels
/// over a `SOCK_SEQPACKET` control socket with the child's ``ChildDescription`` and one end of
/// a new status socket, on which the server answers the child's pid at once and its exit code
/// when it ends. The server dies with this process (`PR_SET_PDEATHSIG`), and its children die
/// with it; when this process closes the control socket the server kills what is left and exits.
///
/// A *fork template* is such a server forked from this process instead of started afresh
/// (``template(entryPoint:budget:beforeConfirming:)``): it holds this process's memory as it was at that fork,
/// closures and their captures included, and forks every child of a pool from its single
/// thread, so that no child inherits a lock that another thread of this process held.
package final class ForkserverClient: @unchecked Sendable {
  // @unchecked: immutable after init but for the atomic `stopped`; concurrent requests are
  // separate seqpacket messages.
  let controlFD: FileDescriptor
  /// The server's process id.
  package let serverPid: pid_t
  /// Whether the server is a fork template, which ``stop()`` kills rather than waits for.
  let isTemplate: Bool
  private let stopped = Atomic<Bool>(false)  // not a ManagedAtomic: see RuntimeProbe.counter

  private init(controlFD: FileDescriptor, serverPid: pid_t, isTemplate: Bool = false) {
    self.controlFD = controlFD
    self.serverPid = serverPid
    self.isTemplate = isTemplate
  }

  /// How long a request waits for the server to answer with the new child's pid.
  static let answerBound = Duration.seconds(10)

  /// The running fork server, started on first use.
  static func shared() throws(ProcessError) -> ForkserverClient {
    if let client = ProcessRegistry.shared.lock.withLock({ ProcessRegistry.shared.forkserver }) { return client }
    let client = try start()
    return ProcessRegistry.shared.lock.withLock {
      if let existing = ProcessRegistry.shared.forkserver {
        client.stop()
        return existing
      }
      ProcessRegistry.shared.forkserver = client
      return client
    }
  }

  private static func start() throws(ProcessError) -> ForkserverClient {
    let (clientEnd, serverEnd) = try controlSocket()
    defer { serverEnd.release() }
    do {
      let pid = try Launcher.spawnProgram(role: "forkserver", passing: serverEnd)
      return ForkserverClient(controlFD: clientEnd, serverPid: pid)
    } catch {
      clientEnd.release()
      throw error
    }
  }

  /// A new control connection: the client's end and the server's.
  private static func controlSocket() throws(ProcessError) -> (FileDescriptor, FileDescriptor) {
    do {
      return try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_SEQPACKET.rawValue))
    } catch {
      throw .system(call: "socketpair", errno: error)
    }
  }

  /// Forks a fork template: a single-threaded copy of this process that serves requests for
  /// children running `entryPoint`. The metadata its request path needs is built here, before
  /// the fork, for it and its children to inherit (what `entryPoint`'s children need is the
  /// caller's to build first). Before it confirms its start (``Launcher/forkConfirmed(name:budget:countingThreads:_:)``,
  /// which kills and forks again a template that does not), a template forked while this
  /// process had other threads probes the Swift runtime's shared caches (``RuntimeProbe``),
  /// so that one that inherited one of their locks held never confirms; one forked from a
  /// process with no other thread cannot have (no thread held a lock it lacks), and skips the
  /// probe: a fifth of a template's page faults. Then it runs `beforeConfirming`, told whether
  /// it probed (the tests stall there, or report it).
  package static func template(
    entryPoint: any AnyEntryPoint, budget: Duration = Launcher.forkBudget,
    beforeConfirming: @escaping (_ probed: Bool) -> Void = { _ in }
  ) throws(ProcessError) -> ForkserverClient {
    let (clientEnd, serverEnd) = try controlSocket()
    let parent = getpid()
    // Other threads now: the template will probe (its fork counts them again).
    if SystemCall.threadCount() != 1 { _ = ForkserverLoop.probeWarmedUp }
    let probe = RuntimeProbe.next()
    _ = ForkserverLoop.warmedUpHere
    do {
      let pid = try Launcher.forkConfirmed(
        name: "fork template of '\(entryPoint.name)'", budget: budget, countingThreads: true
      ) { handshake, _, forkedAlone in
        clientEnd.release()
        ChildRunner.prepare(actualParent: parent)
        ProcessRegistry.shared.becomeTemplate(serving: entryPoint)
        SystemCall.setThreadName("mp-template")
        // No warm-up of the loop here: the template inherits this process's (above).
        if !forkedAlone { probe.run() }
        beforeConfirming(!forkedAlone)
        ChildRunner.confirm(handshake)
        ForkserverLoop.serve(controlFD: serverEnd)
      }
      serverEnd.release()
      return ForkserverClient(controlFD: clientEnd, serverPid: pid, isTemplate: true)
    } catch {
      clientEnd.release()
      serverEnd.release()
      throw error
    }
  }

  /// Ends the server: the fork server once this process closes its end (it kills what it
  /// forked), a template at once, with SIGKILL (its children die with it). Waits until it
  /// ended. Stopping twice does nothing (the descriptor and the pid may belong to others by then).
  package func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    controlFD.release()
    // A template's end of the socket may live on in other children this process forked.
    // Dropped: the only failure is ESRCH, a template that died already (reaped below).
    if isTemplate { try? SystemCall.sendSignal(SIGKILL, to: serverPid) }
    SystemCall.reap(serverPid)
  }

  /// Asks the server for a child that becomes `description`, and returns its handle.
  func launch(_ description: ChildDescription) throws(ProcessError) -> any ChildHandle {
    try request(description).child()
  }

  /// A child asked of the server, whose pid has not been read yet.
  struct PendingChild {
    /// This process's end of the child's status socket.
    let statusFD: FileDescriptor

    /// Waits for the server's answer: the child's handle.
    func child() throws(ProcessError) -> any ChildHandle {
      guard !SystemCall.pollReadable([statusFD.rawValue], timeout: ForkserverClient.answerBound).isEmpty,
        let pid = statusFD.readInt32(), pid > 0
      else {
        statusFD.release()
        throw .forkserver("the server did not report the new child's pid")
      }
      return ForkserverChild(pid: pid, statusFD: statusFD)
    }

    /// Gives the child up: the server sees its status socket closed. (A child forked already
    /// runs on; the caller that gave it up ends the template, and with it the child.)
    func abandon() {
      statusFD.release()
    }
  }

  /// Asks the server for a child that becomes `description`, without waiting for its pid.
  func request(_ description: ChildDescription) throws(ProcessError) -> PendingChild {
    let (statusFD, serverStatusFD): (FileDescriptor, FileDescriptor)
    do {
      (statusFD, serverStatusFD) = try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_STREAM.rawValue))
    } catch {
      throw .system(call: "socketpair", errno: error)
    }
    do {
      defer { serverStatusFD.release() }
      try ForkserverRequest.send(description, statusFD: serverStatusFD, on: controlFD)
    } catch {
      statusFD.release()
      throw error
    }
    return PendingChild(statusFD: statusFD)
  }
}

/// A child forked by the fork server: its exit code arrives on the status socket.
final class ForkserverChild: ChildHandle {
  let pid: pid_t
  let statusFD: FileDescriptor
  /// Nil when the child ended (and was reaped by the server) before it could be opened.
  private let pidfd: FileDescriptor?
  private var status: TerminationStatus?

  init(pid: pid_t, statusFD: FileDescriptor) {
    self.pid = pid
    self.statusFD = statusFD
    // The server reaps the child only after it ends, so the pid is still this child's.
    pidfd = try? SystemCall.openPidfd(pid)
  }

  var sentinel: Int32 { statusFD.rawValue }

  func poll() -> TerminationStatus? {
    if let status { return status }
    guard !SystemCall.pollReadable([statusFD.rawValue], timeout: .zero).isEmpty else { return nil }
    // No code before end of stream means the server died, and with it (PR_SET_PDEATHSIG) the child.
    status = statusFD.readInt32().map(TerminationStatus.init(exitCode:)) ?? .signaled(SIGKILL)
    return status
  }

  func send(_ signal: Int32) {
    // Dropped: the only failure left is ESRCH, a child that ended since the poll; without
    // a pidfd the child had ended before it could be opened.
    guard poll() == nil, let pidfd else { return }
    try? pidfd.sendSignal(signal)
  }

  func close() {
    guard !closed else { return }
    closed = true
    statusFD.release()
    pidfd?.release()
  }

  private var closed = false

  deinit { close() }
}

/// The fork server's loop, run by a fresh run of the program inside
/// ``bootstrapMultiprocessing(entryPoints:managedTypes:)``.
enum ForkserverLoop {
  /// Runs, once, the code the server runs for a request (decoding its description, making
  /// its ``Process``) and every child runs before its entry point, so that the runtime's
  /// lazily built type metadata is ready in the server and every child inherits it instead
  /// of building it again: this halves a child's start-up.
  static func warmUp() {
    _ = ChildRunner.warmedUp
    // The C library's functions a template or the children it forks call first, bound here:
    // a first call through the program's lazy PLT walks every library's symbol table, about 8
    // page faults in a pool worker's start (`LD_DEBUG=bindings` lists what a child binds). `send`
    // answers each request; the loop reaps with `waitpid` and reads `errno`; spins yield; a
    // worker's crash report installs its handlers with `sigaction`.
    _ = send(-1, nil, 0, Int32(MSG_NOSIGNAL))  // EBADF
    _ = waitpid(pid_t.max, nil, WNOHANG)  // ECHILD: no process has that pid
    _ = errno
    _ = sched_yield()
    _ = sigaction(SIGSEGV, nil, nil)  // a query: changes nothing
    let sample = ChildDescription(
      entryPoint: "", arguments: Data(count: 1), name: "", identity: [1], daemon: false, startMethod: .forkserver,
      parentPid: getppid(), parentName: "")
    // For their effect, warming up: a request as the server reads it, both kinds.
    if let encoded = try? sample.encoded() {
      _ = ForkserverRequest.read([ForkserverRequest.inline] + encoded, descriptors: [FileDescriptor(rawValue: -1)])
    }
    if let fd = try? sample.memfd() { _ = try? ChildDescription.read(from: fd) }
    _ = Process(child: sample, entryPoint: EntryPoint<Int>("") { _ in })
    // The tables a template fills first, its entry points and the loop's children, are lists:
    // a dictionary's storage type is built by name on its first insert, and that name's
    // look-up (the key's Hashable conformance, found by a scan of every conformance record of
    // the program) ran in each process's first pool.
    var entryPoints = EntryPointTable()
    entryPoints[""] = EntryPoint<Int>("") { _ in }
    _ = ProcessRegistry.shared.entryPoint(named: "")  // a request's look-up: its optional's type
    var children = ServedChildren()
    children.add(0, statusFD: FileDescriptor(rawValue: -1))
    _ = children.remove(0)
  }

  /// A probe run once in this process before its first fork template forked among other
  /// threads. A process's first probe finds its marker protocol's conformance by a scan of
  /// every conformance record of the program (0.4 ms of a first pool in mpbench); a
  /// template's probe then finds it in the cache, and still takes the cache's lock to record
  /// its new type (`ConformanceState::cacheResult`), which is what it is there to prove free.
  /// A template forked from a process with no other thread does not probe, and needs none.
  static let probeWarmedUp: Void = RuntimeProbe.next().run()

  /// ``warmUp()`` run once in this process, so that every fork template forked from it
  /// inherits what it built instead of building it again (half a millisecond a template).
  static let warmedUpHere: Void = warmUp()

  /// Serves requests on `controlFD` until the client closes it; never returns.
  static func serve(controlFD: FileDescriptor) -> Never {
    guard let signalFD = try? FileDescriptor(rawValue: SystemCall.shim { cs_sigchld_signalfd() }) else { _exit(70) }
    var children = ServedChildren()
    let serverPid = getpid()
    _ = warmedUpHere  // once per process: a template inherits its parent's
    var request = [UInt8](repeating: 0, count: ForkserverRequest.capacity)

    while true {
      let ready = SystemCall.pollReadable([controlFD.rawValue, signalFD.rawValue], timeout: nil)
      if ready.contains(signalFD.rawValue) {
        signalFD.drain()
        while let (pid, status) = SystemCall.reapAnyEnded() {
          if let fd = children.remove(pid) {
            // Dropped: a client that is gone no longer wants the status.
            fd.sendInt32(status.exitCode)
            fd.release()
          }
        }
      }
      guard ready.contains(controlFD.rawValue) else { continue }
      let received: (count: Int, descriptors: [FileDescriptor])
      do { received = try controlFD.receive(into: &request) } catch {
        if error == .messageTooLong { continue }  // no request of this library's
        received = (0, [])
      }
      guard received.count > 0 else {
        // The client closed the connection (it exited) or died: nothing may outlive it.
        for pid in children.pids { try? SystemCall.sendSignal(SIGKILL, to: pid) }
        for pid in children.pids { SystemCall.reap(pid) }
        cs_exit_now(0)
      }
      guard
        let (statusFD, description) = ForkserverRequest.read(
          request[..<received.count], descriptors: received.descriptors)
      else { continue }
      // Made here, not in the child: see ForkserverRequest.
      let process = description.flatMap(childProcess(for:))
      fflush(nil)
      let pid = fork()
      if pid == 0 {
        cs_unblock_all_signals()
        controlFD.release()
        signalFD.release()
        children.releaseStatusFDs()
        statusFD.release()
        guard let description else { _exit(70) }
        bootstrapChild(description, process: process, actualParent: serverPid)
      }
      if pid < 0 {
        statusFD.release()
        continue
      }
      statusFD.sendInt32(pid)
      children.add(pid, statusFD: statusFD)
    }
  }
}
