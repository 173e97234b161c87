import Scheduler
import Testing

/// ``Topology/current()``: loaded once, loaded again when the process's affinity changes.
@Suite(.timeLimit(.minutes(3))) struct CurrentTopologyTests {
  @Test func isReusedUntilTheAffinityChanges() throws {
    // In the helper program: narrowing the test runner's affinity would disturb the other
    // tests (and see runHelper on forking).
    let (code, output) = try runHelper(["topology-cache", "fork"])
    #expect(code == 0)
    let lines = output.split(separator: "\n").map(String.init)
    #expect(lines.count == 3)
    #expect(lines.first == "same true system true")
    guard lines.count == 3 else { return }
    #expect(lines[1] == "reloaded true allowed " + lines[2].dropFirst("expected ".count))
  }
}
