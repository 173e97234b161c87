import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Shared objects handed to spawned and fork-server children by handle, which the child
/// reopens: every type works across every start method.
@Suite(.timeLimit(.minutes(3))) struct HandoffTests {
  @Test(arguments: StartMethod.allCases)
  func lockedIncrementsThroughAHandleAreExact(method: StartMethod) throws {
    let counter = try SharedValue(0)
    let plan = IncrementPlan(value: counter.handle, times: 20_000)
    let children = (0..<2).map { _ in Fixture.process(method, SyncEntryPoints.increment, plan) }
    for child in children { try child.start() }
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [0, 0])
    #expect(counter.value == 40_000)
  }

  @Test(arguments: StartMethod.allCases)
  func everyTypeWorksThroughItsHandle(method: StartMethod) throws {
    let semaphore = try Multiprocessing.Semaphore(value: 0)
    let event = try Multiprocessing.Event()
    let condition = try Condition()
    let flag = try SharedValue(0)
    let array = try SharedArray(0..<5)
    let memory = try SharedMemory(size: 128)
    let plan = SyncPlan(
      semaphore: semaphore.handle, event: event.handle, condition: condition.handle, flag: flag.handle,
      array: array.handle, memory: memory.handle)
    let child = Fixture.process(method, SyncEntryPoints.exercise, plan)
    try child.start()
    let notified = try condition.withLock { try condition.waitFor(timeout: .seconds(20)) { flag.value == 1 } }
    #expect(notified)
    #expect(event.wait(timeout: .seconds(20)))
    #expect(semaphore.acquire(timeout: .seconds(5)) && semaphore.acquire(timeout: .seconds(5)))
    try child.join()
    #expect(try child.exitCode == 0)
    #expect(Array(array) == [0, -1, -2, -3, -4])
    #expect(String(decoding: memory.bytes.prefix(18), as: UTF8.self) == "hello from a child")
  }

  @Test(arguments: StartMethod.allCases)
  func aKilledHolderInASpawnedChildHandsTheLockOn(method: StartMethod) throws {
    for lock in [try Lock(), try RLock()] as [any ProcessLock] {
      let ready = try Multiprocessing.Event()
      let holder = Fixture.process(method, SyncEntryPoints.hold, HoldPlan(lock: lock.handle, ready: ready.handle))
      try holder.start()
      #expect(ready.wait(timeout: .seconds(20)))
      #expect(try !lock.acquire(blocking: false))
      try holder.kill()
      try holder.join()
      let started = ContinuousClock.now
      #expect(throws: SynchronizationError.previousOwnerDied(id: try holder.pid!)) {
        try lock.acquire(timeout: .seconds(5))
      }
      #expect(ContinuousClock.now - started < .seconds(1))
      try lock.release()
    }
  }

  @Test(arguments: StartMethod.allCases)
  func aBarrierAcrossSpawnedChildren(method: StartMethod) throws {
    let barrier = try Barrier(parties: 3)
    let results = try SharedArray(repeating: -9, count: 2)
    let children = (0..<2).map { slot in
      Fixture.process(
        method, SyncEntryPoints.barrierWait, BarrierPlan(barrier: barrier.handle, results: results.handle, slot: slot))
    }
    for child in children { try child.start() }
    let mine = try barrier.wait(timeout: .seconds(20))
    for child in children { try child.join() }
    #expect(Set(Array(results) + [mine]) == [0, 1, 2])
  }

  @Test func aHandleOfAnotherKindIsRefused() throws {
    let lock = try Lock()
    #expect(throws: SharedMemoryError.cannotReopen("the handle is for a Lock, not a RLock")) { try RLock(lock.handle) }
    let named = try SharedMemory.create(size: 16)
    let handle = named.handle
    try named.unlink()
    #expect(throws: SharedMemoryError.notFound(named.name!)) { try SharedMemory(handle) }
  }

  /// A handle keeps its object alive: released by the parent after its handle went into a
  /// child's arguments, the object still reopens in the child (it failed with "cannot reopen
  /// … No such file or directory").
  @Test(arguments: [StartMethod.spawn, .forkserver])
  func aHandleKeepsItsObjectAlive(method: StartMethod) throws {
    var value: SharedValue<Int>? = try SharedValue(5)
    let valueChild = Fixture.process(method, SyncEntryPoints.expectFive, value!.handle)
    value = nil
    try valueChild.start()
    #expect(try valueChild.join(timeout: .seconds(30)) == .exited(0))

    var (reader, writer): (Connection, Connection?) = try Connection.pipe(duplex: false)
    let connectionChild = Fixture.process(method, SyncEntryPoints.sendHello, writer!.handle)
    writer = nil
    try connectionChild.start()
    #expect(try reader.recv(String.self) == "hello")
    #expect(try connectionChild.join(timeout: .seconds(30)) == .exited(0))
    _ = reader
  }
}
