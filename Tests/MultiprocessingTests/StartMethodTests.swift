import Foundation
import TestEntryPoints
import Testing

@testable import Multiprocessing

/// The default start method and contexts, with Python's rules. The other tests always name
/// their start method, so changing the default here cannot disturb them.
@Suite(.serialized, .timeLimit(.minutes(3))) struct StartMethodTests {
  @Test func allStartMethodsListsTheThree() {
    #expect(allStartMethods == [.fork, .spawn, .forkserver])
    #expect(StartMethod.forkserver.description == "forkserver")
  }

  @Test func theDefaultCanBeSetOnceUnlessForced() throws {
    defer { try? setStartMethod(.fork, force: true) }
    try setStartMethod(nil, force: true)
    #expect(getStartMethod(allowNone: true) == nil)
    try setStartMethod(.spawn)
    #expect(getStartMethod() == .spawn)
    #expect(throws: ProcessError.startMethodAlreadySet(.spawn)) { try setStartMethod(.fork) }
    #expect(ProcessError.startMethodAlreadySet(.spawn).description.contains("force: true"))
    try setStartMethod(.forkserver, force: true)
    #expect(getStartMethod() == .forkserver)
    #expect(getContext().startMethod == .forkserver)

    try setStartMethod(nil, force: true)
    #expect(getStartMethod() == .fork, "the first read fixes the default")
    #expect(throws: ProcessError.startMethodAlreadySet(.fork)) { try setStartMethod(.spawn) }
  }

  @Test(arguments: StartMethod.allCases)
  func contextsMakeProcessesOfTheirMethod(method: StartMethod) throws {
    _ = Fixture.ready
    let context = getContext(method)
    #expect(context.startMethod == method)
    let process = context.process(entryPoint: TestEntryPoints.exit, arguments: 6)
    #expect(process.startMethod == method)
    try process.start()
    try process.join()
    #expect(try process.exitCode == 6)
  }

  /// A process's arguments arrive whole by every start method, small and large: a fork
  /// server gets a small description in its request and a large one (over
  /// `ForkserverRequest.inlineLimit`) in a memfd.
  @Test(arguments: StartMethod.allCases, [0, 1000, ForkserverRequest.inlineLimit + 1, 300_000])
  func argumentsOfEverySizeArriveWhole(method: StartMethod, count: Int) throws {
    _ = Fixture.ready
    let bytes = TestEntryPoints.patternBytes(count: count)
    let process = Multiprocessing.Process(startMethod: method, entryPoint: TestEntryPoints.checkBytes, arguments: bytes)
    try process.start()
    try process.join()
    #expect(try process.exitCode == 0)
  }

  @Test func aForkContextTakesClosures() throws {
    let process = getContext(.fork).process { throw ProcessExit(8) }
    try process.start()
    try process.join()
    #expect(try process.exitCode == 8)
  }
}

/// The fork server between requests: asleep in `poll`, not spinning. (It once spun at 100 %
/// of a CPU after its first child ended: the SIGCHLD record was read with a buffer smaller
/// than a signalfd record, so the signal stayed pending and `poll` returned at once.)
@Suite(.timeLimit(.minutes(3))) struct ForkserverIdleTests {
  @Test func anIdleForkServerUsesNoCPU() throws {
    _ = Fixture.ready
    let children = try (Int32(0)..<3).map { code in
      let process = Multiprocessing.Process(startMethod: .forkserver, entryPoint: TestEntryPoints.exit, arguments: code)
      try process.start()
      return process
    }
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [0, 1, 2])
    let server = try ForkserverClient.shared().serverPid
    let before = try cpuTicks(of: server)
    usleep(500_000)
    let used = try cpuTicks(of: server) - before
    #expect(used <= 5, "the fork server used \(used) ticks of CPU in 500 ms while idle")
  }

}
