import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body` in a forked child and returns, in the parent, its exit code and what it
/// reported, so that assertions about the child are made in the parent.
///
/// The child must keep to plain synchronous code; it ends with `_exit(body(report))`.
func inChild(_ body: (_ report: (String) -> Void) -> Int32) -> (exitCode: Int32, output: String) {
  var fds: [Int32] = [0, 0]
  precondition(pipe(&fds) == 0, "pipe failed")
  fflush(nil)
  let pid = fork()
  precondition(pid >= 0, "fork failed")
  if pid == 0 {
    close(fds[0])
    let code = body { text in
      var bytes = Array((text + "\n").utf8)
      _ = write(fds[1], &bytes, bytes.count)
    }
    _exit(code)
  }
  close(fds[1])
  var output = Data()
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let count = read(fds[0], &buffer, buffer.count)
    if count <= 0 { break }
    output.append(contentsOf: buffer[0..<count])
  }
  close(fds[0])
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f)
  return (exitCode, String(decoding: output, as: UTF8.self))
}

/// The `Cpus_allowed_list` line of `/proc/<path>/status`, parsed.
func allowedCPUsFromProc(_ path: String) throws -> [Int] {
  let status = try String(contentsOfFile: "/proc/\(path)/status", encoding: .utf8)
  guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else {
    return []
  }
  let list = line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
  var cpus: [Int] = []
  for part in list.split(separator: ",") {
    let bounds = part.split(separator: "-").compactMap { Int($0) }
    cpus += Array(bounds[0]...(bounds.last ?? bounds[0]))
  }
  return cpus
}

/// Runs the helper program `MPTestChild` (built beside the tests) with `arguments` and
/// returns its exit code and output. Scenarios that load a topology run there, not in a
/// child forked from this multi-threaded runner: another thread may hold hwloc's own lock at
/// the fork, and the child would wait for it forever.
func runHelper(_ arguments: [String]) throws -> (exitCode: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("MPTestChild")
  process.arguments = arguments
  let out = Pipe()
  process.standardOutput = out
  try process.run()
  let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return (process.terminationStatus, output)
}
