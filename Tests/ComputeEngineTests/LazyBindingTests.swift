import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

/// A forked child calls no function of the C library that its parent has not: the first call
/// of a lazily bound function in a child walks every loaded library's symbol table (some five
/// page faults each, paid again by every child, since the binding stays in the child). The
/// helper program runs under the dynamic loader's `LD_DEBUG=bindings`, which logs every
/// lazy binding with the pid that made it.
@Suite(.timeLimit(.minutes(2)))
struct LazyBindingTests {
  /// The helper starts a process and a pool twice: the first round's children may bind what
  /// the parent had not yet called; the second round's — the process, the pool's fork
  /// template and its workers, pids between the first and the last it prints — bind nothing
  /// in the C library.
  ///
  /// Under the fork server too: it starts with every function bound (`LD_BIND_NOW`), so that
  /// its children find them bound.
  @Test(arguments: [StartMethod.fork, .forkserver])
  func aForkedChildBindsNothingInTheCLibrary(method: StartMethod) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lazy-bindings-\(method)-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let helper = Foundation.Process()
    helper.executableURL = URL(fileURLWithPath: Fixture.helper)
    helper.arguments = ["started-twice", method.rawValue]
    var environment = ProcessInfo.processInfo.environment
    environment["LD_DEBUG"] = "bindings"
    environment["LD_DEBUG_OUTPUT"] = directory.appendingPathComponent("ld").path
    helper.environment = environment
    let stdout = Pipe()
    helper.standardOutput = stdout
    try helper.run()
    let pids = readPids(stdout)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0)
    try #require(pids.count == 3, "a process and two workers")
    let secondRound = try #require(pids.min())...(try #require(pids.max()))
    // Bound in a child only when it takes a rarer path than the parent has yet (a wait that
    // timed out, reading errno; a buffer cleared): the parent binds them too, soon enough.
    let timingDependent = ["__errno_location", "memset", "memcpy", "memmove"]
    var bindings: [String] = []
    for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
      let log = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
      for line in log.split(separator: "\n") where line.contains("libc.so") && line.contains("normal symbol") {
        guard let pid = Int32(line.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces)),
          secondRound.contains(pid)
        else { continue }
        let symbol = String(line.split(separator: "normal symbol").last ?? "")
        if !timingDependent.contains(where: { symbol.contains("`\($0)'") }) { bindings.append(symbol) }
      }
    }
    #expect(bindings.isEmpty, "bound lazily in a child: \(bindings)")
  }
}
