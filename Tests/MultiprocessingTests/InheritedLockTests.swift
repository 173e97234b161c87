import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A child forked while its parent holds a process-private lock, and that takes the lock,
/// waits for ever: `isStuckOnInheritedLock` tells it apart from a child that merely sleeps.
@Suite(.timeLimit(.minutes(3))) struct InheritedLockTests {
  @Test func aChildThatTakesALockItsParentHeldIsStuckForGood() throws {
    let held = HeldMutex()
    let stuck = Multiprocessing.Process(name: "stuck") { pthread_mutex_lock(held.mutex) }
    try stuck.start()
    defer { try? stuck.kill() }
    #expect(eventually { (try? stuck.isStuckOnInheritedLock) == true }, "asleep on the inherited lock")
    try stuck.kill()
    _ = try stuck.join()
    #expect(try stuck.isStuckOnInheritedLock == false, "not once it has ended")
  }

  /// A join does not wait for ever on such a child: it kills it and says why, in both forms.
  @Test(arguments: [false, true])
  func aJoinEndsAChildStuckOnAnInheritedLock(async: Bool) async throws {
    let held = HeldMutex()
    let stuck = Multiprocessing.Process(name: "stuck") { pthread_mutex_lock(held.mutex) }
    try stuck.start()
    let pid = try #require(try stuck.pid)
    func blockingJoin() throws { try stuck.join() }
    let started = ContinuousClock.now
    let error = await #expect(throws: ProcessError.self) {
      if async { try await stuck.join() } else { try blockingJoin() }
    }
    // The lock is named by where it lay: the held mutex's address, in the child's memory (an
    // arena of malloc's: the heap, or an anonymous mapping for a thread's arena, which may
    // follow a file's mapping).
    guard case .stuckOnInheritedLock("stuck", pid, let lock) = error else {
      Issue.record("not a stuck child's error: \(String(describing: error))")
      return
    }
    #expect(
      lock == "\(held.address) in [heap]" || lock.hasPrefix("\(held.address) in an anonymous mapping"), "\(lock)")
    #expect("\(error!)".contains("(the lock at \(lock))"))
    // Found within a look or two; the bound leaves room for a loaded runner, whose cooperative
    // threads resumed the async join up to 28 s late in one full run and 61 s late in another
    // (while long synchronous tests held both threads of the pool).
    #expect(ContinuousClock.now - started < .seconds(150))
    #expect(try stuck.exitCode == -SIGKILL)
    #expect(!processExists(pid))
    #expect(!activeChildren().contains { $0 === stuck })
  }

  @Test func aChildThatSleepsOrWaitsOnASharedLockIsNotStuck() throws {
    let lock = try Lock()
    try lock.acquire()
    let sleeper = Multiprocessing.Process(name: "sleeper") { sleep(30) }
    let waiter = Multiprocessing.Process(name: "waiter") { try lock.acquire() }
    let timed = HeldMutex()
    let timedWaiter = Multiprocessing.Process(name: "timed") {
      var deadline = timespec()
      clock_gettime(CLOCK_REALTIME, &deadline)
      deadline.tv_sec += 30
      _ = pthread_mutex_timedlock(timed.mutex, &deadline)
    }
    for child in [sleeper, waiter, timedWaiter] { try child.start() }
    defer { for child in [sleeper, waiter, timedWaiter] { try? child.kill() } }
    // Each is asleep by now, and stays so: none may ever read as stuck.
    #expect(eventually { [sleeper, waiter, timedWaiter].allSatisfy { schedulingState(of: $0) == "S" } })
    for _ in 0..<5 {
      #expect(try !sleeper.isStuckOnInheritedLock, "asleep on a timer")
      #expect(try !waiter.isStuckOnInheritedLock, "this package's locks wait on shared futexes")
      #expect(try !timedWaiter.isStuckOnInheritedLock, "a wait with a timeout ends by itself")
      usleep(20_000)
    }
    #expect(try !currentProcess().isStuckOnInheritedLock, "this process is running")
  }

  /// The third field of `/proc/PID/stat`.
  func schedulingState(of process: Multiprocessing.Process) -> Character? {
    guard let pid = (try? process.pid) ?? nil,
      let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(close, offsetBy: 2)...].first
  }
}
