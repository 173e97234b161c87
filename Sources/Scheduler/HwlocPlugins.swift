#if canImport(Glibc)
  import Glibc
#endif

/// hwloc's plugins that a placement never uses, kept from loading.
///
/// At its first topology in a process, hwloc loads every plugin it finds, with the libraries
/// each links, and they stay mapped: every later fork of the process copies their mappings,
/// and every child the process spawns loads them again at its first topology. None of these
/// four is used here:
/// - `hwloc_gl` (X displays; libX11, libxcb and five more) and `hwloc_opencl` (OpenCL
///   devices): 0.9 ms of the 1.5 ms a process's first topology took on the project's machine.
/// - `hwloc_pci` (PCI devices; libpciaccess): I/O objects are left out of the topology (hwloc's
///   default type filter for them), so the plugin never runs.
/// - `hwloc_xml_libxml` (XML through libxml2, which brings ICU, lzma and zlib): hwloc reads
///   and writes its XML with its own parser without it; ``Topology/exportXML(to:)`` and
///   `Topology(.xml(path:))` work the same. (Only a refused file's diagnosis uses libxml2,
///   loaded then.)
///
/// hwloc's only switch is the environment variable `HWLOC_PLUGINS_BLACKLIST`, read when it
/// first initialises: the scheduler sets it before its first topology, unless it is already
/// set (an empty value keeps every plugin). It is then also in the environment of the
/// process's children.
enum HwlocPlugins {
  /// The plugins kept from loading.
  static let skipped = "hwloc_gl,hwloc_opencl,hwloc_pci,hwloc_xml_libxml"

  /// Sets the variable, once per process, unless set.
  static let trimmed: Void = {
    setenv("HWLOC_PLUGINS_BLACKLIST", skipped, 0)
  }()
}
