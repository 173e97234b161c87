import Atomics
import CSystemShims
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// This process's connection to its fork server, and the handles of the children it forked.
///
/// The server is a fresh run of the program (started on first use through
/// ``Launcher/spawnProgram(role:passing:)``) that stops in ``bootstrapMultiprocessing(entryPoints:)``
/// and serves: single-threaded, it forks a child per request, so the children come from a
/// clean process whatever threads this one runs. Each request travels over a `SOCK_SEQPACKET`
/// control socket with two descriptors: a memfd holding the ``ChildDescription`` and one end of
/// a new status socket, on which the server answers the child's pid at once and its exit code
/// when it ends. The server dies with this process (`PR_SET_PDEATHSIG`), and its children die
/// with it; when this process closes the control socket the server kills what is left and exits.
///
/// A *fork template* is such a server forked from this process instead of started afresh
/// (``template(entryPoint:budget:warmUp:)``): it holds this process's memory as it was at that fork,
/// closures and their captures included, and forks every child of a pool from its single
/// thread, so that no child inherits a lock that another thread of this process held.
package final class ForkserverClient: @unchecked Sendable {
  // @unchecked: immutable after init but for the atomic `stopped`; concurrent requests are
  // separate seqpacket messages.
  let controlFD: Int32
  /// The server's process id.
  package let serverPid: pid_t
  /// Whether the server is a fork template, which ``stop()`` kills rather than waits for.
  let isTemplate: Bool
  private let stopped = ManagedAtomic(false)

  private init(controlFD: Int32, serverPid: pid_t, isTemplate: Bool = false) {
    self.controlFD = controlFD
    self.serverPid = serverPid
    self.isTemplate = isTemplate
  }

  /// How long a request waits for the server to answer with the new child's pid.
  static let answerBound = Duration.seconds(10)

  /// The running fork server, started on first use.
  static func shared() throws -> ForkserverClient {
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

  private static func start() throws -> ForkserverClient {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
      throw ProcessError.system(call: "socketpair", errno: errno)
    }
    defer { close(fds[1]) }
    do {
      let pid = try Launcher.spawnProgram(role: "forkserver", passing: fds[1])
      return ForkserverClient(controlFD: fds[0], serverPid: pid)
    } catch {
      close(fds[0])
      throw error
    }
  }

  /// Forks a fork template: a single-threaded copy of this process that serves requests for
  /// children running `entryPoint`. Before it confirms its start (``Launcher/forkConfirmed(name:budget:_:)``,
  /// which kills and forks again a template that does not), it builds the type metadata its
  /// children need: its own request path, what `warmUp` touches, and a probe of the Swift
  /// runtime's shared caches (``RuntimeProbe``), so that a template that inherited one of
  /// their locks held never confirms, and its children find the metadata built.
  package static func template(
    entryPoint: any AnyEntryPoint, budget: Duration = Launcher.forkBudget, warmUp: @escaping () -> Void
  ) throws -> ForkserverClient {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
      throw ProcessError.system(call: "socketpair", errno: errno)
    }
    let (clientEnd, serverEnd) = (fds[0], fds[1])
    let parent = getpid()
    let probe = RuntimeProbe.next()
    _ = ForkserverLoop.warmedUpHere
    do {
      let pid = try Launcher.forkConfirmed(name: "fork template of '\(entryPoint.name)'", budget: budget) {
        handshake, _ in
        close(clientEnd)
        ChildRunner.prepare(actualParent: parent)
        ProcessRegistry.shared.becomeTemplate(serving: entryPoint)
        ForkserverLoop.warmUp()
        probe.run()
        warmUp()
        ChildRunner.confirm(handshake)
        ForkserverLoop.serve(controlFD: serverEnd)
      }
      close(serverEnd)
      return ForkserverClient(controlFD: clientEnd, serverPid: pid, isTemplate: true)
    } catch {
      close(clientEnd)
      close(serverEnd)
      throw error
    }
  }

  /// Ends the server: the fork server once this process closes its end (it kills what it
  /// forked), a template at once, with SIGKILL (its children die with it). Waits until it
  /// ended. Stopping twice does nothing (the descriptor and the pid may belong to others by then).
  package func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    close(controlFD)
    // A template's end of the socket may live on in other children this process forked.
    if isTemplate { Glibc.kill(serverPid, SIGKILL) }
    var status: Int32 = 0
    while waitpid(serverPid, &status, 0) < 0 && errno == EINTR {}
  }

  /// Asks the server for a child that becomes `description`, and returns its handle.
  func launch(_ description: ChildDescription) throws -> any ChildHandle {
    let payload = try description.memfd()
    defer { close(payload) }
    var status: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &status) == 0 else {
      throw ProcessError.system(call: "socketpair", errno: errno)
    }
    let request: [UInt8] = [UInt8(ascii: "F")]
    let sent = [status[1], payload].withUnsafeBufferPointer { fds in
      cs_send_with_fds(controlFD, request, request.count, fds.baseAddress, 2)
    }
    close(status[1])
    guard sent == 0 else {
      close(status[0])
      throw ProcessError.forkserver("the server is gone (\(String(cString: strerror(-sent))))")
    }
    guard !pollReadable([status[0]], timeout: Self.answerBound).isEmpty,
      let pid = SharedBytes.readInt32(status[0]), pid > 0
    else {
      close(status[0])
      throw ProcessError.forkserver("the server did not report the new child's pid")
    }
    return ForkserverChild(pid: pid, statusFD: status[0])
  }
}

/// A child forked by the fork server: its exit code arrives on the status socket.
final class ForkserverChild: ChildHandle {
  let pid: pid_t
  let statusFD: Int32
  private let pidfd: Int32
  private var code: Int32?

  init(pid: pid_t, statusFD: Int32) {
    self.pid = pid
    self.statusFD = statusFD
    // The server reaps the child only after it ends, so the pid is still this child's.
    let fd = cs_pidfd_open(pid)
    pidfd = fd >= 0 ? fd : -1
  }

  var sentinel: Int32 { statusFD }

  func poll() -> Int32? {
    if let code { return code }
    guard !pollReadable([statusFD], timeout: .zero).isEmpty else { return nil }
    // No code before end of stream means the server died, and with it (PR_SET_PDEATHSIG) the child.
    code = SharedBytes.readInt32(statusFD) ?? -SIGKILL
    return code
  }

  func send(_ signal: Int32) {
    guard poll() == nil else { return }
    if pidfd >= 0 { _ = cs_pidfd_send_signal(pidfd, signal) } else { Glibc.kill(pid, signal) }
  }

  func close() {
    guard !closed else { return }
    closed = true
    _ = Glibc.close(statusFD)
    if pidfd >= 0 { _ = Glibc.close(pidfd) }
  }

  private var closed = false

  deinit { close() }
}

/// The fork server's loop, run by a fresh run of the program inside
/// ``bootstrapMultiprocessing(entryPoints:)``.
enum ForkserverLoop {
  /// Runs, once, the code every child runs before its entry point (decoding its description,
  /// opening its parent's pidfd), so that the runtime's lazily built type metadata and
  /// Foundation's coders are ready in the server and every child inherits them instead of
  /// building them again: this halves a child's start-up.
  static func warmUp() {
    let sample = ChildDescription(
      entryPoint: "", arguments: Data("0".utf8), name: "", identity: [1], daemon: false, startMethod: .forkserver,
      parentPid: getppid(), parentName: "")
    if let fd = try? sample.memfd() { _ = try? ChildDescription.read(from: fd) }
  }

  /// ``warmUp()`` run once in this process, so that every fork template forked from it
  /// inherits what it built instead of building it again (half a millisecond a template).
  static let warmedUpHere: Void = warmUp()

  /// Serves requests on `controlFD` until the client closes it; never returns.
  static func serve(controlFD: Int32) -> Never {
    let signalFD = cs_sigchld_signalfd()
    guard signalFD >= 0 else { _exit(70) }
    var statusFDs: [pid_t: Int32] = [:]
    let serverPid = getpid()
    warmUp()

    while true {
      let ready = pollReadable([controlFD, signalFD], timeout: nil)
      if ready.contains(signalFD) {
        var info = [UInt8](repeating: 0, count: 128)
        while read(signalFD, &info, info.count) > 0 {}
        var status: Int32 = 0
        while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
          if let fd = statusFDs.removeValue(forKey: pid) {
            SharedBytes.writeInt32(fd, exitCode(waitStatus: status))
            close(fd)
          }
        }
      }
      guard ready.contains(controlFD) else { continue }
      var request = [UInt8](repeating: 0, count: 16)
      var fds: [Int32] = [-1, -1, -1, -1]
      var count: Int32 = 0
      let received = cs_receive_with_fds(controlFD, &request, request.count, &fds, 4, &count)
      if received <= 0 {
        // The client closed the connection (it exited) or died: nothing may outlive it.
        for pid in statusFDs.keys { kill(pid, SIGKILL) }
        for pid in statusFDs.keys { waitpid(pid, nil, 0) }
        _exit(0)
      }
      guard count == 2 else {
        for fd in fds.prefix(Int(count)) { close(fd) }
        continue
      }
      let (statusFD, payloadFD) = (fds[0], fds[1])
      fflush(nil)
      let pid = fork()
      if pid == 0 {
        cs_unblock_all_signals()
        close(controlFD)
        close(signalFD)
        for fd in statusFDs.values { close(fd) }
        close(statusFD)
        guard let description = try? ChildDescription.read(from: payloadFD) else { _exit(70) }
        bootstrapChild(description, actualParent: serverPid)
      }
      close(payloadFD)
      if pid < 0 {
        close(statusFD)
        continue
      }
      SharedBytes.writeInt32(statusFD, pid)
      statusFDs[pid] = statusFD
    }
  }
}
