#if canImport(Glibc)
  import Glibc
#endif

/// hwloc's plugins that a placement never uses, kept from loading.
///
/// At its first topology in a process, hwloc loads every plugin it finds. Two describe devices
/// no placement looks at: `hwloc_gl` (X displays; it brings in libX11 and libxcb) and
/// `hwloc_opencl` (OpenCL devices). Loading them was 0.9 ms of the 1.5 ms a process's first
/// topology took on the project's machine, and their libraries stay mapped, so that every later
/// fork of the process copies their mappings too (a new pool's cold start: 0.88 of the time
/// with them, same binary). hwloc's only switch is the environment variable
/// `HWLOC_PLUGINS_BLACKLIST`, read when it first initialises: the scheduler sets it before its
/// first topology, unless it is already set (an empty value keeps every plugin). It is then
/// also in the environment of the process's children.
enum HwlocPlugins {
  /// The plugins kept from loading.
  static let skipped = "hwloc_gl,hwloc_opencl"

  /// Sets the variable, once per process, unless set.
  static let trimmed: Void = {
    setenv("HWLOC_PLUGINS_BLACKLIST", skipped, 0)
  }()
}
