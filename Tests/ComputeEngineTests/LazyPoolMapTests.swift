import Foundation
import Multiprocessing
import Synchronization
import Testing

@testable import ComputeEngine

/// `imap`: lazy, in order, bounded, and stopped by its consumer.
@Suite(.timeLimit(.minutes(2))) struct LazyPoolMapTests {
  /// Inputs `0 ..< count`, counting how many were pulled.
  struct CountingInputs: Sequence, Sendable {
    final class Counter: Sendable {
      let pulled = Atomic<Int>(0)
    }
    let count: Int
    let counter = Counter()

    struct Iterator: IteratorProtocol {
      var position = 0
      let count: Int
      let counter: Counter
      mutating func next() -> Int? {
        guard position < count else { return nil }
        counter.pulled.add(1, ordering: .relaxed)
        defer { position += 1 }
        return position
      }
    }
    func makeIterator() -> Iterator { Iterator(count: count, counter: counter) }
    var pulled: Int { counter.pulled.load(ordering: .relaxed) }
  }

  @Test(arguments: everyLink)
  func outputsComeInInputOrder(link: PoolLink) async throws {
    let pool = try linkedPool(link) { (input: Int) in input &* 3 }
    defer { pool.terminate() }
    var outputs: [Int] = []
    for try await output in pool.imap(CountingInputs(count: 10_000), window: 700) { outputs.append(output) }
    #expect(outputs == (0..<10_000).map { $0 &* 3 })
  }

  @Test func inputsArePulledAsOutputsAreTaken() async throws {
    let pool = try ProcessPool<Int, Int> { $0 + 1 }
    defer { pool.terminate() }
    let inputs = CountingInputs(count: 10_000_000)
    var iterator = pool.imap(inputs, window: 100).makeAsyncIterator()
    for expected in 1...10 { #expect(try await iterator.next() == expected) }
    try await Task.sleep(for: .milliseconds(100))
    // Two windows in the pool and one being gathered, at most.
    #expect(inputs.pulled <= 300, "\(inputs.pulled) of 10,000,000 inputs pulled for 10 outputs")
  }

  @Test func aConsumerThatStopsStopsThePulling() async throws {
    let pool = try ProcessPool<Int, Int> { $0 }
    defer { pool.terminate() }
    let inputs = CountingInputs(count: 10_000_000)
    var taken = 0
    for try await _ in pool.imap(inputs, window: 50) {
      taken += 1
      if taken == 10 { break }
    }
    try await Task.sleep(for: .milliseconds(50))
    let afterStop = inputs.pulled
    try await Task.sleep(for: .milliseconds(100))
    #expect(inputs.pulled == afterStop, "pulling went on after the consumer stopped")
    #expect(afterStop <= 150)
    // The workers are free for the next job.
    #expect(try await pool.map([1, 2, 3]) == [1, 2, 3])
  }

  /// The windows out in the pool when the consumer stops are given up: their inputs no
  /// worker has taken do not run (windows of 50 inputs of 100 ms, in chunks of 7). Two
  /// windows are out at once; of each, at most the chunks the two workers held may still
  /// run: 28 (here 24, where both windows ran to their end, 97, before). Inputs of 100 ms,
  /// not 20: the test's task waits on cooperative threads the suite's blocking tests can hold
  /// for a while on two CPUs, and with 20 ms inputs more ran meanwhile than the windows held.
  @Test(arguments: everyLink)
  func aConsumerThatStopsGivesTheWindowsUp(link: PoolLink) async throws {
    let runs = try SharedArray(repeating: 0, count: 200, lock: true)
    let pool = try linkedPool(link, placement: .cores(2)) { (input: Int) -> Int in
      _ = try? runs.withLock { $0[input] += 1 }
      usleep(100_000)
      return input
    }
    defer { pool.terminate() }
    for try await _ in pool.imap(Array(0..<200), window: 50) { break }
    let atStop = runs.reduce(0, +)
    // The windows' jobs finish (the workers are free again), with no more than they held.
    #expect(try await pool.map([199]) == [199])
    try await Task.sleep(for: .milliseconds(200))
    let ran = runs.reduce(0, +) - 1
    #expect(ran - atStop <= 28, "inputs that ran: \(atStop) when the consumer stopped, \(ran) in all")
  }

  @Test func theFirstFailureIsThrownAtItsPlace() async throws {
    struct Bad: Error, CustomStringConvertible { var description: String { "bad 57" } }
    let pool = try ProcessPool<Int, Int> { input in
      if input == 57 { throw Bad() }
      return input
    }
    defer { pool.terminate() }
    var outputs: [Int] = []
    await #expect(throws: PoolError.kernelFailed("bad 57")) {
      for try await output in pool.imap(CountingInputs(count: 1000), window: 20) { outputs.append(output) }
    }
    #expect(outputs == Array(0..<57))
  }

  @Test func inputsThatArriveOverTime() async throws {
    let pool = try ProcessPool<Int, Int> { $0 * 2 }
    defer { pool.terminate() }
    let (stream, continuation) = AsyncStream<Int>.makeStream()
    let feeder = Task {
      for value in 0..<40 {
        continuation.yield(value)
        if value % 10 == 9 { try? await Task.sleep(for: .milliseconds(5)) }
      }
      continuation.finish()
    }
    var outputs: [Int] = []
    for try await output in pool.imap(stream) { outputs.append(output) }
    await feeder.value
    #expect(outputs == (0..<40).map { $0 * 2 })
  }

  /// Inputs that throw after some items: every output of an input before the error comes
  /// first (CPython gives [0, 1, 4] for three inputs and a window of 1; we dropped the last
  /// windows and gave [0, 1]), then the inputs' own error.
  @Test(arguments: [1, 2, 5])
  func anInputErrorComesAfterTheOutputsBeforeIt(window: Int) async throws {
    struct Broken: Error, Equatable {}
    let pool = try ProcessPool<Int, Int> { $0 * $0 }
    defer { pool.terminate() }
    let (stream, continuation) = AsyncThrowingStream<Int, any Error>.makeStream()
    for value in 0..<3 { continuation.yield(value) }
    continuation.finish(throwing: Broken())
    var outputs: [Int] = []
    await #expect(throws: Broken.self) {
      for try await output in pool.imap(stream, window: window) { outputs.append(output) }
    }
    #expect(outputs == [0, 1, 4])
  }

  /// `imapUnordered` over inputs that arrive over time: every output with its index; an
  /// error of the inputs comes after the outputs of every input before it, whatever the
  /// window (0, 1 and 4 for three inputs, then the error).
  @Test(arguments: [1, 2, 5])
  func imapUnorderedOverAsyncInputsEndsWithTheirErrorAfterTheOutputsBeforeIt(window: Int) async throws {
    struct Broken: Error, Equatable {}
    let pool = try ProcessPool<Int, Int> { $0 * $0 }
    defer { pool.terminate() }
    let (stream, continuation) = AsyncThrowingStream<Int, any Error>.makeStream()
    for value in 0..<3 { continuation.yield(value) }
    continuation.finish(throwing: Broken())
    var outputs: [Int: Int] = [:]
    await #expect(throws: Broken.self) {
      for try await (index, output) in pool.imapUnordered(stream, window: window) { outputs[index] = output }
    }
    #expect(outputs == [0: 0, 1: 1, 2: 4])

    let (arriving, more) = AsyncStream<Int>.makeStream()
    Task {
      for value in 0..<100 {
        more.yield(value)
        try? await Task.sleep(for: .milliseconds(1))
      }
      more.finish()
    }
    var all: [Int: Int] = [:]
    for try await (index, output) in pool.imapUnordered(arriving) { all[index] = output }
    #expect(all == Dictionary(uniqueKeysWithValues: (0..<100).map { ($0, $0 * $0) }))
  }

  /// A kernel's failure before the inputs' error is the one thrown, at its place.
  @Test func aKernelFailureBeforeAnInputErrorWins() async throws {
    struct Broken: Error {}
    struct Bad: Error, CustomStringConvertible { var description: String { "bad 1" } }
    let pool = try ProcessPool<Int, Int> { input in
      if input == 1 { throw Bad() }
      return input
    }
    defer { pool.terminate() }
    let (stream, continuation) = AsyncThrowingStream<Int, any Error>.makeStream()
    for value in 0..<3 { continuation.yield(value) }
    continuation.finish(throwing: Broken())
    var outputs: [Int] = []
    await #expect(throws: PoolError.kernelFailed("bad 1")) {
      for try await output in pool.imap(stream, window: 1) { outputs.append(output) }
    }
    #expect(outputs == [0])
  }

  /// `imapUnordered`: every input's output once, with its index; a slow input does not hold
  /// up the others; inputs are pulled as outputs are taken.
  @Test func imapUnorderedYieldsEveryOutputOnceAsItComes() async throws {
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      if input == 0 { usleep(300_000) }  // the first input is slow
      return input &* 3
    }
    defer { pool.terminate() }
    var seen: [Int: Int] = [:]
    var order: [Int] = []
    for try await (index, output) in pool.imapUnordered(CountingInputs(count: 5000), chunkSize: 1, window: 300) {
      seen[index] = output
      order.append(index)
    }
    #expect(seen.count == 5000 && seen.allSatisfy { $0.value == $0.key &* 3 })
    #expect(order.first != 0, "the slow first input did not hold up the others")

    let inputs = CountingInputs(count: 10_000_000)
    var iterator = pool.imapUnordered(inputs, window: 100).makeAsyncIterator()
    for _ in 0..<10 { _ = try await iterator.next() }
    try await Task.sleep(for: .milliseconds(100))
    #expect(inputs.pulled <= 300, "\(inputs.pulled) of 10,000,000 inputs pulled for 10 outputs")
  }

  @Test func imapUnorderedEndsWithTheFirstFailure() async throws {
    struct Bad: Error, CustomStringConvertible { var description: String { "bad 57" } }
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      if input == 57 { throw Bad() }
      return input
    }
    defer { pool.terminate() }
    var outputs = 0
    await #expect(throws: PoolError.kernelFailed("bad 57")) {
      for try await _ in pool.imapUnordered(CountingInputs(count: 1000), window: 20) { outputs += 1 }
    }
    #expect(outputs < 1000)
    #expect(try await pool.map([1, 2]) == [1, 2], "the pool serves on")
  }
}
