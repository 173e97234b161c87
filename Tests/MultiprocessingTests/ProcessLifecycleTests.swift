import CSystemShims
import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A process's attributes and exit codes, for every start method. Every assertion about a
/// child is made here, in the parent, from what the child left behind.
@Suite(.timeLimit(.minutes(3))) struct ProcessLifecycleTests {
  @Test(arguments: StartMethod.allCases)
  func attributesBeforeDuringAndAfterARun(method: StartMethod) throws {
    let process = Fixture.process(method, TestEntryPoints.sleep, 300)
    #expect(try process.pid == nil)
    #expect(try !process.isAlive)
    #expect(try process.exitCode == nil)
    #expect(process.name.hasPrefix("Process-"))
    #expect(!process.daemon)
    #expect(process.startMethod == method)

    try process.start()
    let pid = try #require(try process.pid)
    #expect(pid != getpid())
    #expect(try process.isAlive)
    #expect(try process.exitCode == nil)
    #expect(processExists(pid))
    #expect(activeChildren().contains { $0 === process })
    // Under its name, as ps and top show it (not the forking thread's, nor the program's).
    #expect(
      eventually { (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "\(process.name)\n" },
      "\((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "")")

    #expect(try process.join(timeout: .milliseconds(1)) == nil, "still sleeping: no status yet")
    #expect(try process.join() == .exited(0), "join returns the status, no try needed to read it")
    #expect(try process.join() == .exited(0), "and again once ended")
    #expect(try !process.isAlive)
    #expect(try process.exitCode == 0)
    #expect(try process.pid == pid)
    #expect(eventually { !processExists(pid) })
    #expect(!activeChildren().contains { $0 === process })
  }

  @Test(arguments: StartMethod.allCases)
  func theChildSeesItselfAndItsParent(method: StartMethod) throws {
    let path = Fixture.directory() + "/report.json"
    let process = Fixture.process(method, TestEntryPoints.report, path, name: "first name", daemon: true)
    process.name = "probe"
    try process.start()
    try process.join()
    #expect(try process.exitCode == 0)
    let report = try ChildReport.read(from: path)
    #expect(report.name == "probe")
    #expect(try report.pid == process.pid)
    #expect(report.parentPid == getpid())
    #expect(report.parentName == "MainProcess")
    #expect(report.daemon)
    #expect(report.currentIsAlive)
    // A fork-server child's kernel parent is the server, not this process.
    #expect((report.ppid == getpid()) == (method != .forkserver))
  }

  /// The fork server starts with every function bound (`LD_BIND_NOW`), which it then removes
  /// from its environment: no child inherits it, nor the variable that told the server so.
  @Test(arguments: StartMethod.allCases)
  func aChildInheritsNoBindingSetting(method: StartMethod) throws {
    for name in ["LD_BIND_NOW", "SWIFT_MULTIPROCESSING_BIND_NOW"] {
      let process = Fixture.process(method, TestEntryPoints.unset, name)
      try process.start()
      try process.join()
      #expect(try process.exitCode == (getenv(name) == nil ? 0 : 1), "\(name) in a \(method) child")
    }
  }

  @Test(arguments: StartMethod.allCases)
  func exitCodePaths(method: StartMethod) throws {
    let cases: [(Multiprocessing.Process, Int32)] = [
      (Fixture.process(method, TestEntryPoints.sleep, 0), 0),
      (Fixture.process(method, TestEntryPoints.exit, 3), 3),
      (Fixture.process(method, TestEntryPoints.cExit, 5), 5),
      (Fixture.process(method, TestEntryPoints.fail, "on purpose"), 1),
      (Fixture.process(method, TestEntryPoints.abort, 0), -SIGABRT),
      (Fixture.process(method, TestEntryPoints.segfault, 8), -SIGSEGV),
    ]
    for (process, _) in cases { try process.start() }
    for (process, expected) in cases {
      try process.join()
      let code = try process.exitCode
      #expect(code == expected, "\(process.name) exited with \(String(describing: code))")
    }
  }

  @Test(arguments: StartMethod.allCases)
  func aSwiftTrapIsReportedAsItsSignal(method: StartMethod) throws {
    let process = Fixture.process(method, TestEntryPoints.trap, [1, 2])
    try process.start()
    try process.join()
    #expect([-SIGILL, -SIGTRAP].contains(try process.exitCode ?? 0))
  }

  @Test(arguments: StartMethod.allCases)
  func terminateAndKill(method: StartMethod) throws {
    let terminated = Fixture.process(method, TestEntryPoints.sleep, 30_000)
    let killed = Fixture.process(method, TestEntryPoints.sleep, 30_000)
    try terminated.start()
    try killed.start()
    try terminated.terminate()
    try killed.kill()
    try terminated.join(timeout: .seconds(5))
    try killed.join(timeout: .seconds(5))
    #expect(try terminated.exitCode == -SIGTERM)
    #expect(try killed.exitCode == -SIGKILL)
    try terminated.terminate()  // ended: a no-op
  }

  @Test func joinWithATimeoutReturnsWhileTheChildRuns() throws {
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 30_000)
    try process.start()
    let started = ContinuousClock.now
    try process.join(timeout: .milliseconds(100))
    let waited = ContinuousClock.now - started
    #expect(waited >= .milliseconds(100))
    #expect(try process.isAlive)
    #expect(try process.exitCode == nil)
    try process.kill()
    try process.join()
    #expect(try process.exitCode == -SIGKILL)
  }

  @Test(arguments: StartMethod.allCases)
  func asyncJoin(method: StartMethod) async throws {
    let processes = (0..<4).map { Fixture.process(method, TestEntryPoints.exit, Int32($0)) }
    for process in processes { try process.start() }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for process in processes { group.addTask { try await process.join() } }
      try await group.waitForAll()
    }
    #expect(try processes.map { try $0.exitCode } == [0, 1, 2, 3])
  }

  @Test func asyncJoinWithATimeoutAndCancellation() async throws {
    // Five minutes (it is killed below): on two CPUs the suite's blocking tests can hold
    // every cooperative thread for tens of seconds, and this test's awaits resume only then
    // (a CI run saw the 30 s the child used to sleep go by).
    let process = Fixture.process(.fork, TestEntryPoints.sleep, 300_000)
    try process.start()
    let started = ContinuousClock.now
    try await process.join(timeout: .milliseconds(100))
    #expect(ContinuousClock.now - started >= .milliseconds(100))
    #expect(try process.isAlive)

    let waiter = Task { try await process.join() }
    try await Task.sleep(for: .milliseconds(50))
    waiter.cancel()
    #expect(try await waiter.value == nil, "a cancelled join has no status")
    #expect(try process.isAlive, "a cancelled join returns while the process runs")

    try process.kill()
    try await process.join()
    #expect(try process.exitCode == -SIGKILL)
  }

  @Test func aThrowingTargetPrintsItsErrorToStandardError() throws {
    let path = Fixture.directory() + "/stderr.txt"
    let process = Multiprocessing.Process(name: "thrower", startMethod: .fork) {
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
      dup2(fd, 2)
      throw ChildFailure(message: "boom")
    }
    try process.start()
    try process.join()
    #expect(try process.exitCode == 1)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text == "Process thrower:\nChildFailure: boom\n")
  }

  @Test func closureTargetCapturesState() throws {
    let path = Fixture.directory() + "/out.txt"
    let captured = (1...10).reduce(0, +)
    let process = Multiprocessing.Process(startMethod: .fork) {
      try "\(captured)".write(toFile: path, atomically: false, encoding: .utf8)
    }
    try process.start()
    try process.join()
    #expect(try process.exitCode == 0)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "55")
  }

  @Test func runCalledDirectlyRunsHereWithoutANewProcess() throws {
    let ran = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    defer { ran.deallocate() }
    ran.pointee = 0
    let process = Multiprocessing.Process(startMethod: .fork) { ran.pointee = getpid() }
    try process.run()
    #expect(ran.pointee == getpid())
    #expect(try process.pid == nil)
    #expect(try process.exitCode == nil)
  }

  final class Worker: Multiprocessing.Process, @unchecked Sendable {
    override func run() throws { throw ProcessExit(7) }
  }

  /// Reports, as its exit code, whether the runtime's hooks on `throw` reached it.
  final class HookProbe: Multiprocessing.Process, @unchecked Sendable {
    override func run() throws { throw ProcessExit(cs_throw_hooks_installed() == 0 ? 0 : 3) }
  }

  /// Swift Testing hooks every `throw` (to keep its backtrace), and its hook takes locks; a
  /// forked child that inherited it, and a lock held by another thread at the fork, blocked
  /// forever on its first `throw` (1 of 27 runs of this suite beside others). A child starts
  /// without the hooks.
  @Test func aForkedChildStartsWithoutTheParentsThrowHooks() throws {
    #expect(cs_throw_hooks_installed() != 0, "Swift Testing hooks throws in this process")
    let probe = HookProbe(startMethod: .fork)
    try probe.start()
    try probe.join(timeout: .seconds(20))
    #expect(try probe.exitCode == 0)
  }

  @Test func aSubclassOverridesRun() throws {
    let worker = Worker(startMethod: .fork)
    try worker.start()
    try worker.join()
    #expect(try worker.exitCode == 7)
    #expect(throws: ProcessExit(7)) { try worker.run() }
  }

  @Test(arguments: StartMethod.allCases)
  func aChildStartsGrandchildren(method: StartMethod) throws {
    let directory = Fixture.directory()
    let process = Fixture.process(
      method, TestEntryPoints.family, FamilyPlan(method: method, count: 2, directory: directory))
    try process.start()
    try process.join(timeout: .seconds(20))
    #expect(try process.exitCode == 0)
    let parent = try ChildReport.read(from: directory + "/parent.json")
    #expect(try parent.pid == process.pid)
    for index in 0..<2 {
      let child = try ChildReport.read(from: directory + "/child-\(index).json")
      #expect(try child.parentPid == process.pid)
      #expect(child.parentName == process.name)
      #expect(child.name == "\(process.name):\(index + 1)")
    }
  }

  /// In a fork-server child: a child forked from this multi-threaded runner could inherit a
  /// runtime lock held, which the hooks' new types would wait for.
  @Test func exitHooksRunInOrderAndARemovedOneDoesNot() throws {
    let path = Fixture.directory() + "/hooks.txt"
    let process = Fixture.process(.forkserver, TestEntryPoints.exitHooks, path)
    try process.start()
    #expect(try process.join(timeout: .seconds(20)) == .exited(0))
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "ac")
  }

  @Test func activeChildrenListsRunningChildrenAndReapsEndedOnes() throws {
    let short = Fixture.process(.fork, TestEntryPoints.sleep, 0)
    let long = Fixture.process(.fork, TestEntryPoints.sleep, 30_000)
    try short.start()
    try long.start()
    #expect(activeChildren().contains { $0 === long })
    #expect(eventually { !activeChildren().contains { $0 === short } })
    #expect(try short.exitCode == 0)
    try long.kill()
    #expect(eventually { !activeChildren().contains { $0 === long } })
    #expect(try long.exitCode == -SIGKILL)
  }

  @Test func cpuCountIsTheOnlineCPUCount() {
    #expect(cpuCount() == sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    #expect(cpuCount() >= 1)
  }

  @Test func theMainProcess() throws {
    let main = currentProcess()
    #expect(main.name == "MainProcess")
    #expect(try main.pid == getpid())
    #expect(try main.isAlive)
    #expect(parentProcess() == nil)
    #expect(currentProcess() === main)
  }
}
