import Foundation
import TestEntryPoints
import Testing

@testable import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// Rings across processes: order, exactly-once delivery, close and drain, timeouts.
@Suite(.timeLimit(.minutes(3))) struct RingTests {
  @Test(arguments: [SlotRing<Int>.Mode.singleProducerSingleConsumer, .multiProducerMultiConsumer])
  func itemsCrossInOrder(mode: SlotRing<Int>.Mode) throws {
    let ring = try SlotRing<Int>(capacity: 1000, mode: mode)
    #expect(ring.capacity == 1024)
    let producer = try forked {
      for value in 0..<200_000 { try ring.push(value) }
      ring.close()
    }
    var expected = 0
    var inOrder = true
    while let value = ring.pop() {
      if value != expected { inOrder = false }
      expected += 1
    }
    try producer.join()
    #expect(inOrder)
    #expect(expected == 200_000)
    #expect(ring.isFinished)
  }

  @Test func batchesCrossInOrder() throws {
    let ring = try SlotRing<UInt64>(capacity: 256, mode: .singleProducerSingleConsumer)
    let producer = try forked {
      var batch = [UInt64](repeating: 0, count: 64)
      for start in stride(from: 0, to: 100_000, by: 64) {
        for index in 0..<64 { batch[index] = UInt64(start + index) }
        try ring.push(contentsOf: batch)
      }
      ring.close()
    }
    var buffer = [UInt64](repeating: 0, count: 100)
    var next: UInt64 = 0
    var inOrder = true
    while case let count = try buffer.withUnsafeMutableBufferPointer({ try ring.pop(into: $0) }), count > 0 {
      for value in buffer[0..<count] {
        if value != next { inOrder = false }
        next += 1
      }
    }
    try producer.join()
    #expect(inOrder)
    #expect(next == 100_032)
  }

  /// A consumer lets a pushing producer get ahead before taking items one by one; when the
  /// producer stops short of that distance, what it pushed still arrives.
  @Test func itemsArriveWhenTheProducerStopsShortOfTheTrailingDistance() throws {
    let ring = try SlotRing<Int>(capacity: 256, mode: .singleProducerSingleConsumer)
    let acknowledgements = try SlotRing<Int>(capacity: 4, mode: .singleProducerSingleConsumer)
    let rounds = 1...40
    let producer = try forked {
      var next = 0
      for size in rounds {
        for _ in 0..<size {
          try ring.push(next)
          next += 1
        }
        guard try acknowledgements.pop(timeout: .seconds(10)) == size else { exit(1) }
      }
    }
    var buffer = [Int](repeating: 0, count: 64)
    var expected = 0
    var inOrder = true
    for size in rounds {
      var received = 0
      while received < size {
        // Single pops and batch pops both trail the producer.
        if received % 2 == 0 {
          let value = try #require(try ring.pop(timeout: .seconds(10)))
          inOrder = inOrder && value == expected
          expected += 1
          received += 1
        } else {
          let count = try buffer.withUnsafeMutableBufferPointer { try ring.pop(into: $0, timeout: .seconds(10)) }
          for value in buffer[0..<count] {
            inOrder = inOrder && value == expected
            expected += 1
          }
          received += count
        }
      }
      #expect(received == size)
      try acknowledgements.push(size)
    }
    try producer.join()
    #expect(inOrder)
    #expect(try producer.exitCode == 0)
  }

  @Test func manyProducersAndConsumersDeliverEachItemOnce() throws {
    let ring = try SlotRing<Int>(capacity: 64, mode: .multiProducerMultiConsumer)
    let sums = try SharedArray(repeating: 0, count: 2)
    let counts = try SharedArray(repeating: 0, count: 2)
    let consumers = try (0..<2).map { index in
      try forked {
        var sum = 0
        var count = 0
        while let value = ring.pop() {
          sum += value
          count += 1
        }
        sums[index] = sum
        counts[index] = count
      }
    }
    let producers = try (0..<2).map { index in
      try forked { for value in 1...50_000 { try ring.push(index == 0 ? value : -value * 2) } }
    }
    for producer in producers { try producer.join() }
    ring.close()
    for consumer in consumers { try consumer.join() }
    let total = counts[0] + counts[1]
    #expect(total == 100_000)
    let expectedSum = -(50_000 * 50_001 / 2)
    let sum = sums[0] + sums[1]
    #expect(sum == expectedSum)
  }

  /// Producers that find a tiny ring full over and over: a regression test for a position
  /// difference that could be read negative (and trap) while consumers raced ahead.
  @Test func producersHammeringATinyFullRing() throws {
    for _ in 0..<5 {
      let ring = try SlotRing<UInt64>(capacity: 8, mode: .multiProducerMultiConsumer)
      let producers = try (0..<2).map { _ in try forked { for _ in 0..<20_000 { try ring.push(1) } } }
      var received: UInt64 = 0
      while received < 40_000, let value = try ring.pop(timeout: .seconds(10)) { received += value }
      for producer in producers { try producer.join() }
      #expect(received == 40_000)
      #expect(try producers.map { try $0.exitCode } == [0, 0])
    }
  }

  @Test func closeThenDrainThenEnd() throws {
    let ring = try SlotRing<Int32>(capacity: 8)
    try ring.push(1)
    try ring.push(2)
    ring.close()
    #expect(throws: RingError.closed) { try ring.push(3) }
    #expect(throws: RingError.closed) { try ring.tryPush(3) }
    #expect(ring.pop() == 1)
    #expect(ring.tryPop() == 2)
    #expect(ring.pop() == nil)
    #expect(ring.isFinished)
  }

  /// A multi-producer slot that is reserved but not yet written (its producer preempted or
  /// stopped right after the reservation): the consumer goes to sleep, leaving the core to that
  /// producer, and its timeout holds. Likewise a producer behind a slot a consumer has taken but
  /// not yet read.
  @Test func slotsHeldMidOperationAreWaitedForAsleep() throws {
    func threadCPUTime() -> Duration {
      var now = timespec()
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
      return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
    let consumerSide = try SlotRing<Int>(capacity: 4, mode: .multiProducerMultiConsumer)
    consumerSide.head.add(1)  // What a producer does first.
    var cpu = threadCPUTime()
    #expect(throws: RingError.timedOut) { try consumerSide.pop(timeout: .milliseconds(200)) }
    #expect(threadCPUTime() - cpu < .milliseconds(50))

    let producerSide = try SlotRing<Int>(capacity: 2, mode: .multiProducerMultiConsumer)
    try producerSide.push(1)
    try producerSide.push(2)
    producerSide.tail.add(1)  // What a consumer does first.
    cpu = threadCPUTime()
    #expect(throws: RingError.timedOut) { try producerSide.push(3, timeout: .milliseconds(200)) }
    #expect(threadCPUTime() - cpu < .milliseconds(50))
  }

  @Test(arguments: [SlotRing<Int>.Mode.singleProducerSingleConsumer, .multiProducerMultiConsumer])
  func fullAndEmptyRingsTimeOut(mode: SlotRing<Int>.Mode) throws {
    let ring = try SlotRing<Int>(capacity: 2, mode: mode)
    #expect(try ring.tryPush(1))
    #expect(try ring.tryPush(2))
    #expect(try !ring.tryPush(3))
    let started = ContinuousClock.now
    #expect(throws: RingError.timedOut) { try ring.push(3, timeout: .milliseconds(100)) }
    #expect(ContinuousClock.now - started >= .milliseconds(100))
    let popped: [Int?] = [ring.tryPop(), ring.tryPop(), ring.tryPop()]
    #expect(popped == [1, 2, nil])
    #expect(throws: RingError.timedOut) { try ring.pop(timeout: .milliseconds(50)) }
    #expect(throws: RingError.invalidArgument("capacity must be between 1 and 2^30, not 0")) {
      try SlotRing<Int>(capacity: 0)
    }
  }

  /// A consumer trails a pushing producer 256 items behind, or half the ring when that is
  /// less: it never waits for a full ring, whose producer would stop (and sleep) first.
  @Test func theTrailingDistanceIsHalfASmallRing() throws {
    let distances = try [1, 2, 64, 512, 4096].map {
      try SlotRing<UInt64>(capacity: $0, mode: .singleProducerSingleConsumer).trailingDistance
    }
    #expect(distances == [0, 1, 32, 256, 256])
  }

  /// A single producer's batch waits for room for all of it: one that times out pushed
  /// none of it, and one that waits goes in whole once the consumer frees enough slots.
  @Test func aBatchGoesInWholeOrNotAtAll() throws {
    let ring = try SlotRing<Int>(capacity: 8, mode: .singleProducerSingleConsumer)
    try ring.push(contentsOf: Array(0..<6))
    #expect(throws: RingError.timedOut) { try ring.push(contentsOf: [6, 7, 8, 9], timeout: .milliseconds(50)) }
    #expect(ring.count == 6)
    // Freed one at a time by another process: nothing lands in the third free slot (a push
    // into it would show within the 20 ms), and the batch lands whole with the fourth.
    let consumer = try forked {
      guard ring.tryPop() == 0, ring.count == 5 else { exit(1) }
      usleep(20_000)
      guard ring.count == 5, ring.tryPop() == 1 else { exit(2) }
    }
    try ring.push(contentsOf: [6, 7, 8, 9], timeout: .seconds(10))
    try consumer.join()
    #expect(try consumer.exitCode == 0)
    var rest = [Int](repeating: -1, count: 8)
    let taken = rest.withUnsafeMutableBufferPointer { ring.tryPop(into: $0) }
    #expect(Array(rest[..<taken]) == Array(2..<10))
    // More than the ring holds goes in runs of its capacity.
    let big = try SlotRing<Int>(capacity: 4, mode: .singleProducerSingleConsumer)
    let drainer = try forked {
      var next = 0
      while next < 10, let value = try big.pop(timeout: .seconds(10)) {
        guard value == next else { exit(1) }
        next += 1
      }
      exit(next == 10 ? 0 : 1)
    }
    try big.push(contentsOf: Array(0..<10), timeout: .seconds(10))
    try drainer.join()
    #expect(try drainer.exitCode == 0)
  }

  @Test func aBlockedConsumerIsWokenByAPushFromAnotherProcess() throws {
    let ring = try SlotRing<Int>(capacity: 4, mode: .singleProducerSingleConsumer)
    let producer = try forked {
      usleep(200_000)
      try ring.push(42)
    }
    #expect(try ring.pop(timeout: .seconds(10)) == 42)
    try producer.join()
  }

  @Test func byteRingCarriesMessagesLargerThanItself() throws {
    let ring = try ByteRing(capacity: 256)
    let sizes = [0, 1, 255, 256, 257, 10_000, 1_000_000]
    let producer = try forked {
      for size in sizes { try ring.send(Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })) }
      try ring.send(["a": 1, "b": 2])
      ring.close()
    }
    for size in sizes {
      let message = try #require(try ring.receive(timeout: .seconds(20)))
      #expect(message == Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
    }
    #expect(try ring.receive([String: Int].self, timeout: .seconds(20)) == ["a": 1, "b": 2])
    #expect(try ring.receive(timeout: .seconds(20)) == nil)
    try producer.join()
    #expect(throws: RingError.closed) { try ring.send(Data([1])) }
  }

  /// A send waiting for room on a consumer that died gives up when told the peer is gone.
  @Test func aByteRingSendGivesUpWhenItsConsumerDied() throws {
    let ring = try ByteRing(capacity: 256)
    #expect(ring.freeBytes == 256)
    try ring.send(Data(count: 100))
    #expect(ring.freeBytes == 256 - 108, "a message takes its length and 8 bytes")
    let consumer = try forked { _ = try ring.receive(timeout: .seconds(10)) }  // takes one message, then dies
    try consumer.join()
    let started = ContinuousClock.now
    #expect(throws: RingError.peerGone) {
      try ring.send(Data(count: 10_000), peerGone: { (try? consumer.isAlive) != true })
    }
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test func aRingReopenedFromItsHandle() throws {
    let ring = try SlotRing<Double>(capacity: 16)
    let reopened = try SlotRing<Double>(ring.handle)
    try ring.push(2.5)
    #expect(reopened.pop() == 2.5)
    let bytes = try ByteRing(capacity: 64)
    try bytes.send(Data([7]))
    #expect(try ByteRing(bytes.handle).receive() == Data([7]))
  }
}
