import Foundation
import Testing

/// The hwloc plugins a placement never uses are not loaded, unless the user keeps them.
@Suite(.timeLimit(.minutes(3))) struct HwlocPluginsTests {
  /// What a helper process had mapped after its first topology (hwloc's plugins, and every
  /// shared library), and the variable then.
  func loaded(_ arguments: [String]) throws -> (plugins: Set<String>, libraries: Set<String>, variable: String) {
    let (code, output) = try runHelper(["hwloc-plugins", "fork"] + arguments)
    #expect(code == 0)
    let fields = Dictionary(
      (output.split(separator: "\n").last ?? "").split(separator: " ").map {
        ($0.prefix { $0 != "=" }, String($0.drop { $0 != "=" }.dropFirst()))
      }, uniquingKeysWith: { first, _ in first })
    let (plugins, libraries, variable) = try (
      #require(fields["plugins"]), #require(fields["libraries"]), #require(fields["variable"])
    )
    func set(_ list: String) -> Set<String> { Set(list.split(separator: ",").map(String.init)) }
    return (set(plugins), set(libraries), variable)
  }

  @Test func theDisplayAndOpenCLPluginsAreNotLoaded() throws {
    let trimmed = try loaded([])
    #expect(trimmed.variable == "hwloc_gl,hwloc_opencl")
    #expect(trimmed.plugins.isDisjoint(with: ["hwloc_gl", "hwloc_opencl"]), "\(trimmed.plugins)")
    // A user who set the variable (here empty) keeps what hwloc loads by itself: every plugin
    // installed, the two above among them where this machine has them, with their libraries.
    let kept = try loaded(["keep"])
    #expect(kept.variable == "")
    #expect(kept.plugins.isSuperset(of: trimmed.plugins))
    let installed = ["hwloc_gl", "hwloc_opencl"].filter { name in
      ["/usr/lib/x86_64-linux-gnu/hwloc", "/usr/lib64/hwloc", "/usr/lib/hwloc", "/usr/local/lib/hwloc"].contains {
        FileManager.default.fileExists(atPath: "\($0)/\(name).so")
      }
    }
    #expect(kept.plugins.isSuperset(of: installed), "installed: \(installed), loaded: \(kept.plugins)")
    if !installed.isEmpty {
      #expect(kept.libraries.count > trimmed.libraries.count, "\(kept.libraries.subtracting(trimmed.libraries))")
    }
  }
}
