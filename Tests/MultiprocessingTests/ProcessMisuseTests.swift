import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Every misuse throws a typed error with Python's meaning and a message naming it.
@Suite(.timeLimit(.minutes(3))) struct ProcessMisuseTests {
  @Test func startingTwice() throws {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 0, name: "twice")
    try process.start()
    #expect(throws: ProcessError.alreadyStarted(name: "twice")) { try process.start() }
    try process.join()
    #expect(throws: ProcessError.alreadyStarted(name: "twice")) { try process.start() }
    #expect(ProcessError.alreadyStarted(name: "twice").description.contains("only be started once"))
  }

  @Test func joiningOrSignallingAProcessNeverStarted() {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 0, name: "idle")
    #expect(throws: ProcessError.notStarted(name: "idle")) { try process.join() }
    #expect(throws: ProcessError.notStarted(name: "idle")) { try process.terminate() }
    #expect(throws: ProcessError.notStarted(name: "idle")) { try process.kill() }
    #expect(throws: ProcessError.notStarted(name: "idle")) { _ = try process.sentinel }
    #expect(ProcessError.notStarted(name: "idle").description == "idle was never started: call start() first")
  }

  @Test func aProcessJoiningItself() {
    #expect(throws: ProcessError.cannotJoinSelf(name: "MainProcess")) { try currentProcess().join() }
  }

  @Test(arguments: StartMethod.allCases)
  func aChildJoiningItselfOrStartingItself(method: StartMethod) throws {
    let process = Multiprocessing.Process(startMethod: .fork) {
      do {
        try currentProcess().join()
      } catch ProcessError.cannotJoinSelf {
        do { try currentProcess().start() } catch ProcessError.alreadyStarted { throw ProcessExit(42) }
      }
    }
    try process.start()
    try process.join()
    #expect(try process.exitCode == 42)
  }

  @Test func theDaemonFlagIsFixedAtStart() throws {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 0, name: "flag")
    try process.setDaemon(true)
    #expect(process.daemon)
    try process.start()
    #expect(throws: ProcessError.daemonAfterStart(name: "flag")) { try process.setDaemon(false) }
    #expect(process.daemon)
    try process.join()
    try process.close()
    #expect(throws: ProcessError.closed(name: "flag")) { try process.setDaemon(false) }
    #expect(throws: ProcessError.daemonAfterStart(name: "MainProcess")) { try currentProcess().setDaemon(true) }
    #expect(ProcessError.daemonAfterStart(name: "flag").description.contains("already started"))
  }

  @Test func closingARunningProcess() throws {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 30_000, name: "busy")
    try process.start()
    #expect(throws: ProcessError.stillRunning(name: "busy")) { try process.close() }
    try process.kill()
    try process.join()
    try process.close()
  }

  @Test func usingAClosedProcess() throws {
    let process = Fixture.process(.fork, TestEntryPoints.exit, 4, name: "done")
    try process.start()
    try process.join()
    let sentinel = try process.sentinel
    let identity = try #require(Self.identity(of: sentinel))
    try process.close()
    try process.close()  // twice is harmless
    let closed = ProcessError.closed(name: "done")
    #expect(throws: closed) { _ = try process.isAlive }
    #expect(throws: closed) { _ = try process.exitCode }
    #expect(throws: closed) { _ = try process.sentinel }
    #expect(throws: closed) { try process.join() }
    #expect(throws: closed) { try process.start() }
    #expect(throws: closed) { try process.terminate() }
    #expect(throws: closed) { _ = try process.pid }
    #expect(Self.identity(of: sentinel) != identity, "the sentinel descriptor is released")
    let unstarted = Fixture.process(.fork, TestEntryPoints.sleep, 0)
    try unstarted.close()
    #expect(throws: ProcessError.self) { try unstarted.start() }
  }

  /// What descriptor `fd` is open on (its inode; a pidfd's is its process's), or nil when it
  /// is closed: another test may open a descriptor of the same number meanwhile.
  static func identity(of fd: Int32) -> Substring? {
    let info = (try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8)) ?? ""
    return info.split(separator: "\n").first { $0.hasPrefix("ino:") }
  }

  @Test(arguments: StartMethod.allCases)
  func aDaemonStartingChildren(method: StartMethod) throws {
    let daemon = Fixture.process(method, TestEntryPoints.startChild, 0, daemon: true)
    let ordinary = Fixture.process(method, TestEntryPoints.startChild, 0)
    try daemon.start()
    try ordinary.start()
    try daemon.join()
    try ordinary.join()
    #expect(try daemon.exitCode == 20)
    #expect(try ordinary.exitCode == 10)
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func aClosureTargetNeedsFork(method: StartMethod) throws {
    _ = Fixture.ready
    let process = Multiprocessing.Process(name: "closure", startMethod: method) {}
    #expect(throws: ProcessError.needsEntryPoint(name: "closure", method: method)) { try process.start() }
    let worker = ProcessLifecycleTests.Worker(name: "subclass", startMethod: method)
    #expect(throws: ProcessError.needsEntryPoint(name: "subclass", method: method)) { try worker.start() }
    let message = ProcessError.needsEntryPoint(name: "closure", method: method).description
    #expect(message.contains("crosses only a fork") && message.contains("EntryPoint"))
    #expect(
      message.contains("Codable") && message.contains("ProcessClass(YourSubclass.self)"),
      "names the way a subclass crosses")
    #expect(try process.pid == nil)
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func anUnregisteredEntryPoint(method: StartMethod) {
    _ = Fixture.ready
    let stranger = EntryPoint<Int>("never-registered") { _ in }
    let process = Multiprocessing.Process(startMethod: method, entryPoint: stranger, arguments: 1)
    #expect(throws: ProcessError.entryPointNotRegistered("never-registered")) { try process.start() }
    #expect(ProcessError.entryPointNotRegistered("x").description.contains("bootstrapMultiprocessing"))
  }

  @Test func anUnregisteredEntryPointStillRunsWithFork() throws {
    let stranger = EntryPoint<Int32>("fork-only") { code in throw ProcessExit(code) }
    let process = Multiprocessing.Process(startMethod: .fork, entryPoint: stranger, arguments: 9)
    try process.start()
    try process.join()
    #expect(try process.exitCode == 9)
  }
}

/// Sentinels, and waiting on several processes at once.
@Suite(.timeLimit(.minutes(3))) struct ProcessWaitTests {
  @Test(arguments: StartMethod.allCases)
  func waitReturnsTheProcessesThatEnded(method: StartMethod) throws {
    let quick = Fixture.process(method, TestEntryPoints.sleep, 50)
    let slow = Fixture.process(method, TestEntryPoints.sleep, 30_000)
    let slower = Fixture.process(method, TestEntryPoints.sleep, 30_000)
    for process in [quick, slow, slower] { try process.start() }

    let first = try Multiprocessing.Process.wait([quick, slow, slower], timeout: .seconds(10))
    #expect(first.count == 1 && first[0] === quick)
    #expect(try Multiprocessing.Process.wait([slow, slower], timeout: .milliseconds(50)).isEmpty)

    try slower.kill()
    let next = try Multiprocessing.Process.wait([slow, slower], timeout: .seconds(10))
    #expect(next.count == 1 && next[0] === slower)
    try slow.kill()
    for process in [quick, slow, slower] { try process.join() }
    #expect(try Multiprocessing.Process.wait([quick, slow, slower], timeout: .zero).count == 3)
  }

  @Test(arguments: StartMethod.allCases)
  func theSentinelBecomesReadableAtTheEnd(method: StartMethod) throws {
    let process = Fixture.process(method, TestEntryPoints.sleep, 100)
    try process.start()
    var fds = [pollfd(fd: try process.sentinel, events: Int16(POLLIN), revents: 0)]
    #expect(poll(&fds, 1, 0) == 0)
    #expect(poll(&fds, 1, 10_000) == 1)
    try process.join()
    #expect(try process.exitCode == 0)
  }

  @Test func waitOnAProcessNeverStarted() {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 0, name: "unstarted")
    #expect(throws: ProcessError.notStarted(name: "unstarted")) {
      try Multiprocessing.Process.wait([process], timeout: .zero)
    }
  }
}
