import CHwloc
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// This machine's topology as hwloc discovers it, kept as XML once per user and boot, so
/// that a process's first ``Topology`` reads one file instead of discovering the machine.
///
/// Discovery walks sysfs: about a hundred files on a 2-CPU machine (more with more CPUs), some
/// 0.9 ms that every process's first pool paid; hwloc reads the same machine back from its XML
/// in a tenth of that. The file holds the whole machine (CPUs this process may not use
/// included), so that processes under other cgroups or affinities share it: what a process may
/// use is read from the system at each load (`HWLOC_TOPOLOGY_FLAG_THISSYSTEM_ALLOWED_RESOURCES`),
/// and a topology loaded from the file is this system's, which binding needs.
///
/// The file is `$XDG_CACHE_HOME/swift-multiprocessing/topology.xml` (`~/.cache/…` without
/// it). Its first line is the key it was written under (the file format, hwloc's version, the
/// boot's id and the online CPUs): a reboot or a CPU brought on or offline makes a new one.
/// It is used only when this user owns it and nobody else may write it; it is replaced with a
/// rename, so that concurrent processes read a whole file or none. Nothing is cached when any
/// `HWLOC_` variable but the plugin blacklist is set (they steer discovery), and
/// `SWIFT_MULTIPROCESSING_TOPOLOGY_CACHE=off` turns it off; set to a directory (an absolute
/// path), it moves it.
struct TopologyCache {
  /// The directory of the file.
  let directory: String

  /// The environment variable that turns the cache off (`off`) or moves it (a directory).
  static let variable = "SWIFT_MULTIPROCESSING_TOPOLOGY_CACHE"

  /// The cache this process uses: nil when it is off, or when no directory of this user's
  /// can hold it.
  static var forThisProcess: TopologyCache? {
    // Read with getenv and a walk of the names, not into a dictionary: the first dictionary
    // keyed by `String` in a process has the Swift runtime check that `String` is `Hashable`,
    // by a scan of every conformance record of the program, in the process's first pool.
    var names: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
      let setting = String(cString: pointer)
      if let equals = setting.firstIndex(of: "=") { names.append(String(setting[..<equals])) }
      entry += 1
    }
    return configured(names: names) { name in getenv(name).map { String(cString: $0) } }
  }

  /// The cache `environment` asks for (see the type's description).
  static func configured(by environment: [String: String]) -> TopologyCache? {
    configured(names: Array(environment.keys)) { environment[$0] }
  }

  /// The cache an environment with these variable `names`, whose values `value` gives, asks for.
  private static func configured(names: [String], value: (String) -> String?) -> TopologyCache? {
    if let setting = value(variable) {
      return setting == "off" || !setting.hasPrefix("/") ? nil : TopologyCache(directory: setting)
    }
    // They steer discovery: another machine's file, a synthetic machine, another sysfs root.
    guard !names.contains(where: { $0.hasPrefix("HWLOC_") && $0 != "HWLOC_PLUGINS_BLACKLIST" }) else { return nil }
    if let home = value("XDG_CACHE_HOME"), home.hasPrefix("/") {
      return TopologyCache(directory: home + "/swift-multiprocessing")
    }
    // A home of someone else's (`sudo` keeps the caller's HOME) would get files it cannot use.
    guard let home = value("HOME"), home.hasPrefix("/"), ownedByThisUser(home) else { return nil }
    return TopologyCache(directory: home + "/.cache/swift-multiprocessing")
  }

  var path: String { directory + "/topology.xml" }

  /// The machine's XML when the file holds it under this boot's key; nil otherwise.
  func read() -> [UInt8]? {
    guard let key = Self.key(), let contents = Self.contentsIfTrusted(path),
      let newline = contents.firstIndex(of: UInt8(ascii: "\n")),
      contents[..<newline].elementsEqual(key.utf8)
    else { return nil }
    return Array(contents[(newline + 1)...])
  }

  /// Discovers the whole machine, keeps its XML in the file, and returns it; nil when the
  /// directory cannot hold the file (the caller then discovers the machine as it would
  /// without a cache, rather than paying for an export no later process reads) or hwloc
  /// fails to discover or export it.
  func discoverAndStore() -> [UInt8]? {
    guard Self.makeDirectory(directory), let key = Self.key(), let xml = Self.discoverWholeMachine() else {
      return nil
    }
    store(Array(key.utf8) + [UInt8(ascii: "\n")] + xml)
    return xml
  }

  /// Removes the file (one hwloc refused).
  func remove() {
    unlink(path)
  }

  /// Writes `contents` to a new file and renames it over the cache's; failures are dropped
  /// (the topology is still loaded, the next process tries again).
  private func store(_ contents: [UInt8]) {
    let temporary = "\(directory)/.topology.\(getpid()).tmp"
    guard
      let file = try? FileDescriptor.open(
        temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
        permissions: [.ownerRead, .ownerWrite])
    else { return }
    let written = (try? file.closeAfter { try file.writeAll(contents) }) == contents.count
    if !written || rename(temporary, path) != 0 { unlink(temporary) }
  }

  /// What the file is written under: the format, hwloc's version, the boot and the CPUs
  /// online; nil when the system does not say.
  static func key() -> String? {
    guard let boot = firstLine(of: "/proc/sys/kernel/random/boot_id"),
      let online = firstLine(of: "/sys/devices/system/cpu/online")
    else { return nil }
    return "swift-multiprocessing topology 1; hwloc \(hwloc_get_api_version()); boot \(boot); online \(online)"
  }

  /// The whole machine as hwloc discovers it (disallowed CPUs and nodes included), as XML.
  private static func discoverWholeMachine() -> [UInt8]? {
    var maybeHandle: hwloc_topology_t?
    guard hwloc_topology_init(&maybeHandle) == 0, let handle = maybeHandle else { return nil }
    defer { hwloc_topology_destroy(handle) }
    hwloc_topology_set_flags(handle, Topology.skippedParts | UInt(HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED.rawValue))
    Topology.skipX86Backend(handle)
    guard hwloc_topology_load(handle) == 0, hwloc_topology_is_thissystem(handle) != 0 else { return nil }
    var buffer: UnsafeMutablePointer<CChar>?
    var length: Int32 = 0
    guard hwloc_topology_export_xmlbuffer(handle, &buffer, &length, 0) == 0, let buffer else { return nil }
    defer { hwloc_free_xmlbuffer(handle, buffer) }
    // The length counts the terminating NUL, which hwloc's reader wants too.
    return UnsafeRawBufferPointer(start: buffer, count: Int(length)).map { $0 }
  }

  private static func ownedByThisUser(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_uid == geteuid()
  }

  /// Makes `directory` (and its parent) for this user only, or finds it so; false when it is
  /// not a directory this user owns and nobody else may write.
  private static func makeDirectory(_ directory: String) -> Bool {
    if let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
      mkdir(String(directory[..<slash]), 0o700)
    }
    mkdir(directory, 0o700)
    var status = stat()
    return lstat(directory, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR && status.st_uid == geteuid()
      && status.st_mode & 0o022 == 0
  }

  /// The file's bytes when it is a regular file (not a link) of this user's that nobody else
  /// may write, of at most 16 MiB; nil otherwise.
  private static func contentsIfTrusted(_ path: String) -> [UInt8]? {
    guard let file = try? FileDescriptor.open(path, .readOnly, options: [.noFollow, .closeOnExec]) else { return nil }
    return try? file.closeAfter {
      var status = stat()
      guard fstat(file.rawValue, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid(),
        status.st_mode & 0o022 == 0, status.st_size <= 16 << 20
      else { return nil }
      return [UInt8](try file.readToEnd())
    }
  }

  private static func firstLine(of path: String) -> String? {
    guard let file = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]),
      let bytes = try? file.closeAfter({ try file.readToEnd() })
    else { return nil }
    let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
    return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
  }
}
