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

  /// The plugins kept from loading, and a library each would have brought.
  static let skipped = [
    ("hwloc_gl", "libX11.so"), ("hwloc_opencl", "libOpenCL.so"), ("hwloc_pci", "libpciaccess.so"),
    ("hwloc_xml_libxml", "libxml2.so"),
  ]

  @Test func pluginsNoPlacementUsesAreNotLoaded() throws {
    let trimmed = try loaded([])
    #expect(trimmed.variable == "hwloc_gl,hwloc_opencl,hwloc_pci,hwloc_xml_libxml")
    #expect(trimmed.plugins.isDisjoint(with: Self.skipped.map(\.0)), "\(trimmed.plugins)")
    // Nor their libraries: libxml2 (and ICU with it) in particular is loaded only to say why
    // an XML topology was refused.
    for (_, library) in Self.skipped {
      #expect(!trimmed.libraries.contains { $0.hasPrefix(library) }, "\(library) is mapped")
    }
    #expect(!trimmed.libraries.contains { $0.hasPrefix("libicu") }, "\(trimmed.libraries)")
    // A user who set the variable (here empty) keeps what hwloc loads by itself: every plugin
    // installed, those above among them where this machine has them, with their libraries.
    let kept = try loaded(["keep"])
    #expect(kept.variable == "")
    #expect(kept.plugins.isSuperset(of: trimmed.plugins))
    let installed = Self.skipped.filter { name, _ in
      ["/usr/lib/x86_64-linux-gnu/hwloc", "/usr/lib64/hwloc", "/usr/lib/hwloc", "/usr/local/lib/hwloc"].contains {
        FileManager.default.fileExists(atPath: "\($0)/\(name).so")
      }
    }
    #expect(kept.plugins.isSuperset(of: installed.map(\.0)), "installed: \(installed), loaded: \(kept.plugins)")
    for (_, library) in installed {
      #expect(kept.libraries.contains { $0.hasPrefix(library) }, "\(library) is not mapped: \(kept.libraries)")
    }
  }
}
