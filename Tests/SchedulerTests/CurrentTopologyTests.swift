import Scheduler
import Testing

/// ``Topology/current()``: loaded once, loaded again when the process's affinity changes.
@Suite struct CurrentTopologyTests {
  @Test func isReusedUntilTheAffinityChanges() {
    // In a child of its own, since narrowing the affinity of the test runner would disturb
    // the other tests.
    let (code, output) = inChild { report in
      guard let first = try? Topology.current(), let again = try? Topology.current() else { return 1 }
      report("same \(first === again) system \(first.isThisSystem)")
      let cpu = first.allowedCPUs.indices.first!
      guard (try? Topology.bindCallingThread(to: CPUSet([cpu]))) != nil, let narrowed = try? Topology.current()
      else { return 2 }
      report("reloaded \(narrowed !== first || first.allowedCPUs.count == 1) allowed \(narrowed.allowedCPUs.indices)")
      report("expected [\(cpu)]")
      return 0
    }
    #expect(code == 0)
    let lines = output.split(separator: "\n").map(String.init)
    #expect(lines.count == 3)
    #expect(lines.first == "same true system true")
    guard lines.count == 3 else { return }
    #expect(lines[1] == "reloaded true allowed " + lines[2].dropFirst("expected ".count))
  }
}
