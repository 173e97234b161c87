import CSystemShims
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Creates child processes for the fork and spawn start methods.
enum Launcher {
  /// Forks a child that runs `process` (from a thread that lives as long as this process),
  /// confirmed as ``forkConfirmed(name:_:)`` describes.
  /// `stalls`: how many forks in a row stall before the entry (tests).
  static func fork(_ process: Process, name: String, stalls: Int = 0) throws -> any ChildHandle {
    _ = ChildRunner.warmedUp
    let parent = (pid: getpid(), name: currentProcess().name)
    let pid = try forkConfirmed(name: name) { handshake, attempt in
      if attempt < stalls { ChildRunner.stallForTesting() }
      ChildRunner.become(process, actualParent: parent.pid, parent: parent, handshake: handshake)
    }
    return try OwnChild(pid: pid)
  }

  /// How long a forked child may take from the fork to its entry before it is killed.
  static let handshakeBound = Duration.seconds(2)

  /// Forks a child that runs `child` and waits until it confirms, by writing a byte on the
  /// descriptor `child` is given (``ChildRunner/confirm(_:)``), that it has reached its entry.
  ///
  /// A child forked while another thread of this process held a lock (the Swift runtime's
  /// metadata caches, malloc's, any other) inherits it held, and waits forever if its own
  /// start-up needs it. Such a child does not confirm within ``handshakeBound``: it is killed
  /// and forked again once (nothing of the caller's has run in it yet), and if the second
  /// does not confirm either, ``ProcessError/childDidNotStart(name:pid:bound:)`` is thrown. A
  /// child that ends before confirming is returned as it is: its exit code says how it ended.
  ///
  /// The fork is made with the process registry's lock held, so that no other fork of the
  /// library inherits the handshake pipe; the child reinitialises that lock.
  static func forkConfirmed(
    name: String, _ child: @escaping (_ handshake: Int32, _ attempt: Int) -> Never
  ) throws -> pid_t {
    var silent: pid_t = 0
    for attempt in 0..<2 {
      warnIfOtherThreadsRun()
      let (pid, handshake) = try forkWithHandshake { child($0, attempt) }
      defer { close(handshake) }
      let ready = pollReadable([handshake], timeout: handshakeBound)
      if !ready.isEmpty { return pid }
      Glibc.kill(pid, SIGKILL)
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      multiprocessingLogger.warning(
        "killed a forked child that did not reach its entry",
        metadata: ["process": "\(name)", "pid": "\(pid)", "bound": "\(handshakeBound)"])
      silent = pid
    }
    throw ProcessError.childDidNotStart(name: name, pid: silent, bound: handshakeBound)
  }

  /// Forks, from the main thread or the spawner thread, a child that runs `child` with the
  /// write end of a new pipe; returns its pid and the read end.
  private static func forkWithHandshake(_ child: @escaping (Int32) -> Never) throws -> (pid_t, Int32) {
    let result: (pid: pid_t, readEnd: Int32, error: Int32) = Spawner.shared.perform {
      ProcessRegistry.shared.lock.withLock {
        var ends: [Int32] = [-1, -1]
        let piped = cs_pipe_cloexec(&ends)
        guard piped == 0 else { return (-1, -1, -piped) }
        fflush(nil)
        let pid = Glibc.fork()
        if pid == 0 {
          Glibc.close(ends[0])
          child(ends[1])
        }
        let error = errno
        Glibc.close(ends[1])
        if pid < 0 { Glibc.close(ends[0]) }
        return (pid, ends[0], error)
      }
    }
    guard result.pid > 0 else { throw ProcessError.system(call: "fork", errno: result.error) }
    return (result.pid, result.readEnd)
  }

  /// Logs once per process, as a warning, that the library forks while other threads run,
  /// as Python 3.12 warns for `os.fork()`.
  private static func warnIfOtherThreadsRun() {
    let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 1
    // Not counted: the forking thread, and the spawner thread (idle while the main thread
    // forks) or the caller waiting for it.
    let others = threads - 1 - (Spawner.shared.isRunning ? 1 : 0)
    guard others > 0 else { return }
    let first = LibraryLogger.shared.lock.withLock {
      defer { LibraryLogger.shared.warnedAboutThreads = true }
      return !LibraryLogger.shared.warnedAboutThreads
    }
    guard first else { return }
    multiprocessingLogger.warning(
      """
      forking while other threads run: the child must keep to plain synchronous code; \
      use the forkserver start method if those threads may hold locks
      """,
      metadata: ["otherThreads": "\(others)"])
  }

  /// Starts a fresh run of the program that becomes the described child.
  static func spawn(_ description: ChildDescription) throws -> any ChildHandle {
    let fd = try description.memfd()
    defer { close(fd) }
    return try OwnChild(pid: spawnProgram(role: "spawn", passing: fd))
  }

  /// The environment variable that tells a fresh run of the program which role it has
  /// (`spawn` or `forkserver`); its payload descriptor is 3.
  static let roleVariable = "SWIFT_MULTIPROCESSING_ROLE"

  /// posix_spawns the executable with `role` and `fd` as descriptor 3, from a thread that lives
  /// as long as this process, and returns its pid.
  static func spawnProgram(role: String, passing fd: Int32) throws -> pid_t {
    let executable = ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.executable }
    let arguments = [CommandLine.arguments.first ?? executable, "--multiprocessing-\(role)"]
    var environment = ["\(roleVariable)=\(role)"]
    var entry = environ
    while let variable = entry.pointee {
      let text = String(cString: variable)
      if !text.hasPrefix(roleVariable + "=") { environment.append(text) }
      entry += 1
    }
    let result: (pid: pid_t, error: Int32) = Spawner.shared.perform {
      fflush(nil)
      return withCStrings(arguments) { argv in
        withCStrings(environment) { envp in
          var pid: pid_t = 0
          let error = cs_spawn(executable, argv, envp, fd, &pid)
          return (pid, error)
        }
      }
    }
    guard result.error == 0 else { throw ProcessError.system(call: "posix_spawn(\(executable))", errno: result.error) }
    return result.pid
  }

  /// Calls `body` with a NULL-terminated array of C strings.
  private static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
  }
}
