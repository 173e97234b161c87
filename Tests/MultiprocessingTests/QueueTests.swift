import Foundation
import Multiprocessing
import Synchronization
import SystemPackage
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Queues between processes, through a pipe and through a ring: many producers and takers,
/// every start method, a bound, timeouts, close, a killed producer and taker, and the async
/// view.
@Suite(.timeLimit(.minutes(2))) struct QueueTests {
  struct Job: Codable, Equatable, Sendable {
    var id: Int
    var name: String
  }

  /// A queue of `Int`s that travel by `transport`.
  static func queue(_ transport: QueueTransport, maxSize: Int = 0) throws -> Queue<Int> {
    switch transport {
    case .ring: try Queue<Int>(maxSize: maxSize)
    case .pipe: try genericQueue(Int.self, maxSize: maxSize)
    }
  }

  /// Code generic over `Codable` elements, which gets the pipe.
  static func genericQueue<T: Codable & Sendable>(_: T.Type, maxSize: Int = 0) throws -> Queue<T> {
    try Queue<T>(maxSize: maxSize)
  }

  static func reopenGenerically<T: Codable & Sendable>(_ handle: Queue<T>.Handle) throws -> Queue<T> {
    try Queue<T>(handle)
  }

  @Test func bitwiseCopyableItemsTakeTheRingAndOthersThePipe() throws {
    struct Point: Codable, Sendable {
      var x: Double
      var y: Double
    }
    #expect(try Queue<Int>().transport == .ring)
    #expect(try Queue<Point>(maxSize: 10).transport == .ring)
    #expect(try JoinableQueue<Int>().transport == .ring)
    #expect(try Queue<String>().transport == .pipe)
    #expect(try Queue<Job>().transport == .pipe)
    #expect(try Self.genericQueue(Int.self).transport == .pipe, "generic code cannot know Int is BitwiseCopyable")
    // A slot over 4 KiB, or a bound of over 64 MiB of slots: the pipe.
    #expect(try Queue<Slab>().transport == .pipe)
    #expect(try Queue<Int>(maxSize: 10_000_000).transport == .pipe)
  }

  /// 4,608 bytes: over the largest slot.
  struct Slab: Codable, Sendable {
    var a, b, c, d, e, f, g, h, i: SIMD64<UInt64>
  }

  @Test func aRingHandleReopenedInGenericCodeSaysWhy() throws {
    let queue = try Queue<Int>()
    #expect(try Queue<Int>(queue.handle).transport == .ring)
    #expect {
      _ = try Self.reopenGenerically(queue.handle)
    } throws: { error in
      "\(error)".contains("BitwiseCopyable")
    }
    // A pipe queue's handle reopens anywhere.
    let pipe = try Self.genericQueue(Int.self)
    #expect(try Self.reopenGenerically(pipe.handle).transport == .pipe)
    #expect(try Queue<Int>(pipe.handle).transport == .pipe)
  }

  @Test func aRingHandleOfAnotherElementTypeIsRefused() throws {
    let queue = try Queue<Int>()
    let handle = try BinaryDecoder().decode(Queue<Double>.Handle.self, from: BinaryEncoder().encode(queue.handle))
    #expect(throws: SharedMemoryError.self) { _ = try Queue<Double>(handle) }
  }

  @Test func manyProducersOneConsumerLoseNothing() throws {
    let queue = try Queue<Job>()
    let producers = (0..<2).map { producer in
      Multiprocessing.Process(startMethod: .fork) {
        for k in 0..<500 { try queue.put(Job(id: producer * 1000 + k, name: "job \(k)")) }
      }
    }
    for producer in producers { try producer.start() }
    var ids: [Int] = []
    for _ in 0..<1000 { ids.append(try queue.get(timeout: .seconds(10)).id) }
    for producer in producers { try producer.join() }
    #expect(ids.sorted() == (0..<500).map { $0 } + (1000..<1500).map { $0 })
    // Each producer's items come in its order.
    #expect(ids.filter { $0 < 1000 } == Array(0..<500))
  }

  /// Two producers and two takers at once: every item taken once, each producer's items in
  /// its order for each taker.
  @Test(arguments: QueueTransport.allCases)
  func manyProducersAndTakersLoseNothing(transport: QueueTransport) throws {
    let queue = try Self.queue(transport, maxSize: 64)
    let perProducer = 20_000
    let sum = try SharedValue(0, lock: false)
    let taken = try SharedValue(0, lock: false)
    let outOfOrder = try SharedValue(0, lock: false)
    let producers = (0..<2).map { producer in
      Multiprocessing.Process(startMethod: .fork) {
        for k in 0..<perProducer { try queue.put(producer * 1_000_000 + k) }
      }
    }
    let takers = (0..<2).map { _ in
      Multiprocessing.Process(startMethod: .fork) {
        var last = [-1, -1]
        while case let item = try queue.get(timeout: .seconds(20)), item >= 0 {
          let producer = item / 1_000_000
          if item % 1_000_000 <= last[producer] { outOfOrder.add(1) }
          last[producer] = item % 1_000_000
          sum.add(item)
          taken.add(1)
        }
      }
    }
    for process in producers + takers { try process.start() }
    for producer in producers { try producer.join(timeout: .seconds(30)) }
    for _ in takers { try queue.put(-1, timeout: .seconds(5)) }
    for taker in takers { try taker.join(timeout: .seconds(30)) }
    for process in producers + takers where try process.isAlive {
      Issue.record("a producer or taker is stuck")
      try process.kill()
    }
    #expect(takers.allSatisfy { (try? $0.exitCode) == 0 })
    #expect(taken.load() == 2 * perProducer)
    #expect(sum.load() == 2 * (0..<perProducer).reduce(0, +) + 1_000_000 * perProducer)
    #expect(outOfOrder.load() == 0)
  }

  @Test(arguments: StartMethod.allCases, QueueTransport.allCases)
  func aChildOfEveryStartMethodUsesTheQueueByHandle(method: StartMethod, transport: QueueTransport) throws {
    let input = try Self.queue(transport)
    let output = try Self.queue(transport)
    let child = Fixture.process(
      method, TestEntryPoints.queueSummer, TestEntryPoints.QueuePair(input: input.handle, output: output.handle))
    try child.start()
    for value in 1...100 { try input.put(value) }
    input.close()
    #expect(try output.get(timeout: .seconds(10)) == 5050)
    try child.join()
    #expect(try child.exitCode == 0)
  }

  @Test(arguments: QueueTransport.allCases)
  func aBoundedQueueWaitsForRoom(transport: QueueTransport) throws {
    let queue = try Self.queue(transport, maxSize: 3)
    for item in 1...3 { try queue.put(item) }
    let started = ContinuousClock.now
    #expect(throws: QueueError.full) { try queue.put(4, timeout: .milliseconds(50)) }
    #expect(ContinuousClock.now - started >= .milliseconds(40))
    #expect(try queue.get() == 1)
    try queue.put(4, timeout: .milliseconds(50))
    #expect(throws: QueueError.full) { try queue.put(5, timeout: .zero) }
    #expect(try (0..<3).map { _ in try queue.get(timeout: .zero) } == [2, 3, 4])
    #expect(throws: QueueError.empty) { _ = try queue.get(timeout: .zero) }
  }

  /// An unbounded queue's put never waits (Python's feeder): 100,000 `Int`s, past the
  /// ring's 65,536 slots and the pipe's 64 KiB, each put with `timeout: .zero`, all counted,
  /// and taken in order.
  @Test(arguments: QueueTransport.allCases)
  func anUnboundedPutNeverWaits(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let started = ContinuousClock.now
    for item in 0..<100_000 { try queue.put(item, timeout: .zero) }
    #expect(ContinuousClock.now - started < .seconds(10))
    #expect(!queue.isFull)
    #expect(queue.count == 100_000)
    for item in 0..<100_000 { #expect(try queue.get(timeout: .seconds(5)) == item) }
    #expect(queue.isEmpty)
    #expect(throws: QueueError.empty) { _ = try queue.get(timeout: .milliseconds(20)) }
  }

  /// A pipe full of 1 KiB items, unbounded and bounded above what the pipe holds: puts with
  /// `timeout: .zero` are taken at once; a close while items wait in the feeder ends the
  /// queue after every one of them, and refuses the puts after it.
  @Test(arguments: [0, 5000])
  func aPipeFullOfLargeItemsTakesEveryPutAndClosesAfterThem(maxSize: Int) throws {
    let queue = try Self.genericQueue(String.self, maxSize: maxSize)
    let item = String(repeating: "x", count: 1024)
    let started = ContinuousClock.now
    for index in 0..<2000 { try queue.put("\(index) \(item)", timeout: .zero) }
    #expect(ContinuousClock.now - started < .seconds(5))
    queue.close()
    #expect(throws: QueueError.closed) { try queue.put("after the close", timeout: .zero) }
    for index in 0..<2000 { #expect(try queue.get(timeout: .seconds(5)).hasPrefix("\(index) ")) }
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(5)) }
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
  }

  /// "Put everything, then start the consumers", from a child of every start method: its
  /// 100,000 puts (past the ring's slots and the pipe's bytes) all return before anyone takes, its close comes after them, its exit waits
  /// until its items are in the queue, and the parent takes every one, in order, then the end.
  @Test(arguments: StartMethod.allCases, QueueTransport.allCases)
  func aChildPutsEverythingBeforeAnyoneTakes(method: StartMethod, transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let putsReturned = try SharedValue(0, lock: false)
    let child = Fixture.process(
      method, TestEntryPoints.queueFlooder,
      TestEntryPoints.QueueFlood(queue: queue.handle, count: 100_000, putsReturned: putsReturned.handle))
    try child.start()
    #expect(eventually(within: .seconds(20)) { putsReturned.load() == 100_000 }, "no put waited for a taker")
    #expect(try child.isAlive, "its exit waits for its buffered items")
    for item in 0..<100_000 { #expect(try queue.get(timeout: .seconds(10)) == item) }
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(10)) }
    try child.join(timeout: .seconds(10))
    #expect(try child.exitCode == 0)
  }

  /// A child forked while its parent's feeder holds items does not write them again: the
  /// parent's items arrive once each, in order, with the child's own among them.
  @Test(arguments: QueueTransport.allCases)
  func aForkedChildDoesNotWriteItsParentsBufferedItems(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    // The child's put runs code the parent ran first: a child forked from this many-threaded
    // runner must not build runtime metadata (another thread may hold its lock at the fork).
    try queue.put(-2)
    for item in 0..<100_000 { try queue.put(item, timeout: .zero) }
    let child = Multiprocessing.Process(startMethod: .fork) { try queue.put(-1) }
    try child.start()
    var received: [Int] = []
    while received.count < 100_002 { received.append(try queue.get(timeout: .seconds(10))) }
    try child.join(timeout: .seconds(10))
    #expect(received.first == -2)
    #expect(received.filter { $0 == -1 }.count == 1)
    #expect(received.filter { $0 >= 0 } == Array(0..<100_000))
    #expect(throws: QueueError.empty) { _ = try queue.get(timeout: .milliseconds(200)) }
  }

  /// A producer killed with items in its feeder, after its close: they are lost (as in
  /// Python), but the takers get the items that reached the queue, in order, and then the
  /// end — the dead process's buffered count does not hold it back.
  @Test(arguments: QueueTransport.allCases)
  func aProducerKilledWithBufferedItemsDoesNotHoldBackTheEnd(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let putsReturned = try SharedValue(0, lock: false)
    let producer = Fixture.process(
      .spawn, TestEntryPoints.queueFlooder,
      TestEntryPoints.QueueFlood(queue: queue.handle, count: 200_000, putsReturned: putsReturned.handle))
    try producer.start()
    #expect(eventually(within: .seconds(20)) { putsReturned.load() == 200_000 })
    usleep(20_000)
    try producer.kill()
    try producer.join(timeout: .seconds(10))
    var received: [Int] = []
    let started = ContinuousClock.now
    do {
      while true { received.append(try queue.get()) }
    } catch {
      #expect(error == .closed)
    }
    #expect(ContinuousClock.now - started < .seconds(10))
    #expect(received == Array(0..<received.count))
    #expect(received.count < 200_000, "the feeder's items died with it")
    #expect(throws: QueueError.closed) { try queue.put(1) }
  }

  @Test(arguments: QueueTransport.allCases)
  func getWaitsForItsTimeoutThenSaysEmpty(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let started = ContinuousClock.now
    #expect(throws: QueueError.empty) { _ = try queue.get(timeout: .milliseconds(50)) }
    #expect(ContinuousClock.now - started >= .milliseconds(40))
  }

  @Test(arguments: QueueTransport.allCases)
  func closeRefusesPutsAndEndsEveryTakerAfterTheItems(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    try queue.put(1)
    try queue.put(2)
    queue.close()
    queue.close()
    #expect(queue.isClosed)
    #expect(throws: QueueError.closed) { try queue.put(3) }
    #expect(try queue.get() == 1)
    #expect(try queue.get() == 2)
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
    // Every taker sees the end, not just the first.
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
  }

  /// A close from another process — of every start method — wakes a put waiting for room in a
  /// bounded queue: it throws `closed`, and its item is never delivered; the takers get the
  /// items put before, then `closed`, every one of them.
  @Test(arguments: StartMethod.allCases, QueueTransport.allCases)
  func aCloseFromAChildOfEveryStartMethodWakesAWaitingPut(method: StartMethod, transport: QueueTransport) throws {
    let queue = try Self.queue(transport, maxSize: 2)
    try queue.put(1)
    try queue.put(2)
    let closer = Fixture.process(method, TestEntryPoints.queueCloser, queue.handle)
    try closer.start()
    let started = ContinuousClock.now
    #expect(throws: QueueError.closed) { try queue.put(3) }
    #expect(ContinuousClock.now - started < .seconds(5), "the put woke at the close")
    try closer.join()
    #expect(try queue.get(timeout: .zero) == 1)
    #expect(try queue.get(timeout: .zero) == 2)
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
  }

  /// `count` and `isEmpty` (Python's `qsize()` and `empty()`) follow the puts of another
  /// process and the takes of this one.
  @Test(arguments: QueueTransport.allCases)
  func countFollowsPutsAndTakes(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    #expect(queue.isEmpty)
    let producer = Multiprocessing.Process(startMethod: .fork) {
      for item in 0..<10 { try queue.put(item) }
    }
    try producer.start()
    try producer.join()
    #expect(queue.count == 10)
    for _ in 0..<3 { _ = try queue.get(timeout: .zero) }
    #expect(queue.count == 7)
    #expect(!queue.isEmpty)
    for _ in 0..<7 { _ = try queue.get(timeout: .zero) }
    #expect(queue.isEmpty)
  }

  /// `isFull` (Python's `full()`) says when a bounded queue holds its `maxSize` items, in
  /// the process that filled it and in another; an unbounded pipe queue is never full.
  @Test(arguments: QueueTransport.allCases)
  func isFullFollowsTheBound(transport: QueueTransport) throws {
    let queue = try Self.queue(transport, maxSize: 3)
    #expect(!queue.isFull)
    for item in 0..<3 { try queue.put(item, timeout: .zero) }
    #expect(queue.isFull)
    #expect(throws: QueueError.full) { try queue.put(9, timeout: .zero) }
    let seen = try SharedValue(-1, lock: false)
    let child = Multiprocessing.Process(startMethod: .fork) { seen.value = queue.isFull ? 1 : 0 }
    try child.start()
    try child.join()
    #expect(seen.value == 1)
    _ = try queue.get(timeout: .zero)
    #expect(!queue.isFull)
    let unbounded = try Self.genericQueue(Int.self)
    for item in 0..<100 { try unbounded.put(item) }
    #expect(!unbounded.isFull)
  }

  /// A queue error carries the errno of the pipe's failed system call, and none otherwise.
  @Test func anErrorSaysWhichSystemCallFailed() {
    #expect(QueueError.connection(.system(call: "write", errno: .noSpace)).underlyingErrno == .noSpace)
    #expect(QueueError.connection(.endOfStream).underlyingErrno == nil)
    #expect(QueueError.full.underlyingErrno == nil)
  }

  /// A close wakes a taker that sleeps on the empty queue in another process.
  @Test(arguments: QueueTransport.allCases)
  func closeWakesASleepingTaker(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let sawEnd = try SharedValue(0, lock: false)
    let taker = Multiprocessing.Process(startMethod: .fork) {
      do { _ = try queue.get(timeout: .seconds(20)) } catch QueueError.closed { sawEnd.value = 1 }
    }
    try taker.start()
    usleep(100_000)
    queue.close()
    try taker.join(timeout: .seconds(10))
    #expect(sawEnd.load() == 1)
  }

  /// A taker killed while it waits (holding the takers' lock) does not block the others.
  @Test(arguments: QueueTransport.allCases)
  func aKilledTakerLeavesTheQueueUsable(transport: QueueTransport) throws {
    let queue = try Self.queue(transport)
    let taker = Multiprocessing.Process(startMethod: .fork) { _ = try? queue.get() }
    try taker.start()
    usleep(100_000)
    try taker.kill()
    try taker.join()
    try queue.put(5)
    #expect(try queue.get(timeout: .seconds(5)) == 5)
  }

  /// A taker killed in the middle of taking, at whatever point the kill finds it, leaves
  /// the items it did not take, in order and each once. (The ring only: a pipe taker killed
  /// between a message's length and its body leaves the pipe out of step.)
  @Test func aTakerKilledWhileTakingLeavesTheRestInOrder() throws {
    let count = 200_000
    for _ in 0..<3 {
      let queue = try Queue<Int>()
      let producer = Multiprocessing.Process(startMethod: .fork) {
        for item in 0..<count { try queue.put(item) }
      }
      let taken = try SharedValue(0, lock: false)
      let taker = Multiprocessing.Process(startMethod: .fork) {
        while true {
          _ = try queue.get()
          taken.add(1)
        }
      }
      try producer.start()
      try taker.start()
      #expect(eventually { taken.load() >= count / 10 })
      try taker.kill()
      try taker.join()
      var rest: [Int] = []
      while rest.last != count - 1, let item = try? queue.get(timeout: .seconds(5)) { rest.append(item) }
      try producer.join()
      let first = try #require(rest.first)
      #expect([taken.load(), taken.load() + 1].contains(first), "only the item in hand may be lost")
      #expect(rest == Array(first..<count))
    }
  }

  /// A producer killed in the middle of putting (at whatever point the kill finds it, and
  /// once after it filled the queue and buffers its puts) leaves the items that reached the
  /// queue whole and in order (those still in its feeder die with it, as in Python), and the
  /// next producer takes over.
  @Test(arguments: QueueTransport.allCases)
  func aProducerKilledWhilePuttingLeavesWholeItems(transport: QueueTransport) throws {
    for round in 0..<3 {
      let queue = try Self.queue(transport)
      let put = try SharedValue(0, lock: false)
      let producer = Multiprocessing.Process(startMethod: .fork) {
        for item in 0... {
          try queue.put(item)
          put.value = item + 1
        }
      }
      try producer.start()
      var received: [Int] = []
      // The first rounds take while it puts; the last lets it fill the queue and buffer.
      if round < 2 {
        while received.count < 1000 { received.append(try queue.get(timeout: .seconds(10))) }
      } else {
        #expect(eventually { put.load() > 1000 })
        usleep(50_000)
      }
      try producer.kill()
      try producer.join()
      while let item = try? queue.get(timeout: .milliseconds(200)) { received.append(item) }
      #expect(received == Array(0..<received.count))
      #expect(received.count <= put.load() + 1, "only items that were put")
      if round < 2 { #expect(received.count >= 1000) }
      // The next producer takes the producers' lock over from the dead one.
      try queue.put(-1, timeout: .seconds(5))
      #expect(try queue.get(timeout: .seconds(5)) == -1)
    }
  }

  @Test(arguments: QueueTransport.allCases)
  func joinWaitsUntilEveryItemIsDone(transport: QueueTransport) throws {
    let jobs = try transport == .ring ? JoinableQueue<Int>() : Self.genericJoinableQueue(Int.self)
    #expect(jobs.transport == transport)
    let done = try SharedValue(0, lock: false)
    for job in 0..<100 { try jobs.put(job) }
    #expect(try jobs.join(timeout: .milliseconds(50)) == false, "nothing is done yet")
    let workers = (0..<2).map { _ in
      Multiprocessing.Process(startMethod: .fork) {
        while let job = try? jobs.get(timeout: .milliseconds(200)) {
          done.add(job)
          try jobs.taskDone()
        }
      }
    }
    for worker in workers { try worker.start() }
    #expect(try jobs.join(timeout: .seconds(10)))
    #expect(done.load() == (0..<100).reduce(0, +), "join returned once every job was done")
    for worker in workers { try worker.join() }
    #expect(throws: QueueError.noTaskPending) { try jobs.taskDone() }
  }

  static func genericJoinableQueue<T: Codable & Sendable>(_: T.Type) throws -> JoinableQueue<T> {
    try JoinableQueue<T>()
  }

  @Test func theAsyncViewEndsWhenTheQueueIsClosed() async throws {
    let queue = try Queue<String>()
    let producer = Multiprocessing.Process(startMethod: .fork) {
      for word in ["alpha", "beta", "gamma"] { try queue.put(word) }
      queue.close()
    }
    try producer.start()
    var words: [String] = []
    for try await word in queue.values { words.append(word) }
    #expect(words == ["alpha", "beta", "gamma"])
    try await producer.join()
  }

  @Test func theAsyncViewOfARingQueue() async throws {
    let queue = try Queue<Int>()
    let producer = Multiprocessing.Process(startMethod: .fork) {
      for item in 0..<1000 { try queue.put(item) }
      queue.close()
    }
    try producer.start()
    var items: [Int] = []
    for try await item in queue.values { items.append(item) }
    #expect(items == Array(0..<1000))
    try await producer.join()
  }
}
