import Foundation
import Multiprocessing
import Synchronization
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// CPython's condition tests (notify, notify_all, notify(n), timeouts, wait_for), with the
/// waiters in child processes.
@Suite(.timeLimit(.minutes(3))) struct ConditionTests {
  /// Starts `count` children that wait on `condition` and count themselves in `woken`.
  func startWaiters(
    _ count: Int, _ condition: Condition, _ sleeping: Multiprocessing.Semaphore, _ woken: SharedValue<Int>
  ) throws
    -> [Multiprocessing.Process]
  {
    try (0..<count).map { _ in
      try forked {
        try condition.withLock {
          try sleeping.release()
          if try condition.wait(timeout: .seconds(20)) { woken.add(1) }
        }
      }
    }
  }

  /// Waits until `count` children are inside `wait` (they announced it and released the lock).
  func waitUntilAsleep(_ count: Int, _ condition: Condition, _ sleeping: Multiprocessing.Semaphore) throws {
    for _ in 0..<count { #expect(sleeping.acquire(timeout: .seconds(10))) }
    try condition.withLock {}  // every announcer has released the lock inside wait()
    usleep(50_000)
  }

  @Test func notifyWakesOneAtATimeAndNotifyAllTheRest() throws {
    let condition = try Condition()
    let sleeping = try Multiprocessing.Semaphore(value: 0)
    let woken = try SharedValue(0, lock: nil)
    let children = try startWaiters(6, condition, sleeping, woken)
    try waitUntilAsleep(6, condition, sleeping)
    #expect(woken.load() == 0)

    try condition.withLock { try condition.notify() }
    #expect(eventually { woken.load() == 1 })
    usleep(100_000)
    #expect(woken.load() == 1)

    try condition.withLock { try condition.notify(2) }
    #expect(eventually { woken.load() == 3 })
    usleep(100_000)
    #expect(woken.load() == 3)

    try condition.withLock { try condition.notifyAll() }
    for child in children { try child.join() }
    #expect(woken.load() == 6)
  }

  @Test func notifyWithNobodyWaitingIsLost() throws {
    let condition = try Condition(lock: try Lock())
    try condition.withLock { try condition.notifyAll() }
    try condition.acquire()
    #expect(try !condition.wait(timeout: .milliseconds(50)))
    try condition.release()
  }

  @Test func waitTimesOut() throws {
    let condition = try Condition()
    try condition.acquire()
    let started = ContinuousClock.now
    #expect(try !condition.wait(timeout: .milliseconds(150)))
    #expect(ContinuousClock.now - started >= .milliseconds(150))
    #expect(condition.lock.locked, "the lock is held again after the wait")
    try condition.release()
  }

  @Test func waitForAPredicateSetByAChild() throws {
    let condition = try Condition()
    let state = try SharedValue(0, lock: nil)
    let child = try forked {
      for step in 1...5 {
        usleep(20_000)
        try condition.withLock {
          state.withUnsafeMutablePointer { $0.pointee = step }
          try condition.notify()
        }
      }
    }
    let reached = try condition.withLock { try condition.waitFor(timeout: .seconds(10)) { state.load() == 5 } }
    #expect(reached)
    try child.join()
  }

  @Test func waitForTimesOutWithTheLastValue() throws {
    let condition = try Condition()
    let started = ContinuousClock.now
    var calls = 0
    let result = try condition.withLock {
      try condition.waitFor(timeout: .milliseconds(100)) {
        calls += 1
        return false
      }
    }
    #expect(!result)
    #expect(calls >= 2)
    #expect(ContinuousClock.now - started >= .milliseconds(100))
  }

  @Test func usingAConditionWithoutItsLockThrows() throws {
    let condition = try Condition()
    #expect(throws: SynchronizationError.notOwner) { try condition.wait(timeout: .zero) }
    #expect(throws: SynchronizationError.notOwner) { try condition.notify() }
    #expect(throws: SynchronizationError.notOwner) { try condition.notifyAll() }
    try condition.acquire()
    #expect(throws: SynchronizationError.invalidArgument("notify(-1): the count must be 0 or more")) {
      try condition.notify(-1)
    }
    try condition.release()
  }

  @Test func anRLockConditionKeepsItsRecursionAcrossAWait() throws {
    let lock = try RLock()
    let condition = try Condition(lock: lock)
    try lock.acquire()
    try lock.acquire()
    #expect(try !condition.wait(timeout: .milliseconds(20)))
    #expect(lock.recursionDepth == 2)
    try lock.release()
    try lock.release()
    #expect(!lock.locked)
  }

  /// A waiter releases every level of its RLock; a thread that takes the lock meanwhile holds
  /// one level, not the waiter's count, and the waiter gets its levels back.
  @Test func anRLockTakenDuringAWaitHoldsOneLevel() throws {
    let lock = try RLock()
    let condition = try Condition(lock: lock)
    let waited = Mutex<(notified: Bool, depth: Int)?>(nil)
    let (holding, done) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
    Thread.detachNewThread {
      defer { done.signal() }
      guard (try? lock.acquire()) == true, (try? lock.acquire()) == true else { return }
      holding.signal()
      let notified = (try? condition.wait(timeout: .seconds(10))) ?? false
      waited.withLock { $0 = (notified, lock.recursionDepth) }
      try? lock.release()
      try? lock.release()
    }
    #expect(holding.wait(timeout: .now() + 10) == .success)
    // Free again only once the waiter released both levels in its wait.
    let deadline = ContinuousClock.now + .seconds(10)
    while lock.locked && ContinuousClock.now < deadline { usleep(100) }
    try lock.acquire()
    #expect(lock.recursionDepth == 1)
    try condition.notify()
    try lock.release()
    try #require(done.wait(timeout: .now() + 20) == .success, "the waiter did not get its lock back")
    let result = try #require(waited.withLock { $0 })
    #expect(result.notified && result.depth == 2)
    #expect(!lock.locked)
  }
}
