import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Creates child processes for the fork and spawn start methods: the spawn start method, and
/// the fresh runs of the program that the fork server is (the fork start method is in
/// `Fork.swift`).
enum Launcher {
  /// Starts a fresh run of the program that becomes the described child.
  static func spawn(_ description: ChildDescription) throws(ProcessError) -> any ChildHandle {
    let fd = try description.memfd()
    defer { fd.release() }
    return try OwnChild(pid: spawnProgram(role: "spawn", passing: fd))
  }

  /// The environment variable that tells a fresh run of the program which role it has
  /// (`spawn` or `forkserver`); its payload descriptor is 3.
  static let roleVariable = "SWIFT_MULTIPROCESSING_ROLE"

  /// Set, with `LD_BIND_NOW=1`, in the fork server's environment when the parent's had no
  /// `LD_BIND_NOW`: the server then removes both, so that its children and what they run do
  /// not inherit them.
  ///
  /// The dynamic loader binds a function of a shared library (the C library's, the system's
  /// `open`, `mmap`, `clock_gettime`) at its first call, walking every loaded library's symbol
  /// table, and a binding made in a child is lost with it: without this, every child of the
  /// fork server bound again each function the server had never called itself (some five page
  /// faults each). Bound at once, the server's start takes no longer here.
  static let bindNowVariable = "SWIFT_MULTIPROCESSING_BIND_NOW"

  /// posix_spawns the executable with `role` and `fd` as descriptor 3, from a thread that lives
  /// as long as this process, and returns its pid.
  static func spawnProgram(role: String, passing fd: FileDescriptor) throws(ProcessError) -> pid_t {
    let executable = ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.executable }
    let arguments = [CommandLine.arguments.first ?? executable, "--multiprocessing-\(role)"]
    var environment = ["\(roleVariable)=\(role)"]
    var entry = environ
    while let variable = entry.pointee {
      let text = String(cString: variable)
      if !text.hasPrefix(roleVariable + "="), !text.hasPrefix(bindNowVariable + "=") { environment.append(text) }
      entry += 1
    }
    if role == "forkserver", !environment.contains(where: { $0.hasPrefix("LD_BIND_NOW=") }) {
      environment += ["LD_BIND_NOW=1", "\(bindNowVariable)=1"]
    }
    let result: Result<pid_t, Errno> = ForkingThread.shared.perform {
      fflush(nil)
      return withCStrings(arguments) { argv in
        withCStrings(environment) { envp in
          var pid: pid_t = 0
          return Result { () throws(Errno) in
            _ = try SystemCall.shim { cs_spawn(executable, argv, envp, fd.rawValue, &pid) }
            return pid
          }
        }
      }
    }
    do { return try result.get() } catch { throw .system(call: "posix_spawn(\(executable))", errno: error) }
  }

  /// Calls `body` with a NULL-terminated array of C strings.
  private static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
  }
}
