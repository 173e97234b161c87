import CSystemShims
import Foundation
import SystemCalls
import SystemPackage
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The syscall layer: its two conventions, EINTR retried, and the helpers built on them.
@Suite(.timeLimit(.minutes(3)))
struct SystemCallTests {
  @Test func libcFailureThrowsItsErrno() {
    #expect(throws: Errno.badFileDescriptor) {
      _ = try SystemCall.retrying { Glibc.close(-1) }
    }
  }

  @Test func shimFailureThrowsItsErrnoAndRetriesInterrupts() throws {
    #expect(throws: Errno.noSuchProcess) {
      _ = try SystemCall.shim { -ESRCH }
    }
    var calls = 0
    let result = try SystemCall.shim { () -> Int32 in
      calls += 1
      return calls < 3 ? -EINTR : 7
    }
    #expect(result == 7 && calls == 3)
  }

  /// A message longer than the buffer it is received into is refused whole, and the
  /// descriptors it carried are closed, not left open in the receiver; one that fits comes
  /// whole.
  @Test func aMessageLongerThanTheBufferIsRefusedWithItsDescriptorsClosed() throws {
    let (sender, receiver) = try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_SEQPACKET.rawValue))
    defer {
      sender.release()
      receiver.release()
    }
    let pipe = try FileDescriptor.pipe()
    defer { pipe.readEnd.release() }
    try sender.send([UInt8](repeating: 7, count: 100), descriptors: [pipe.writeEnd])
    pipe.writeEnd.release()
    var buffer = [UInt8](repeating: 0, count: 10)
    #expect(throws: Errno.messageTooLong) { _ = try receiver.receive(into: &buffer) }
    // With no write end left open anywhere, the pipe is at its end at once (read only then:
    // with a write end leaked here, the read would wait for ever).
    let ended = SystemCall.pollReadable([pipe.readEnd.rawValue], timeout: .seconds(2)) == [pipe.readEnd.rawValue]
    var byte: UInt8 = 0
    #expect(ended && read(pipe.readEnd.rawValue, &byte, 1) == 0)

    try sender.send([1, 2, 3], descriptors: [])
    let received = try receiver.receive(into: &buffer)
    #expect(received.count == 3 && buffer.prefix(3) == [1, 2, 3] && received.descriptors.isEmpty)
  }

  /// `cs_unblock_all_signals`, what every forked child runs first, leaves the calling
  /// thread no signal blocked: a child forked from a thread that blocks two has none blocked
  /// after it (a child that inherited a blocked SIGTERM would ignore `terminate()`).
  @Test func aChildUnblocksEverySignal() throws {
    var blocked = sigset_t()
    var previous = sigset_t()
    sigemptyset(&blocked)
    sigaddset(&blocked, SIGUSR2)
    sigaddset(&blocked, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    let child = fork()
    if child == 0 {
      var inherited = sigset_t()
      pthread_sigmask(SIG_BLOCK, nil, &inherited)
      guard sigismember(&inherited, SIGUSR2) == 1 else { _exit(2) }
      cs_unblock_all_signals()
      var now = sigset_t()
      pthread_sigmask(SIG_BLOCK, nil, &now)
      for signal in 1..<65 where sigismember(&now, Int32(signal)) == 1 { _exit(1) }
      _exit(0)
    }
    try #require(child > 0)
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    #expect(status & 0x7f == 0, "the child was killed")
    #expect((status >> 8) & 0xff == 0, "exit 1: a signal still blocked; exit 2: the mask was not inherited")
  }

  /// A read that a signal interrupts (a handler installed without SA_RESTART): plain `read`
  /// fails with EINTR in this setup, the layer's read carries on and returns the byte.
  @Test func interruptedReadIsRetried() throws {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in }
    action.sa_flags = 0
    sigemptyset(&action.sa_mask)
    var previous = sigaction()
    sigaction(SIGUSR1, &action, &previous)
    defer { sigaction(SIGUSR1, &previous, nil) }

    for plain in [true, false] {
      let pipe = try FileDescriptor.pipeClosingOnExec()
      defer {
        pipe.readEnd.release()
        pipe.writeEnd.release()
      }
      let outcome = Interrupted()
      let thread = Thread {
        // Threads made from the test's thread inherit its mask, which blocks SIGUSR1.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        outcome.publish(thread: pthread_self())
        var byte: UInt8 = 0
        if plain {
          let count = Glibc.read(pipe.readEnd.rawValue, &byte, 1)
          outcome.finish(count < 0 ? "errno \(errno)" : "read \(count)")
        } else {
          do {
            let count = try withUnsafeMutableBytes(of: &byte) { try pipe.readEnd.readSome(into: $0) }
            outcome.finish("read \(count)")
          } catch {
            outcome.finish("threw \(error)")
          }
        }
        outcome.waitForRelease()
      }
      thread.start()
      let reader = outcome.waitForThread()
      for _ in 0..<5 {
        usleep(20_000)
        pthread_kill(reader, SIGUSR1)
      }
      usleep(20_000)
      if !plain { try withUnsafeBytes(of: UInt8(9)) { try pipe.writeEnd.writeAll($0) } }
      let result = outcome.waitForResult()
      outcome.release()
      #expect(result == (plain ? "errno \(EINTR)" : "read 1"), "plain read: \(plain)")
      if plain { try withUnsafeBytes(of: UInt8(9)) { try pipe.writeEnd.writeAll($0) } }
    }
  }

  /// An `Int32` sent to a socket whose other end is closed reports the failure, and no
  /// `SIGPIPE` kills the sender (a fork server answering a client that gave up), checked in a
  /// child with the signal's default action.
  @Test func anIntegerSentToAClosedSocketFailsWithoutSIGPIPE() throws {
    let (mine, theirs) = try FileDescriptor.socketPairClosingOnExec(type: Int32(SOCK_STREAM.rawValue))
    defer { mine.release() }
    #expect(mine.sendInt32(7))
    #expect(theirs.readInt32() == 7)
    theirs.release()
    let child = fork()
    if child == 0 {
      signal(SIGPIPE, SIG_DFL)
      _exit(mine.sendInt32(8) ? 1 : 0)
    }
    try #require(child > 0)
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    #expect(status & 0x7f == 0, "killed by signal \(status & 0x7f)")
    #expect((status >> 8) & 0xff == 0, "the send to a closed socket reported success")
  }

  @Test func wholeBuffersCrossAPipe() throws {
    let pipe = try FileDescriptor.pipeClosingOnExec()
    let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
    let writer = Thread {
      try? pipe.writeEnd.writeAll(payload)
      _ = try? withUnsafeBytes(of: Int32(-42)) { try pipe.writeEnd.writeAll($0) }
      pipe.writeEnd.release()
    }
    writer.start()
    var received = Data(count: payload.count)
    let complete = try received.withUnsafeMutableBytes { try pipe.readEnd.readExactly(into: $0) }
    #expect(complete && received == payload)
    #expect(pipe.readEnd.readInt32() == -42)
    #expect(pipe.readEnd.readInt32() == nil, "end of file")
    pipe.readEnd.release()
  }

  @Test func pipesCloseOnExecAndDuplicatesToo() throws {
    let pipe = try FileDescriptor.pipeClosingOnExec(nonBlocking: true)
    let copy = try pipe.readEnd.duplicateClosingOnExec()
    defer { [pipe.readEnd, pipe.writeEnd, copy].forEach { $0.release() } }
    for fd in [pipe.readEnd, pipe.writeEnd, copy] {
      #expect(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }
    #expect(fcntl(pipe.readEnd.rawValue, F_GETFL) & O_NONBLOCK != 0)
    pipe.writeEnd.ring()
    #expect(SystemCall.pollReadable([copy.rawValue], timeout: .zero) == [copy.rawValue])
    copy.drain()
    #expect(SystemCall.pollReadable([pipe.readEnd.rawValue], timeout: .zero).isEmpty)
  }

  @Test func sharedMemoryCallsMapAndUnlink() throws {
    let name = "mp-syscall-test-\(getpid())"
    let fd = try SystemCall.openSharedMemory(name, create: true)
    #expect(throws: Errno.fileExists) { _ = try SystemCall.openSharedMemory(name, create: true) }
    try fd.setSize(8192)
    #expect(try fd.size() == 8192)
    let address = try SystemCall.mapShared(fd, size: 8192)
    address.storeBytes(of: 0xABCD, toByteOffset: 4096, as: UInt32.self)
    SystemCall.unmap(address, size: 8192)
    let again = try SystemCall.openSharedMemory(name, create: false)
    let second = try SystemCall.mapShared(again, size: 8192)
    #expect(second.load(fromByteOffset: 4096, as: UInt32.self) == 0xABCD)
    SystemCall.unmap(second, size: 8192)
    [fd, again].forEach { $0.release() }
    try SystemCall.unlinkSharedMemory(name)
    #expect(throws: Errno.noSuchFileOrDirectory) { try SystemCall.unlinkSharedMemory(name) }
  }

  @Test func processCallsSeeStates() throws {
    #expect(SystemCall.schedulingState(of: cs_gettid()) == UInt8(ascii: "R"), "the calling thread runs")
    #expect(throws: Errno.noSuchProcess) { try SystemCall.sendSignal(0, to: Int32.max) }
    #expect(SystemCall.schedulingState(of: Int32.max) == nil)
  }

  /// A process's descriptor opened through `/proc/PID/fd/FD`, the path written on the stack:
  /// the same pipe, closed on exec, for numbers of one digit and of several with zeros in
  /// them; a descriptor that is not open, a negative one and pid 0 fail with ENOENT.
  @Test func anotherDescriptorOfAProcessOpensTheSameFile() throws {
    let pipe = try FileDescriptor.pipe()
    defer {
      pipe.readEnd.release()
      pipe.writeEnd.release()
    }
    // Numbers whose digits include zeros: the path's digits are written backwards, then turned.
    let numbered = dup2(pipe.readEnd.rawValue, 1020)
    try #require(numbered == 1020)
    defer { close(numbered) }
    for (descriptor, byte) in [(pipe.readEnd.rawValue, UInt8(7)), (numbered, 9)] {
      var written = byte
      try #require(write(pipe.writeEnd.rawValue, &written, 1) == 1)
      let opened = try FileDescriptor.openClosingOnExec(
        descriptor: descriptor, ofProcess: getpid(), flags: O_RDONLY | O_NONBLOCK)
      defer { opened.release() }
      var read: UInt8 = 0
      #expect(Glibc.read(opened.rawValue, &read, 1) == 1 && read == byte)
      #expect(fcntl(opened.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }
    #expect(String(getpid()).count > 1)  // the pid's digits are several too

    let notOpen = dup(pipe.readEnd.rawValue)
    close(notOpen)
    for (descriptor, pid) in [(notOpen, getpid()), (-1, getpid()), (pipe.readEnd.rawValue, 0)] {
      #expect(throws: Errno.noSuchFileOrDirectory) {
        _ = try FileDescriptor.openClosingOnExec(descriptor: descriptor, ofProcess: pid, flags: O_RDONLY)
      }
    }
  }

  /// A process's minor faults as `/proc/PID/stat` counts them: between two of getrusage's
  /// counts, and up by at least one per fresh page it touches.
  @Test func minorPageFaultsCountTouchedPages() throws {
    func ownCount() -> Int {
      var usage = rusage()
      _ = getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
      return usage.ru_minflt
    }
    let before = ownCount()
    let read = try #require(SystemCall.minorPageFaults(of: getpid()))
    #expect(before <= read && read <= ownCount())
    let pages = 64
    let size = pages * Int(getpagesize())
    let memory = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    defer { munmap(memory, size) }
    let first = try #require(SystemCall.minorPageFaults(of: getpid()))
    for page in 0..<pages { memory.storeBytes(of: 1, toByteOffset: page * Int(getpagesize()), as: UInt8.self) }
    let last = try #require(SystemCall.minorPageFaults(of: getpid()))
    #expect(last - first >= pages, "\(first) then \(last) after touching \(pages) fresh pages")
    #expect(SystemCall.minorPageFaults(of: Int32.max) == nil)
  }

  @Test func threadCountFollowsThreadsAsTheyStartAndEnd() throws {
    let before = try #require(SystemCall.threadCount())
    let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    // Other threads of the test runner may come and go between the two reads.
    #expect(abs(before - tasks) <= 2, "num_threads \(before), /proc/self/task \(tasks)")
    let started = DispatchSemaphore(value: 0)
    let finish = DispatchSemaphore(value: 0)
    for _ in 0..<8 {
      Thread {
        started.signal()
        finish.wait()
      }.start()
    }
    for _ in 0..<8 { started.wait() }
    let during = try #require(SystemCall.threadCount())
    #expect(during >= before + 8 - 2, "8 more threads: \(before) then \(during)")
    for _ in 0..<8 { finish.signal() }
  }

  /// `/proc/PID/syscall`'s line: the call's number and first four arguments, or nil for the
  /// other forms the kernel writes.
  @Test(arguments: [
    ("202 0x7f00aa10 0x80 0x2 0x0 0x0 0x0 0x7ffd0 0x7f01\n", [202, 0x7f00_aa10, 0x80, 2, 0] as [Int]?),
    ("7 0xFFFFFFFFFFFFFFFF 0x1 0xa 0xB", [7, -1, 1, 10, 11]),
    ("running\n", nil),
    ("-1 0x7ffd0 0x7f01\n", nil),
    ("202 0x1 0x2 0x3\n", nil),
    ("202 1 0x2 0x3 0x4", nil),
    ("202 0x10000000000000000 0x2 0x3 0x4", nil),
    ("202 0x1g 0x2 0x3 0x4", nil),
  ])
  func syscallLinesParse(line: String, fields: [Int]?) {
    let parsed = Array(line.utf8).withUnsafeBufferPointer { SystemCall.syscallFields($0) }
    #expect(parsed == fields, "\(line)")
  }

  /// An address is placed by the process's memory map: a file's mapping with the address's
  /// offset in the file, a named region, an anonymous mapping, or nothing mapped there.
  @Test func anAddressIsPlacedInItsMapping() throws {
    let pid = getpid()
    // The C library's code (a shared object, whatever links the Swift libraries): a file.
    let function = unsafeBitCast(getpid as @convention(c) () -> pid_t, to: UnsafeRawPointer.self)
    let place = SystemCall.place(of: Int(bitPattern: function), in: pid)
    let hex = "0x" + String(UInt(bitPattern: function), radix: 16)
    #expect(place.hasPrefix("\(hex) in /") && place.contains("/libc.so"), "\(place)")
    // Its offset in the file is the address less the mapping's start, plus the mapping's
    // offset: below the file's size, and not the address itself.
    let offset = try #require(place.split(separator: ", file offset 0x").last.flatMap { Int($0, radix: 16) })
    let path = String(place.dropFirst(hex.count + 4).prefix { $0 != "," })
    let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    #expect(offset > 0 && offset < size && offset != Int(bitPattern: function), "\(place), \(size) bytes")
    // An anonymous page of this process's own (placed by the kernel, perhaps right after a
    // file's mapping, which the place then names).
    let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    defer { munmap(page, 4096) }
    let anonymous = try #require(page.map { Int(bitPattern: $0) })
    let pagePlace = SystemCall.place(of: anonymous + 8, in: pid)
    #expect(pagePlace.hasPrefix("0x\(String(anonymous + 8, radix: 16)) in an anonymous mapping"), "\(pagePlace)")
    // An anonymous mapping right after a file's (as a library's or this program's zero-filled
    // data, `.bss`, where static locks lie) is named after the file.
    let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8).split(separator: "\n")
    let lines = maps.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
    let bss = try #require(
      zip(lines, lines.dropFirst()).first { file, next in
        file.count == 6 && file[5].hasPrefix("/") && next.count == 5
          && file[0].split(separator: "-")[1] == next[0].split(separator: "-")[0]
      }, "no anonymous mapping right after a file's")
    let start = try #require(Int(bss.1[0].split(separator: "-")[0], radix: 16))
    #expect(
      SystemCall.place(of: start + 0x18, in: pid)
        == "0x\(String(start + 0x18, radix: 16)) in an anonymous mapping after \(bss.0[5])'s, 0x18 into it")
    #expect(SystemCall.place(of: 0x10, in: pid) == "0x10", "nothing is mapped at page 0")
    #expect(SystemCall.place(of: 0x10, in: -1) == "0x10", "no such process")
  }

  @Test func pollWaitsItsWholeTimeout() {
    let started = ContinuousClock.now
    let pipe = try? FileDescriptor.pipeClosingOnExec()
    defer {
      pipe?.readEnd.release()
      pipe?.writeEnd.release()
    }
    #expect(SystemCall.pollReadable([pipe!.readEnd.rawValue], timeout: .milliseconds(30)).isEmpty)
    // A time bound is the behaviour here: poll must not return before its timeout.
    #expect(ContinuousClock.now - started >= .milliseconds(30))
    #expect(SystemCall.roundedUpMilliseconds(.microseconds(1)) == 1)
    #expect(SystemCall.roundedUpMilliseconds(.milliseconds(2)) == 2)
  }
}

/// The reader thread's id and what its read gave, handed to the test's thread.
private final class Interrupted: @unchecked Sendable {
  // @unchecked: every field is read and written under `condition`.
  private let condition = NSCondition()
  private var thread: pthread_t?
  private var result: String?
  private var released = false

  /// Called by the reading thread after its result: it stays until ``release()``, so that
  /// the test never signals a thread that has ended (`pthread_kill` of an ended thread's id
  /// is undefined: it crashed the test runner with SIGSEGV once in about 30 runs, and once in CI).
  func waitForRelease() {
    condition.withLock {
      while !released { condition.wait() }
    }
  }

  /// Lets the reading thread end: no signal is sent to it after this.
  func release() {
    condition.withLock {
      released = true
      condition.broadcast()
    }
  }

  func publish(thread: pthread_t) {
    condition.withLock {
      self.thread = thread
      condition.broadcast()
    }
  }

  func finish(_ result: String) {
    condition.withLock {
      self.result = result
      condition.broadcast()
    }
  }

  func waitForThread() -> pthread_t {
    condition.withLock {
      while thread == nil { condition.wait() }
      return thread!
    }
  }

  func waitForResult() -> String {
    condition.withLock {
      while result == nil { condition.wait() }
      return result!
    }
  }
}
