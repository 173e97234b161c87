import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Whole-parent scenarios, run by the helper program `MPTestChild` so that the parent can be
/// killed or can exit: no child outlives it, and children's output is kept whole.
@Suite(.timeLimit(.minutes(3))) struct ParentLifetimeTests {
  /// The pids of the processes whose parent is `pid`.
  func childrenOf(_ pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { candidate in
      guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 2 && Int32(fields[1]) == pid
    }
  }

  @Test(arguments: StartMethod.allCases)
  func aParentKilledWithSIGKILLLeavesNoChildBehind(method: StartMethod) throws {
    let (helper, stdout) = try launchHelper(["killed-parent", method.rawValue, "3"])
    let pids = readPids(stdout)
    #expect(pids.count == 3)
    let family = Set(pids + childrenOf(helper.processIdentifier))  // the fork server too
    #expect(family.allSatisfy(processExists))
    kill(helper.processIdentifier, SIGKILL)
    helper.waitUntilExit()
    #expect(eventually(within: .seconds(1)) { !family.contains(where: processExists) })
  }

  @Test(arguments: StartMethod.allCases)
  func daemonChildrenAreTerminatedWhenTheParentExits(method: StartMethod) throws {
    let started = ContinuousClock.now
    let (helper, stdout) = try launchHelper(["daemon-exit", method.rawValue])
    let pids = readPids(stdout)
    #expect(pids.count == 2)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0)
    #expect(ContinuousClock.now - started < .seconds(10), "the daemon's 60 s sleep was cut short")
    #expect(eventually(within: .seconds(1)) { !pids.contains(where: processExists) })
  }

  @Test(arguments: StartMethod.allCases)
  func childOutputIsNeitherLostNorDuplicated(method: StartMethod) throws {
    let (helper, stdout) = try launchHelper(["output", method.rawValue, "3", "200"])
    let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0)
    let lines = output.split(separator: "\n").map(String.init)
    for marker in ["parent before", "parent between", "parent after"] {
      #expect(lines.filter { $0 == marker }.count == 1, "\(marker)")
    }
    let childLines = lines.filter { $0.hasPrefix("child ") }
    #expect(childLines.count == 600)
    #expect(Set(childLines).count == 600)
    for child in 1...3 {
      #expect(childLines.filter { $0.hasPrefix("child Process-\(child) ") }.count == 200)
    }
  }
}
