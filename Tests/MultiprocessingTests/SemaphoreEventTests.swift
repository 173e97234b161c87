import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// CPython's semaphore, bounded-semaphore and event tests, across processes.
@Suite(.timeLimit(.minutes(3))) struct SemaphoreEventTests {
  @Test func semaphoreCounts() throws {
    let semaphore = try Multiprocessing.Semaphore(value: 2)
    #expect(semaphore.currentValue == 2)
    #expect(semaphore.acquire())
    #expect(semaphore.currentValue == 1)
    #expect(semaphore.acquire())
    #expect(semaphore.currentValue == 0)
    #expect(!semaphore.acquire(blocking: false))
    try semaphore.release()
    #expect(semaphore.currentValue == 1)
    try semaphore.release()
    try semaphore.release()
    #expect(semaphore.currentValue == 3, "an unbounded semaphore grows past its start")
  }

  @Test func semaphoreTimeout() throws {
    let semaphore = try Multiprocessing.Semaphore(value: 0)
    let started = ContinuousClock.now
    #expect(!semaphore.acquire(timeout: .milliseconds(150)))
    #expect(ContinuousClock.now - started >= .milliseconds(150))
    #expect(!semaphore.acquire(timeout: .zero))
  }

  @Test func aChildReleasesWhatTheParentWaitsFor() throws {
    let semaphore = try Multiprocessing.Semaphore(value: 0)
    let child = try forked {
      usleep(100_000)
      try semaphore.release()
      try semaphore.release()
    }
    #expect(semaphore.acquire(timeout: .seconds(10)))
    #expect(semaphore.acquire(timeout: .seconds(10)))
    try child.join()
    #expect(semaphore.currentValue == 0)
  }

  @Test func manyProcessesShareUnitsExactly() throws {
    let semaphore = try Multiprocessing.Semaphore(value: 0)
    let taken = try SharedValue(0, lock: nil)
    let children = try (0..<4).map { _ in
      try forked {
        for _ in 0..<1000 where semaphore.acquire(timeout: .seconds(10)) { taken.add(1) }
      }
    }
    for _ in 0..<4000 { try semaphore.release() }
    for child in children { try child.join() }
    #expect(taken.load() == 4000)
    #expect(semaphore.currentValue == 0)
  }

  @Test func boundedSemaphoreRefusesToGrow() throws {
    let semaphore = try BoundedSemaphore(value: 2)
    #expect(throws: SynchronizationError.releasedTooManyTimes(bound: 2)) { try semaphore.release() }
    semaphore.acquire()
    try semaphore.release()
    #expect(semaphore.currentValue == 2)
    #expect(throws: SynchronizationError.self) { try BoundedSemaphore(value: 0) }
    #expect(throws: SynchronizationError.invalidArgument("a semaphore's initial value must be 0 or more, not -1")) {
      try Multiprocessing.Semaphore(value: -1)
    }
  }

  @Test func eventSetClearAndWait() throws {
    let event = try Event()
    #expect(!event.isSet)
    #expect(!event.wait(timeout: .zero))
    let started = ContinuousClock.now
    #expect(!event.wait(timeout: .milliseconds(100)))
    #expect(ContinuousClock.now - started >= .milliseconds(100))
    event.set()
    #expect(event.isSet)
    #expect(event.wait())
    #expect(event.wait(timeout: .zero))
    event.clear()
    #expect(!event.isSet)
    #expect(!event.wait(timeout: .milliseconds(10)))
  }

  @Test func anEventSetInAChildWakesEveryWaiter() throws {
    let event = try Event()
    let woken = try SharedValue(0, lock: nil)
    let waiters = try (0..<3).map { _ in
      try forked { if event.wait(timeout: .seconds(10)) { woken.add(1) } }
    }
    usleep(100_000)
    let setter = try forked { event.set() }
    for process in waiters + [setter] { try process.join() }
    #expect(woken.load() == 3)
  }
}
