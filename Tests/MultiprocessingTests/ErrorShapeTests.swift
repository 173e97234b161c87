import CSystemShims
import Foundation
import SystemCalls
import SystemPackage
import Testing

@testable import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// Every error has one shape: a case to switch on, a message, and the `Errno` beneath it
/// when a system call failed. The process, lock and ring calls throw one type each, so that a
/// `catch` sees that type (the comparisons below compile only because they do).
@Suite(.timeLimit(.minutes(3)))
struct ErrorShapeTests {
  @Test func processCallsThrowProcessError() {
    let process = Multiprocessing.Process(name: "never-started", startMethod: .fork) {}
    do {
      try process.join()
      Issue.record("join() of a process never started returned")
    } catch {
      #expect(error == .notStarted(name: "never-started"))
      #expect(error.underlyingErrno == nil)
    }
    do {
      _ = try Multiprocessing.Process.wait([process], timeout: .zero)
      Issue.record("wait() on a process never started returned")
    } catch {
      #expect(error == .notStarted(name: "never-started"))
    }
  }

  @Test func lockCallsThrowSynchronizationError() throws {
    let lock = try Lock()
    do {
      try lock.release()
      Issue.record("release() of a free lock returned")
    } catch {
      #expect(error == .releasedUnlocked)
    }
    let recursive = try RLock()
    do {
      try recursive.release()
      Issue.record("release() of an RLock not held returned")
    } catch {
      #expect(error == .notOwner)
    }
  }

  @Test func ringCallsThrowRingError() throws {
    let ring = try SlotRing<Int>(capacity: 2)
    do {
      _ = try ring.pop(timeout: .milliseconds(1))
      Issue.record("pop() of an empty ring returned")
    } catch {
      #expect(error == .timedOut)
    }
    ring.close()
    do {
      try ring.push(1)
      Issue.record("push() to a closed ring returned")
    } catch {
      #expect(error == .closed)
    }
  }

  /// A system call that fails shows its call and `Errno` in the case, in `underlyingErrno`
  /// and in the message.
  @Test func aFailedSystemCallCarriesItsErrno() {
    do {
      _ = try SharedMemory(size: Int.max)
      Issue.record("a block of Int.max bytes was created")
    } catch {
      guard case .system(let call, let errno) = error else {
        Issue.record("got \(error)")
        return
      }
      // A memfd grows sparsely to any size, so the mapping is what fails (ENOMEM).
      #expect(call == "mmap" && errno == .noMemory)
      #expect(error.underlyingErrno == errno)
      #expect(error.description == "mmap failed: Cannot allocate memory")
    }
    #expect(SharedMemoryError.notFound("x").underlyingErrno == nil)
  }

  /// The areas that make system calls share one shape for it (`SystemCallFailure`): code
  /// calling several of them catches their system failures as one, and each builds the same
  /// case and message from a call and an `Errno`.
  @Test func systemFailuresOfEveryAreaCatchAsOne() {
    func failedCall(_ body: () throws -> Void) -> (call: String, errno: Errno)? {
      do {
        try body()
      } catch let error as any SystemCallFailure {
        return error.failedCall
      } catch {
        Issue.record("\(error) is not a SystemCallFailure")
      }
      return nil
    }
    let mapping = failedCall { _ = try SharedMemory(size: Int.max) }
    #expect(mapping?.call == "mmap" && mapping?.errno == .noMemory)
    let opening = failedCall { _ = try SharedMemory.attach(name: "sm-no-such-block-\(getpid())") }
    #expect(opening == nil, "a missing block is not a failed system call: \(String(describing: opening))")
    #expect(failedCall { throw ConnectionError.system(call: "read", errno: .badFileDescriptor) }?.call == "read")
    func built<E: SystemCallFailure>(_: E.Type) -> E { .system(call: "pipe", errno: .tooManyOpenFiles) }
    let errors: [any SystemCallFailure] = [
      built(ProcessError.self), built(SharedMemoryError.self), built(ConnectionError.self), built(QueueError.self),
    ]
    for error in errors {
      #expect(error.underlyingErrno == .tooManyOpenFiles)
      #expect(error.failedCall?.call == "pipe")
      #expect(error.description.hasSuffix("pipe failed: Too many open files"), "\(error)")
    }
    #expect(built(QueueError.self) == .connection(.system(call: "pipe", errno: .tooManyOpenFiles)))
    #expect(ProcessError.notStarted(name: "x").failedCall == nil)
  }

  /// The `waitpid` calls return the status decoded: an exit code, a signal, a child still
  /// running, a pid that is not a child.
  @Test func reapingSaysHowAChildEnded() throws {
    #expect(throws: Errno.noChildProcess) { _ = try SystemCall.reapIfEnded(getppid()) }
    #expect(SystemCall.reap(getppid()) == nil)
    // The children call only async-signal-safe functions: the test runner has other threads.
    let exiting = fork()
    if exiting == 0 { _exit(7) }
    #expect(SystemCall.reap(exiting) == .exited(7))
    let sleeping = fork()
    if sleeping == 0 {
      // Ends with the test runner, should it die first.
      _ = cs_set_parent_death_signal(SIGKILL)
      while true { pause() }
    }
    // Killed and reaped however the checks below go: a failed one must not leave it running.
    var reaped: TerminationStatus?
    defer {
      if reaped == nil {
        kill(sleeping, SIGKILL)
        SystemCall.reap(sleeping)
      }
    }
    #expect(try SystemCall.reapIfEnded(sleeping) == nil)
    kill(sleeping, SIGKILL)
    reaped = SystemCall.reap(sleeping)
    #expect(reaped == .signaled(SIGKILL))
  }

  @Test func terminationStatusConvertsBothWays() {
    #expect(TerminationStatus(exitCode: 3) == .exited(3))
    #expect(TerminationStatus(exitCode: -SIGKILL) == .signaled(SIGKILL))
    #expect(TerminationStatus.signaled(SIGTERM).exitCode == -SIGTERM)
    #expect(TerminationStatus.exited(0).isSuccess && !TerminationStatus.exited(1).isSuccess)
    #expect(!TerminationStatus.signaled(SIGKILL).isSuccess)
    // Wait statuses as the kernel encodes them: code << 8, or the signal in the low bits.
    #expect(TerminationStatus(waitStatus: 7 << 8) == .exited(7))
    #expect(TerminationStatus(waitStatus: SIGSEGV) == .signaled(SIGSEGV))
    #expect(TerminationStatus.signaled(SIGKILL).description == "killed by signal 9 (Killed)")
    #expect(TerminationStatus.exited(2).description == "exited with code 2")
  }

  @Test func aProcessReportsItsTerminationStatus() throws {
    let process = Multiprocessing.Process(startMethod: .fork) { Foundation.exit(4) }
    #expect(try process.terminationStatus == nil)
    try process.start()
    try process.join()
    #expect(try process.terminationStatus == .exited(4))
    #expect(try process.exitCode == 4)
  }
}
