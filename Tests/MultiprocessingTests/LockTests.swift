import Foundation
import Multiprocessing
import Synchronization
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The behaviour of CPython's lock, rlock and lock-context tests, across processes, plus
/// robustness: a holder that dies does not leave the lock held.
@Suite(.timeLimit(.minutes(3))) struct LockTests {
  @Test func lockAcquireAndRelease() throws {
    let lock = try Lock()
    #expect(!lock.locked)
    #expect(try lock.acquire())
    #expect(lock.locked)
    #expect(try !lock.acquire(blocking: false))
    #expect(try !lock.acquire(timeout: .milliseconds(20)))
    try lock.release()
    #expect(!lock.locked)
    #expect(throws: SynchronizationError.releasedUnlocked) { try lock.release() }
    #expect(SynchronizationError.releasedUnlocked.description.contains("not locked"))
  }

  @Test func aLockTimeoutWaitsThatLong() throws {
    let lock = try Lock()
    try lock.acquire()
    let started = ContinuousClock.now
    #expect(try !lock.acquire(timeout: .milliseconds(150)))
    #expect(ContinuousClock.now - started >= .milliseconds(150))
    try lock.release()
  }

  @Test func aLockIsSharedWithAChildAndNotOwned() throws {
    let lock = try Lock()
    let acquired = try Event()
    let child = try forked {
      _ = try lock.acquire()
      acquired.set()
      usleep(200_000)
    }
    #expect(acquired.wait(timeout: .seconds(10)))
    #expect(lock.locked)
    #expect(try !lock.acquire(blocking: false))
    try child.join()
    #expect(try child.exitCode == 0)
    // The child exited holding the lock: the parent's acquire takes it over and is told.
    #expect(throws: SynchronizationError.previousOwnerDied(id: try child.pid!)) {
      try lock.acquire(timeout: .seconds(5))
    }
    #expect(lock.locked)
    try lock.release()
  }

  @Test func aLockMayBeReleasedByAnotherProcess() throws {
    let lock = try Lock()
    try lock.acquire()
    let child = try forked { try lock.release() }
    try child.join()
    #expect(try child.exitCode == 0)
    #expect(!lock.locked)
  }

  @Test func withLockReleasesOnErrors() throws {
    let lock = try Lock()
    struct Oops: Error {}
    #expect(throws: Oops.self) { try lock.withLock { throw Oops() } }
    #expect(!lock.locked)
    #expect(try lock.withLock { 42 } == 42)
    #expect(!lock.locked)
  }

  @Test func rlockIsRecursiveAndOwned() throws {
    let lock = try RLock()
    #expect(try lock.acquire())
    #expect(try lock.acquire())
    #expect(try lock.acquire(blocking: false))
    #expect(lock.recursionDepth == 3)
    try lock.release()
    try lock.release()
    #expect(lock.locked)
    try lock.release()
    #expect(!lock.locked)
    #expect(lock.recursionDepth == 0)
    #expect(throws: SynchronizationError.notOwner) { try lock.release() }
    // The last release leaves the depth word as it was; the next acquire sets it.
    #expect(try lock.acquire())
    #expect(lock.recursionDepth == 1)
    try lock.release()
    #expect(!lock.locked)
  }

  @Test func anRLockCannotBeReleasedByAnotherThreadOrProcess() throws {
    let lock = try RLock()
    try lock.acquire()
    let result = Mutex<SynchronizationError?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      do { try lock.release() } catch let error as SynchronizationError { result.withLock { $0 = error } } catch {}
      done.signal()
    }
    done.wait()
    #expect(result.withLock { $0 } == .notOwner)
    let child = try forked {
      do { try lock.release() } catch SynchronizationError.notOwner { throw ProcessExit(9) }
      guard try !lock.acquire(blocking: false) else { throw ProcessExit(3) }
    }
    try child.join()
    #expect(try child.exitCode == 9)
    #expect(lock.locked)
    try lock.release()
  }

  @Test(arguments: ["Lock", "RLock"])
  func aHolderKilledWhileHoldingHandsTheLockOnWithinASecond(kind: String) throws {
    let lock: any ProcessLock = kind == "Lock" ? try Lock() : try RLock()
    let held = try Event()
    let holder = try forked {
      _ = try lock.acquire()
      held.set()
      while true { sleep(60) }
    }
    #expect(held.wait(timeout: .seconds(10)))
    let waiter = Mutex<(outcome: String, waited: Duration)>(("none", .zero))
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      let started = ContinuousClock.now
      var outcome = "acquired"
      do { _ = try lock.acquire(timeout: .seconds(10)) } catch SynchronizationError.previousOwnerDied {
        outcome = "told"
      } catch { outcome = "\(error)" }
      waiter.withLock { $0 = (outcome, ContinuousClock.now - started) }
      try? lock.release()
      done.signal()
    }
    usleep(100_000)
    let killedAt = ContinuousClock.now
    try holder.kill()
    try holder.join()
    done.wait()
    let (outcome, _) = waiter.withLock { $0 }
    #expect(outcome == "told")
    #expect(ContinuousClock.now - killedAt < .seconds(1))
    #expect(!lock.locked)
  }

  @Test func twoProcessesMakeAMillionLockedIncrementsEachExactly() throws {
    let counter = try SharedValue(0, lock: try Lock())
    let lock = counter.getLock()!
    let children = try (0..<2).map { _ in
      try forked {
        for _ in 0..<1_000_000 {
          _ = try lock.acquire()
          counter.withUnsafeMutablePointer { $0.pointee += 1 }
          try lock.release()
        }
      }
    }
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [0, 0])
    #expect(counter.value == 2_000_000)
  }

  @Test func withLockReportsADeadHolderAndCanRepair() throws {
    let lock = try Lock()
    let child = try forked { _ = try lock.acquire() }
    try child.join()
    #expect(throws: SynchronizationError.self) { try lock.withLock { Issue.record("body ran after a death") } }
    #expect(!lock.locked)

    let again = try forked { _ = try lock.acquire() }
    try again.join()
    var repaired = false
    let value = try lock.withLock(repair: { repaired = true }) { 7 }
    #expect(repaired && value == 7)
    #expect(!lock.locked)
  }
}
