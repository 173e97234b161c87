import Foundation
import Multiprocessing
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Shared set-up: the test runner registers the test entry points (as a program's `main`
/// would) and spawns the helper program `MPTestChild`, built beside the test bundle, since
/// `/proc/self/exe` is the test runner here.
public enum Fixture {
  /// The build folder the tests run from.
  public static let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().path
  /// The helper program (`MPTestChild`).
  public static let helper = buildDirectory + "/MPTestChild"

  /// Registers the entry points and points spawning at the helper; touch it before spawning.
  public static let ready: Void = {
    bootstrapMultiprocessing(entryPoints: TestEntryPoints.all, managedTypes: [Tally.self])
    setExecutable(helper)
  }()

  /// A new empty directory for one test's files.
  public static func directory() -> String {
    _ = ready
    let path = NSTemporaryDirectory() + "mp-test-\(getpid())-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// A process running `entryPoint` with `arguments`, started with `method`.
  public static func process<A>(
    _ method: StartMethod, _ entryPoint: EntryPoint<A>, _ arguments: A, name: String? = nil, daemon: Bool = false
  ) -> Multiprocessing.Process {
    _ = ready
    return Multiprocessing.Process(
      name: name, daemon: daemon, startMethod: method, entryPoint: entryPoint, arguments: arguments)
  }
}

/// The names of the abstract Unix-domain sockets of this network namespace, as `@name`, from
/// `/proc/net/unix` read to its end (`String(contentsOfFile:)` stops after its first page).
public func abstractSocketNames() throws -> Set<String> {
  let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/unix"))
  defer { try? handle.close() }
  let table = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
  return Set(table.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
}

/// How many descriptors this process has open.
public func openDescriptorCount() -> Int {
  ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
}

/// Whether a process with this pid still exists (a zombie counts as gone).
public func processExists(_ pid: Int32) -> Bool {
  guard kill(pid, 0) == 0 else { return false }
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return false }
  let state = stat[stat.index(close, offsetBy: 2)]
  return state != "Z" && state != "X"
}

/// Waits up to `limit` for `condition`, checking every 10 ms.
public func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
  let deadline = ContinuousClock.now + limit
  while ContinuousClock.now < deadline {
    if condition() { return true }
    usleep(10_000)
  }
  return condition()
}

/// Runs the helper program with `arguments` and returns it running, with its stdout.
public func launchHelper(_ arguments: [String]) throws -> (process: Foundation.Process, stdout: Pipe) {
  let process = Foundation.Process()
  process.executableURL = URL(fileURLWithPath: Fixture.helper)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  return (process, pipe)
}

/// Runs the helper with `arguments` to its end and returns its exit status and the numbers
/// of its last line, `key value key value …`, by key.
public func runHelperForFigures(_ arguments: [String]) throws -> (status: Int32, figures: [String: Int]) {
  let (process, stdout) = try launchHelper(arguments)
  let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  let words = (output.split(separator: "\n").last ?? "").split(separator: " ").map(String.init)
  var figures: [String: Int] = [:]
  for index in stride(from: 0, to: words.count - 1, by: 2) { figures[words[index]] = Int(words[index + 1]) }
  return (process.terminationStatus, figures)
}

/// Reads the helper's first line, `pids A B …`, and returns the pids.
public func readPids(_ pipe: Pipe) -> [Int32] {
  var line = Data()
  while true {
    let byte = pipe.fileHandleForReading.readData(ofLength: 1)
    if byte.isEmpty || byte == Data("\n".utf8) { break }
    line.append(byte)
  }
  return String(decoding: line, as: UTF8.self).split(separator: " ").dropFirst().compactMap { Int32($0) }
}

/// The parent pid of `pid`, from `/proc`; nil once it is gone.
public func parentPid(of pid: Int32) -> Int32? {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return nil }
  let fields = stat[stat.index(after: close)...].split(separator: " ")
  return fields.count > 1 ? Int32(fields[1]) : nil
}

/// Starts `body` in a forked child and returns the process.
public func forked(_ body: @escaping () throws -> Void) throws -> Multiprocessing.Process {
  let process = Multiprocessing.Process(startMethod: .fork, target: body)
  try process.start()
  return process
}

/// Runs `body`, and if it has not returned after `limit`, calls `rescue` (from another thread)
/// so that it does: a hang becomes a failed check instead of a stalled suite. Returns whether
/// the rescue was needed.
public func withWatchdog<T>(
  _ limit: Duration, rescue: @escaping @Sendable () -> Void, _ body: () throws -> T
) rethrows -> (value: T, rescued: Bool) {
  let finished = Atomic<Bool>(false)
  let rescued = Atomic<Bool>(false)
  let (seconds, attoseconds) = limit.components
  DispatchQueue.global().asyncAfter(
    deadline: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
  ) {
    guard !finished.load(ordering: .acquiring) else { return }
    rescued.store(true, ordering: .releasing)
    rescue()
  }
  defer { finished.store(true, ordering: .releasing) }
  let value = try body()
  return (value, rescued.load(ordering: .acquiring))
}

/// Runs `body` on a thread of its own and awaits it: a test that blocks for seconds must not
/// hold one of the few threads of the cooperative pool, which every async test shares.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    let thread = Thread { continuation.resume(with: Result { try body() }) }
    thread.stackSize = 8 << 20
    thread.start()
  }
}

/// The CPU time process `pid` has used (utime + stime of `/proc/PID/stat`), in clock ticks
/// (1/100 s).
public func cpuTicks(of pid: Int32) throws -> Int {
  let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
  let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
  return Int(fields[11])! + Int(fields[12])!
}

/// A `pthread_mutex`, private to this process (as the Swift runtime's and malloc's locks
/// are), locked by the thread that made it: a child forked meanwhile that takes it waits for
/// ever.
public final class HeldMutex: @unchecked Sendable {
  // @unchecked: only the thread that made it locks and unlocks the mutex here; forked
  // children have their own copy of it.
  /// The mutex.
  public let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  /// The mutex's address, as `0x7f…`: where a child stuck on it waits.
  public var address: String { "0x" + String(UInt(bitPattern: mutex), radix: 16) }

  /// A mutex, locked by the calling thread.
  public init() {
    pthread_mutex_init(mutex, nil)
    pthread_mutex_lock(mutex)
  }

  deinit {
    pthread_mutex_unlock(mutex)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }
}

/// The whole of a file under `/proc` (empty when it cannot be read): such files say they are
/// empty, and `String(contentsOfFile:)` reads one page of them only.
public func procFile(_ path: String) -> String {
  guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
  defer { try? handle.close() }
  return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}
