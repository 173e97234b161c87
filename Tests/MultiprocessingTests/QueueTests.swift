import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Queues between processes: many producers, every start method, a bound, timeouts, close,
/// a killed taker, and the async view.
@Suite(.timeLimit(.minutes(2))) struct QueueTests {
  struct Job: Codable, Equatable, Sendable {
    var id: Int
    var name: String
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

  @Test(arguments: StartMethod.allCases)
  func aChildOfEveryStartMethodUsesTheQueueByHandle(method: StartMethod) throws {
    let input = try Queue<Int>()
    let output = try Queue<Int>()
    let child = Fixture.process(
      method, TestEntryPoints.queueSummer, TestEntryPoints.QueuePair(input: input.handle, output: output.handle))
    try child.start()
    for value in 1...100 { try input.put(value) }
    input.close()
    #expect(try output.get(timeout: .seconds(10)) == 5050)
    try child.join()
    #expect(try child.exitCode == 0)
  }

  @Test func aBoundedQueueWaitsForRoom() throws {
    let queue = try Queue<Int>(maxSize: 2)
    try queue.put(1)
    try queue.put(2)
    let started = ContinuousClock.now
    #expect(throws: QueueError.full) { try queue.put(3, timeout: .milliseconds(50)) }
    #expect(ContinuousClock.now - started >= .milliseconds(40))
    #expect(try queue.get() == 1)
    try queue.put(3, timeout: .milliseconds(50))
    #expect(try queue.get() == 2)
    #expect(try queue.get() == 3)
  }

  @Test func getWaitsForItsTimeoutThenSaysEmpty() throws {
    let queue = try Queue<Int>()
    let started = ContinuousClock.now
    #expect(throws: QueueError.empty) { _ = try queue.get(timeout: .milliseconds(50)) }
    #expect(ContinuousClock.now - started >= .milliseconds(40))
  }

  @Test func closeRefusesPutsAndEndsEveryTakerAfterTheItems() throws {
    let queue = try Queue<Int>()
    try queue.put(1)
    try queue.put(2)
    queue.close()
    #expect(queue.isClosed)
    #expect(throws: QueueError.closed) { try queue.put(3) }
    #expect(try queue.get() == 1)
    #expect(try queue.get() == 2)
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
    // Every taker sees the end, not just the first.
    #expect(throws: QueueError.closed) { _ = try queue.get(timeout: .seconds(1)) }
  }

  /// A taker killed while it waits (holding the takers' lock) does not block the others.
  @Test func aKilledTakerLeavesTheQueueUsable() throws {
    let queue = try Queue<Int>()
    let taker = Multiprocessing.Process(startMethod: .fork) { _ = try? queue.get() }
    try taker.start()
    usleep(100_000)
    try taker.kill()
    try taker.join()
    try queue.put(5)
    #expect(try queue.get(timeout: .seconds(5)) == 5)
  }

  @Test func joinWaitsUntilEveryItemIsDone() throws {
    let jobs = try JoinableQueue<Int>()
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
}
