import ComputeEngine
import Foundation
import Multiprocessing
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The synchronous `mapUnordered` and the map with progress: every result once, on the
/// calling thread; a failure or a throwing body gives the job up and leaves the pool usable.
@Suite(.timeLimit(.minutes(3))) struct BlockingMapTests {
  @Test(arguments: [false, true])
  func everyResultArrivesOnceOnTheCallingThread(codable: Bool) throws {
    let caller = pthread_self()
    var seen: [Int: Int] = [:]
    if codable {
      let pool = try ProcessPool<String, String>(placement: .cores(2)) { String(Int($0)! * 2) }
      defer { pool.terminate() }
      try pool.mapUnordered((0..<500).map(String.init), chunkSize: 7) { index, output in
        #expect(pthread_equal(pthread_self(), caller) != 0)
        seen[index, default: 0] += Int(output)! == index * 2 ? 1 : 100
      }
    } else {
      let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { $0 * 2 }
      defer { pool.terminate() }
      try pool.mapUnordered(Array(0..<500)) { index, output in
        #expect(pthread_equal(pthread_self(), caller) != 0)
        seen[index, default: 0] += output == index * 2 ? 1 : 100
      }
    }
    #expect(seen.count == 500 && seen.values.allSatisfy { $0 == 1 })
  }

  @Test func aFailureOrAThrowingBodyGivesTheJobUp() throws {
    struct Stop: Error {}
    let runs = try SharedArray(repeating: 0, count: 400, lock: true)
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      try runs.withLock { $0[input] += 1 }
      usleep(2000)
      if input == 3 { throw CocoaError(.featureUnsupported) }
      return input
    }
    defer { pool.terminate() }
    #expect(throws: PoolError.self) { try pool.mapUnordered(Array(0..<200), chunkSize: 1) { _, _ in } }
    var taken = 0
    #expect(throws: Stop.self) {
      try pool.mapUnordered(Array(200..<400), chunkSize: 1) { _, _ in
        taken += 1
        if taken == 5 { throw Stop() }
      }
    }
    #expect(taken == 5)
    // Given up: most inputs never ran; the pool still maps.
    #expect(try pool.map([7, 8]) == [7, 8])
    let ran = try runs.withLock { buffer in buffer[200..<400].filter { $0 > 0 }.count }
    #expect(ran < 100, "\(ran) of 200 inputs ran after the body stopped")
  }

  @Test func progressCountsUpToTheTotal() throws {
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      if input == 17 { throw CocoaError(.featureUnsupported) }
      return input + 1
    }
    defer { pool.terminate() }
    var counts: [Int] = []
    let outputs = try pool.map(Array(100..<400), chunkSize: 10) { counts.append($0) }
    #expect(outputs == Array(101...400))
    #expect(counts == Array(1...300))
    var failingCounts = 0
    #expect(throws: PoolError.self) {
      try pool.map(Array(0..<50)) { _ in failingCounts += 1 }
    }
    #expect(failingCounts == 50, "every input ran, as map's")
  }

  /// A range maps without being made an array whole (a window at a time), and a kernel that
  /// returns nothing runs once for every index through `forEach`.
  @Test func rangesAndForEach() throws {
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { $0 &* 3 }
    defer { pool.terminate() }
    #expect(try pool.map(5..<2005, window: 300) == (5..<2005).map { $0 * 3 })
    #expect(
      try pool.map(stride(from: 0, to: 100, by: 7).map { $0 }.lazy.map { $0 }, window: 4)
        == stride(from: 0, to: 100, by: 7).map { $0 * 3 })
    #expect(try pool.map(0..<0) == [])
    #expect(throws: PoolError.invalidArgument("window must be at least 1, not 0")) { try pool.map(0..<3, window: 0) }

    let runs = try SharedArray(repeating: 0, count: 10_000)
    let cells = runs.buffer
    let fill = try ProcessPool<Int, Void>(placement: .cores(2)) { cells[$0] += 1 }
    defer { fill.terminate() }
    try fill.forEach(0..<10_000)
    #expect(runs.allSatisfy { $0 == 1 })
  }

  /// A map-reduce over a range: each piece folded in a worker, the partial results merged
  /// here in range order; pieces cover the range exactly once, whatever their number.
  @Test func reduceOverARange() throws {
    let words = (0..<5000).map { "w\($0 % 41)" }
    let pool = try ProcessPool<Range<Int>, [String: Int]>(placement: .cores(2)) { piece in
      var counts: [String: Int] = [:]
      for index in piece { counts[words[index], default: 0] += 1 }
      return counts
    }
    defer { pool.terminate() }
    let expected = Dictionary(words.map { ($0, 1) }, uniquingKeysWith: +)
    for pieces in [nil, 1, 7, 5000, 9000] {
      let counts = try pool.reduce(0..<words.count, pieces: pieces, into: [:]) { $0.merge($1, uniquingKeysWith: +) }
      #expect(counts == expected, "\(String(describing: pieces)) pieces")
    }
    let ordered = try ProcessPool<Range<Int>, [Int]>(placement: .cores(2)) { Array($0) }
    defer { ordered.terminate() }
    #expect(try ordered.reduce(10..<30, pieces: 6, into: []) { $0 += $1 } == Array(10..<30), "merged in range order")
    #expect(try ordered.reduce(0..<0, into: [-1]) { $0 += $1 } == [-1])
    #expect(throws: PoolError.invalidArgument("pieces must be at least 1, not 0")) {
      try ordered.reduce(0..<3, pieces: 0, into: []) { $0 += $1 }
    }
  }
}
