import CHwloc
import Foundation
import Testing

@testable import Scheduler

#if canImport(Glibc)
  import Glibc
#endif

/// ``TopologyCache``: this machine kept as XML per user and boot, read back as the machine
/// discovery finds, trusted only when it is this user's, replaced when stale or refused.
@Suite struct TopologyCacheTests {
  /// A fresh cache directory, removed by `body`'s end.
  func withCache(_ body: (TopologyCache) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("topology-cache-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(TopologyCache(directory: directory))
  }

  func contents(_ cache: TopologyCache) -> String? {
    FileManager.default.contents(atPath: cache.path).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The machine's XML, kept under this boot's key (or `key`), with an info on the machine
  /// object that only a topology read from the file has.
  func plant(in cache: TopologyCache, key: String? = nil, mode: mode_t = 0o600) throws {
    let discovered = try #require(TopologyCache(directory: cache.directory + "-scratch").discoverAndStore())
    defer { try? FileManager.default.removeItem(atPath: cache.directory + "-scratch") }
    var xml = String(decoding: discovered.dropLast(), as: UTF8.self)
    let machine = try #require(xml.range(of: "<object type=\"Machine\"[^>]*>", options: .regularExpression))
    xml.insert(contentsOf: "<info name=\"PlantedByTheTest\" value=\"yes\"/>", at: machine.upperBound)
    try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
    let file = try #require(key ?? TopologyCache.key()) + "\n" + xml + "\0"
    #expect(FileManager.default.createFile(atPath: cache.path, contents: Data(file.utf8)))
    #expect(chmod(cache.path, mode) == 0)
  }

  func planted(_ topology: Topology) -> Bool {
    hwloc_obj_get_info_by_name(hwloc_get_root_obj(topology.handle), "PlantedByTheTest") != nil
  }

  @Test func aCachedMachineLoadsAsTheDiscoveredOne() throws {
    try withCache { cache in
      let discovered = try Topology(.thisSystem, restrictedTo: nil, cache: nil)
      let first = try Topology(.thisSystem, restrictedTo: nil, cache: cache)
      let key = try #require(TopologyCache.key())
      #expect(contents(cache)?.hasPrefix(key + "\n<?xml") == true)
      var status = stat()
      #expect(stat(cache.path, &status) == 0 && status.st_mode & 0o777 == 0o600)
      let second = try Topology(.thisSystem, restrictedTo: nil, cache: cache)
      for topology in [first, second] {
        #expect(topology.isThisSystem)
        #expect(topology.packages == discovered.packages && topology.numaNodes == discovered.numaNodes)
        #expect(topology.cores == discovered.cores && topology.processingUnits == discovered.processingUnits)
        #expect(topology.caches == discovered.caches)
        #expect(topology.allowedCPUs == discovered.allowedCPUs && topology.existingCPUs == discovered.existingCPUs)
        #expect(try Topology.binding(topology.handle, scope: .process) == discovered.allowedCPUs)
      }
      // Restricted as a discovered machine is.
      let one = try #require(discovered.allowedCPUs.first)
      let restricted = try Topology(.thisSystem, restrictedTo: CPUSet([one]), cache: cache)
      #expect(restricted.allowedCPUs == CPUSet([one]) && restricted.processingUnits.count == 1)
    }
  }

  @Test func theFileIsWhatALoadReads() throws {
    try withCache { cache in
      try plant(in: cache)
      #expect(planted(try Topology(.thisSystem, restrictedTo: nil, cache: cache)))
      #expect(!planted(try Topology(.thisSystem, restrictedTo: nil, cache: nil)))
    }
  }

  @Test func aFileOfAnotherBootIsReplaced() throws {
    try withCache { cache in
      try plant(in: cache, key: "swift-multiprocessing topology 1; hwloc 0; boot another; online 0")
      #expect(!planted(try Topology(.thisSystem, restrictedTo: nil, cache: cache)))
      #expect(contents(cache)?.hasPrefix(try #require(TopologyCache.key()) + "\n") == true)
      #expect(contents(cache)?.contains("PlantedByTheTest") == false)
    }
  }

  @Test func aFileOthersMayWriteIsNotTrusted() throws {
    try withCache { cache in
      try plant(in: cache, mode: 0o666)
      #expect(!planted(try Topology(.thisSystem, restrictedTo: nil, cache: cache)))
      var status = stat()
      #expect(stat(cache.path, &status) == 0 && status.st_mode & 0o777 == 0o600, "replaced by a file of its own")
    }
  }

  @Test func aFileHwlocRefusesIsRemovedAndTheMachineDiscovered() throws {
    try withCache { cache in
      try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
      let file = try #require(TopologyCache.key()) + "\n<?xml version=\"1.0\"?><topology><object\0"
      #expect(FileManager.default.createFile(atPath: cache.path, contents: Data(file.utf8)))
      #expect(chmod(cache.path, 0o600) == 0)
      let topology = try Topology(.thisSystem, restrictedTo: nil, cache: cache)
      #expect(topology.processingUnits == (try Topology(.thisSystem, restrictedTo: nil, cache: nil)).processingUnits)
      #expect(!FileManager.default.fileExists(atPath: cache.path))
    }
  }

  /// A directory that cannot be made (here, under a regular file) gets no export: the
  /// machine is discovered as without a cache.
  @Test func aCacheThatCannotBeWrittenIsPassedBy() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("topology-file-\(UUID())").path
    #expect(FileManager.default.createFile(atPath: file, contents: Data()))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let cache = TopologyCache(directory: file + "/cache")
    #expect(cache.discoverAndStore() == nil)
    let topology = try Topology(.thisSystem, restrictedTo: nil, cache: cache)
    #expect(topology.isThisSystem)
    #expect(topology.processingUnits == (try Topology(.thisSystem, restrictedTo: nil, cache: nil)).processingUnits)
  }

  @Test func theEnvironmentChoosesTheCache() throws {
    let variable = TopologyCache.variable
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("topology-home-\(UUID())").path
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: home) }
    #expect(TopologyCache.configured(by: ["HOME": home])?.directory == home + "/.cache/swift-multiprocessing")
    #expect(
      TopologyCache.configured(by: ["HOME": home, "HWLOC_PLUGINS_BLACKLIST": "hwloc_gl"])?.directory
        == home + "/.cache/swift-multiprocessing")
    #expect(
      TopologyCache.configured(by: ["HOME": home, "XDG_CACHE_HOME": "/var/cache/u"])?.directory
        == "/var/cache/u/swift-multiprocessing")
    #expect(TopologyCache.configured(by: ["HOME": home, variable: "/elsewhere"])?.directory == "/elsewhere")
    #expect(TopologyCache.configured(by: ["HOME": home, variable: "off"]) == nil)
    #expect(TopologyCache.configured(by: ["HOME": home, variable: "relative"]) == nil)
    #expect(TopologyCache.configured(by: ["HOME": home, "HWLOC_XMLFILE": "/m.xml"]) == nil)
    #expect(TopologyCache.configured(by: ["HOME": home, "HWLOC_SYNTHETIC": "pu:2"]) == nil)
    #expect(TopologyCache.configured(by: [:]) == nil)
    // A home that is not this user's (as under sudo) gets no file.
    let others = geteuid() == 0 ? home : "/"
    if geteuid() == 0 { #expect(chown(home, 65534, 65534) == 0) }
    #expect(TopologyCache.configured(by: ["HOME": others]) == nil)
  }
}
