import Foundation
import TestEntryPoints
import Testing

@testable import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// Every fork the library makes is confirmed: a child stuck on its way to its entry (as one
/// that inherited a held lock is) is killed and forked again, and one that never gets there
/// is reported, never waited on for ever.
@Suite(.timeLimit(.minutes(3))) struct ForkHandshakeTests {
  @Test func aChildStuckBeforeItsEntryIsForkedAgain() throws {
    let process = Multiprocessing.Process(startMethod: .fork) { throw ProcessExit(7) }
    process.forkTestHooks.stalls = 2
    let started = ContinuousClock.now
    try process.start()
    #expect(ContinuousClock.now - started < .seconds(2), "a stuck child is seen asleep, not waited out")
    try process.join(timeout: .seconds(10))
    #expect(try process.exitCode == 7)
  }

  @Test func aChildThatNeverReachesItsEntryIsReportedAndKilled() throws {
    let process = Multiprocessing.Process(name: "stuck", startMethod: .fork) { throw ProcessExit(3) }
    process.forkTestHooks = (stalls: .max, budget: .milliseconds(300))
    let started = ContinuousClock.now
    #expect {
      try process.start()
    } throws: { error in
      guard case ProcessError.childDidNotStart("stuck", let pid, let attempts, .seconds(2)) = error else {
        return false
      }
      return attempts >= 2 && pid > 0 && !processExists(pid) && "\(error)".contains("forkserver")
    }
    #expect(ContinuousClock.now - started < .seconds(3))
    #expect(!activeChildren().contains { $0 === process })
    // Nothing of the process's ran: it can be started again.
    process.forkTestHooks.stalls = 0
    try process.start()
    try process.join(timeout: .seconds(10))
    #expect(try process.exitCode == 3)
  }

  /// 300 fork starts while two threads keep the runtime's caches busy (in the helper
  /// program): the library's path to the closure never stalls, and every child runs.
  @Test func forkStartsWhileOtherThreadsBuildTypes() async throws {
    let (status, figures) = try await onOwnThread { try runHelperForFigures(["stress-fork-starts", "fork"]) }
    #expect(status == 0)
    #expect(figures == ["stalled": 0, "wrong": 0])
  }

  @Test func aTemplateForksChildrenFromItsOwnThread() throws {
    _ = Fixture.ready
    let template = try ForkserverClient.template(entryPoint: TestEntryPoints.exit)
    defer { template.stop() }
    let sleeper = Multiprocessing.Process(
      name: "sleeper", daemon: false, startMethod: nil, template: template, entryPoint: TestEntryPoints.sleep,
      encodedArguments: try TestEntryPoints.sleep.encode(30_000))
    try sleeper.start()
    #expect(parentPid(of: try #require(try sleeper.pid)) == template.serverPid)
    #expect(sleeper.startMethod == .fork)
    try sleeper.kill()
    try sleeper.join(timeout: .seconds(10))
    #expect(try sleeper.exitCode == -SIGKILL)
    for code in [0, 5] {
      let process = Multiprocessing.Process(
        name: "from-template", daemon: false, startMethod: nil, template: template, entryPoint: TestEntryPoints.exit,
        encodedArguments: try TestEntryPoints.exit.encode(Int32(code)))
      try process.start()
      try process.join(timeout: .seconds(10))
      #expect(try process.exitCode == Int32(code))
    }
    template.stop()
    #expect(!processExists(template.serverPid))
    template.stop()  // twice does nothing
  }

  /// Several children asked of a template before any pid is read all start and run; a
  /// start given up leaves the template serving, and its process not started.
  @Test func aTemplateServesStartsAskedAheadAndGivenUp() throws {
    _ = Fixture.ready
    let template = try ForkserverClient.template(entryPoint: TestEntryPoints.exit)
    defer { template.stop() }
    func child(_ code: Int32) throws -> Multiprocessing.Process {
      Multiprocessing.Process(
        name: "ahead-\(code)", daemon: false, startMethod: nil, template: template, entryPoint: TestEntryPoints.exit,
        encodedArguments: try TestEntryPoints.exit.encode(code))
    }
    let batch = try [3, 4, 5].map { try child($0) }
    let pending = try batch.map { try $0.requestStart() }
    #expect(throws: ProcessError.alreadyStarted(name: "ahead-3")) { try batch[0].requestStart() }
    for start in pending { try start.finish() }
    for (process, code) in zip(batch, [3, 4, 5] as [Int32]) {
      try process.join(timeout: .seconds(10))
      #expect(try process.exitCode == code)
    }
    let givenUp = try child(6)
    try givenUp.requestStart().abandon()
    #expect(try givenUp.pid == nil)
    let started = ContinuousClock.now
    let last = try child(7)
    for process in [givenUp, last] {
      try process.start()
      try process.join(timeout: .seconds(10))
    }
    #expect(try givenUp.exitCode == 6 && last.exitCode == 7)
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  /// A template makes each child's run before it forks it (``AnyEntryPoint/prepareRun(encodedArguments:)``):
  /// an entry point that decodes there hands its children the decoded value, and by default
  /// the arguments are decoded in the child, where a `Decodable` conformance's effects belong.
  @Test func aTemplatePreparesEachChildsRunBeforeTheFork() throws {
    _ = Fixture.ready
    for (entryPoint, expected) in [(PreparedAhead() as any AnyEntryPoint, 10), (TestEntryPoints.decodedWhere, 20)] {
      let template = try ForkserverClient.template(entryPoint: entryPoint)
      defer { template.stop() }
      let process = Multiprocessing.Process(
        name: "prepared", daemon: false, startMethod: nil, template: template, entryPoint: entryPoint,
        encodedArguments: try TestEntryPoints.decodedWhere.encode(DecodedWhere()))
      try process.start()
      try process.join(timeout: .seconds(10))
      // 10: prepared in the template, its child's parent; 20: decoded in the child itself.
      #expect(try process.exitCode == Int32(expected), "\(entryPoint.name)")
    }
  }

  @Test func aTemplateStuckBeforeItServesIsReported() throws {
    let started = ContinuousClock.now
    #expect {
      _ = try ForkserverClient.template(entryPoint: TestEntryPoints.exit, budget: .milliseconds(300)) { _ in
        ChildRunner.stallForTesting()
      }
    } throws: { error in
      guard case ProcessError.childDidNotStart(_, let pid, _, _) = error else { return false }
      return !processExists(pid)
    }
    #expect(ContinuousClock.now - started < .seconds(3))
  }

  /// A fork template probes the runtime's locks only when it was forked while its parent had
  /// other threads (one of which might have held one), and only then does the parent run its
  /// own probe first (which fills the conformance cache the template's then finds): run by
  /// the helper program, whose threads the test controls, with none and then with one.
  @Test func aTemplateProbesTheRuntimeOnlyAfterAForkAmongThreads() throws {
    let (helper, stdout) = try launchHelper(["template-probe", "fork"])
    let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0)
    #expect(output == "alone false 0\nthreads true 1\n")
  }

  /// Run by the helper program, a process whose threads the test controls. A logger whose
  /// level hides warnings is not told, and does not use the warning up: it comes once the
  /// level lets it through.
  @Test func forkingWhileOtherThreadsRunIsLoggedOnce() throws {
    let (helper, stdout) = try launchHelper(["fork-warning", "fork", "3"])
    let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0)
    #expect(
      output == "alone 0\nquiet 0\nthreads 1\n",
      "no warning alone, nor at level error; one warning for two forks among threads at level trace")
  }

  /// Run by the helper program, where no other test opens descriptors meanwhile.
  @Test(arguments: StartMethod.allCases)
  func processesAndPoolsDroppedWithoutCloseLeaveNoDescriptor(method: StartMethod) async throws {
    let status = try await onOwnThread {
      let (helper, _) = try launchHelper(["descriptors", method.rawValue])
      helper.waitUntilExit()
      return helper.terminationStatus
    }
    #expect(status == 0, "2: processes leaked descriptors; 3: pools did; 4: wrong results")
  }
}

/// An entry point that decodes its arguments where its child is forked from, and whose child
/// exits with 10 when that was its parent (11 otherwise).
private struct PreparedAhead: AnyEntryPoint {
  var name: String { "prepared-ahead" }
  func run(encodedArguments: Data) throws { throw ProcessExit(12) }
  func prepareRun(encodedArguments: Data) -> () throws -> Void {
    let preparedIn = getpid()
    return { throw ProcessExit(getppid() == preparedIn ? 10 : 11) }
  }
}
