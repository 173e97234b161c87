import CSystemShims
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

extension SystemCall {
  /// Sends `signal` to process (or thread) `pid`; signal 0 only checks that it exists.
  package static func sendSignal(_ signal: Int32, to pid: pid_t) throws(Errno) {
    _ = try retrying { Glibc.kill(pid, signal) }
  }

  /// What the calling process has used so far (`getrusage(RUSAGE_SELF)`): user and system
  /// CPU time, and its largest resident set in kilobytes. Allocates nothing, so a forked
  /// worker may call it.
  package static func ownResourceUsage() -> (user: Duration, system: Duration, maxResidentKilobytes: Int) {
    var usage = rusage()
    // RUSAGE_SELF with a valid pointer cannot fail.
    _ = getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
    return (duration(usage.ru_utime), duration(usage.ru_stime), usage.ru_maxrss)
  }

  /// Gives the calling thread's CPU to another thread waiting for it, if any
  /// (`sched_yield`); returns at once otherwise. It cannot fail on Linux.
  package static func yieldProcessor() {
    _ = sched_yield()
  }

  /// Names the calling thread (the whole process, for a single-threaded one) as `ps`, `top`
  /// and `/proc/PID/comm` show it; the kernel keeps the first 15 bytes. The result is dropped:
  /// `PR_SET_NAME` fails only for a name it cannot read. Through `withCString`, which lends a
  /// short name's bytes from the stack: the implicit conversion of a `String` argument copied
  /// a small string (a child's `Process-12`) into a new array, which a forked child paid in
  /// page faults (the allocation's heap page and five pages of code).
  package static func setThreadName(_ name: String) {
    _ = name.withCString { cs_set_thread_name($0) }
  }

  /// Ignores `signal` in this process (`SIG_IGN`). The result is dropped: it fails only for
  /// a signal that cannot be ignored (SIGKILL, SIGSTOP) or an invalid number.
  package static func ignoreSignal(_ signal: Int32) {
    _ = cs_ignore_signal(signal)
  }

  /// A pidfd for `pid`: a descriptor that becomes readable when it ends, and through which
  /// it can be signalled without a pid-reuse race.
  package static func openPidfd(_ pid: pid_t) throws(Errno) -> FileDescriptor {
    FileDescriptor(rawValue: try shim { cs_pidfd_open(pid) })
  }

  /// The scheduling state of process or thread `id`, the third field of `/proc/ID/stat`
  /// (`R` running, `S` asleep, `D` disk wait, `Z` zombie, …), or nil when it cannot be read
  /// (it is gone).
  package static func schedulingState(of id: pid_t) -> UInt8? {
    withStatFields("/proc/\(id)/stat") { $0.first }
  }

  /// How many minor page faults process `id` has taken (`minflt`, the tenth field of
  /// `/proc/ID/stat`: faults served without reading from disk, such as a forked child's
  /// copies of the pages it writes and its mappings of code already in memory), or nil when
  /// it cannot be read (it is gone). A child's count starts at zero at its fork.
  package static func minorPageFaults(of id: pid_t) -> Int? {
    withStatFields("/proc/\(id)/stat") { fields in
      // From the third field on ("S 1 2 …"): the eighth word is the tenth field.
      let words = fields.split(separator: UInt8(ascii: " "), maxSplits: 8)
      return words.count > 7 ? Int(String(decoding: words[7], as: UTF8.self)) : nil
    }
  }

  /// The address of the lock (its futex word) that process `id` waits on for good, or nil.
  ///
  /// Stuck for good is: one thread, waiting with no timeout on a futex private to its process
  /// (as a `pthread_mutex` or the Swift runtime's locks wait), which nothing but another
  /// thread of that process could wake. A child forked while another thread of its parent
  /// held such a lock waits so for ever when it takes the lock. (This package's own locks wait
  /// on shared futexes, never on private ones.) Nil also when it cannot tell: the process
  /// runs, has other threads, or is gone.
  package static func privateLockWaitedOnForGood(by id: pid_t) -> Int? {
    guard threadCount(of: id) == 1,
      let fd = try? FileDescriptor.openClosingOnExec("/proc/\(id)/syscall", flags: O_RDONLY)
    else { return nil }
    defer { fd.release() }
    // "202 0x7f… 0x80 0x2 0x0 …": the call's number, then its arguments in hexadecimal;
    // "running" while it runs. The first four arguments are enough.
    let fields: [Int]? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
      guard let count = try? fd.readSome(into: UnsafeMutableRawBufferPointer(buffer)) else { return nil }
      return syscallFields(UnsafeBufferPointer(rebasing: buffer[0..<count]))
    }
    guard let fields, cs_is_untimed_private_futex_wait(fields[0], fields[2], fields[4]) == 1 else { return nil }
    return fields[1]
  }

  /// Where `address` lies in process `id`'s memory, as its `/proc/ID/maps` says: the file
  /// mapped there with the address's offset in that file (`0x7f… in /usr/lib/libx.so, file
  /// offset 0x1c0c0`), `[heap]`, `[stack]`, or an anonymous mapping, named after the file's
  /// mapping it follows when there is one (`0x7f… in an anonymous mapping after
  /// /usr/lib/libx.so's, 0x3b8 into it`: a library's zero-filled data, its `.bss`, where its
  /// static locks lie, is mapped so; so may be memory mapped there since); the address alone
  /// when the map cannot be read.
  package static func place(of address: Int, in id: pid_t) -> String {
    let hex = "0x" + String(address, radix: 16)
    guard let fd = try? FileDescriptor.openClosingOnExec("/proc/\(id)/maps", flags: O_RDONLY) else { return hex }
    defer { fd.release() }
    guard let contents = try? fd.readToEnd() else { return hex }
    // "7f12a000-7f12b000 rw-p 0001c000 fd:01 1234    /usr/lib/libx.so"
    var previous: (end: Int, name: String) = (0, "")
    for line in String(decoding: contents, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
      let bounds = fields.first?.split(separator: "-").compactMap { Int($0, radix: 16) } ?? []
      guard fields.count >= 5, bounds.count == 2, let offset = Int(fields[2], radix: 16) else { continue }
      let name = fields.count > 5 ? String(fields[5].drop { $0 == " " }) : ""
      defer { previous = (bounds[1], name) }
      guard (bounds[0]..<bounds[1]).contains(address) else { continue }
      if name.hasPrefix("/") {
        return "\(hex) in \(name), file offset 0x\(String(address - bounds[0] + offset, radix: 16))"
      }
      guard name.isEmpty else { return "\(hex) in \(name)" }
      // Right after a file's mapping: that file's zero-filled data (`.bss`) lies so.
      if previous.end == bounds[0], previous.name.hasPrefix("/") {
        let into = String(address - bounds[0], radix: 16)
        return "\(hex) in an anonymous mapping after \(previous.name)'s, 0x\(into) into it"
      }
      return "\(hex) in an anonymous mapping"
    }
    return hex
  }

  /// The call's number and first four arguments from `/proc/PID/syscall`'s text, or nil for
  /// another form ("running", a shorter line). Parsed byte by byte rather than split into
  /// words: the split's array of slices is a type the runtime built by name at its first use,
  /// checking its requirements by a scan of every conformance record of the program, in a
  /// pool's first stuck check.
  package static func syscallFields(_ text: UnsafeBufferPointer<UInt8>) -> [Int]? {
    var fields: [Int] = []
    var index = 0
    while fields.count < 5 {
      while index < text.count, text[index] == UInt8(ascii: " ") { index += 1 }
      let hex = fields.count > 0
      if hex {
        guard index + 1 < text.count, text[index] == UInt8(ascii: "0"), text[index + 1] == UInt8(ascii: "x") else {
          return nil
        }
        index += 2
      }
      var value: UInt = 0
      var digits = 0
      while index < text.count, let digit = digitValue(text[index], hex: hex) {
        let (shifted, overflow) = value.multipliedReportingOverflow(by: hex ? 16 : 10)
        guard !overflow else { return nil }
        value = shifted + UInt(digit)
        digits += 1
        index += 1
      }
      guard digits > 0, index == text.count || text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: "\n")
      else { return nil }
      fields.append(Int(bitPattern: value))
    }
    return fields
  }

  /// The value of `byte` as a digit (hexadecimal when `hex`), or nil.
  private static func digitValue(_ byte: UInt8, hex: Bool) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f") where hex: return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F") where hex: return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  /// How many threads this process has, or nil when it cannot be read.
  package static func threadCount() -> Int? {
    threadCount(of: nil)
  }

  /// How many threads process `id` (this one when nil) has, or nil when it cannot be read:
  /// the link count of its `/proc/ID/task` folder, which procfs makes two more than its
  /// threads. One `stat` call: reading `num_threads` from `/proc/ID/stat` instead has the
  /// kernel gather every field of that file (the process's memory among them).
  private static func threadCount(of id: pid_t?) -> Int? {
    var status = Glibc.stat()
    let result = id.map { lstat("/proc/\($0)/task", &status) } ?? lstat("/proc/self/task", &status)
    guard result == 0, status.st_nlink > 2 else { return nil }
    return Int(status.st_nlink) - 2
  }

  /// Reads a `/proc/…/stat` file into the stack (no allocation: a parent reads its child's
  /// state while it waits for the handshake) and hands `body` its fields from the third on,
  /// those after the command's closing parenthesis; nil when the file cannot be read.
  private static func withStatFields<T>(_ path: String, _ body: (Slice<UnsafeMutableBufferPointer<UInt8>>) -> T?) -> T?
  {
    guard let fd = try? FileDescriptor.openClosingOnExec(path, flags: O_RDONLY) else { return nil }
    defer { fd.release() }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> T? in
      guard let count = try? fd.readSome(into: UnsafeMutableRawBufferPointer(buffer)),
        let close = buffer[0..<count].lastIndex(of: UInt8(ascii: ")")), close + 2 < count
      else { return nil }
      return body(buffer[(close + 2)..<count])
    }
  }
}

extension FileDescriptor {
  /// Sends `signal` through this pidfd.
  package func sendSignal(_ signal: Int32) throws(Errno) {
    _ = try SystemCall.shim { cs_pidfd_send_signal(rawValue, signal) }
  }
}
