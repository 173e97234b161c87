import Foundation
import Multiprocessing

extension ProcessTeam {
  /// Runs `body` for every index of `range` on the team's members, which claim chunks of
  /// indices as they finish the last (OpenMP's `parallel for schedule(dynamic)`), so that
  /// uneven indices balance out. Nothing is materialised: a member computes its indices from
  /// the range. `body` writes its results into shared memory (a `SharedArray`, a
  /// `SharedMatrix`); it sees the caller's memory as it is at the call.
  ///
  /// ```swift
  /// let image = try SharedMatrix(rows: 2000, columns: 2000, repeating: UInt8(0))
  /// try team.forEach(0..<2000) { row in render(row, into: image.row(row)) }
  /// ```
  ///
  /// - Parameters:
  ///   - range: the indices.
  ///   - chunkSize: indices a member claims at a time; about indices ÷ (members × 8) by
  ///     default.
  ///   - body: run once for each index, in some member.
  /// - Throws: as `run(_:)`: the first index whose `body` throws ends
  ///   the call with ``PoolError/memberFailed(rank:message:)``; ``PoolError/invalidArgument(_:)``
  ///   for a chunk size under 1.
  public func forEach(_ range: Range<Int>, chunkSize: Int? = nil, _ body: @escaping (Int) throws -> Void) throws {
    let claims = try IndexClaims(range, chunkSize: chunkSize, members: size)
    try run { _ in try claims.forEachClaimed(body) }
  }

  /// Folds every index of `range` into an accumulator per member (each member claiming
  /// chunks of indices as ``forEach(_:chunkSize:_:)`` does), then merges the members'
  /// accumulators in the caller: a map-reduce whose partial results cross between processes
  /// once per member, not once per index or chunk.
  ///
  /// ```swift
  /// let counts = try team.reduce(0..<64, into: [String: Int]()) { counts, piece in
  ///   for word in words(inPiece: piece) { counts[word, default: 0] += 1 }
  /// } merge: { total, part in total.merge(part, uniquingKeysWith: +) }
  /// ```
  ///
  /// - Parameters:
  ///   - range: the indices.
  ///   - chunkSize: indices a member claims at a time; about indices ÷ (members × 8) by
  ///     default.
  ///   - initial: every member's accumulator before its first index: the identity of
  ///     `merge` (an empty dictionary, a zero), since each member starts from it.
  ///   - accumulatorCapacity: the largest encoded accumulator a member may return, in bytes
  ///     (address space only: the pages a member does not write cost nothing).
  ///   - accumulate: folds one index into a member's accumulator.
  ///   - merge: folds a member's accumulator into the result, in rank order, starting from
  ///     member 0's; it should be associative and commutative, since which member takes which
  ///     chunk varies from run to run.
  /// - Returns: the merged accumulators.
  /// - Throws: as ``forEach(_:chunkSize:_:)``; an accumulator that cannot be encoded or is
  ///   over `accumulatorCapacity` fails its member with a message that says so.
  public func reduce<Accumulator: Codable>(
    _ range: Range<Int>, chunkSize: Int? = nil, into initial: Accumulator, accumulatorCapacity: Int = 1 << 30,
    _ accumulate: @escaping (inout Accumulator, Int) throws -> Void,
    merge: (inout Accumulator, Accumulator) throws -> Void
  ) throws -> Accumulator {
    let claims = try IndexClaims(range, chunkSize: chunkSize, members: size)
    let outboxes = try (0..<size).map { _ in try SharedMemory(size: 8 + accumulatorCapacity) }
    try run { member in
      var accumulator = initial
      try claims.forEachClaimed { try accumulate(&accumulator, $0) }
      let bytes = try BinaryEncoder().encode(accumulator)
      guard bytes.count <= accumulatorCapacity else {
        throw PoolError.invalidArgument(
          "member \(member.rank)'s accumulator encodes to \(bytes.count) bytes, over the accumulatorCapacity of \(accumulatorCapacity)"
        )
      }
      let outbox = outboxes[member.rank].baseAddress
      bytes.copyBytes(to: UnsafeMutableRawBufferPointer(start: outbox + 8, count: bytes.count))
      outbox.storeBytes(of: bytes.count, as: Int.self)
    }
    var result: Accumulator?
    for outbox in outboxes {
      let count = outbox.baseAddress.load(as: Int.self)
      let bytes = Data(bytes: outbox.baseAddress + 8, count: count)
      let part: Accumulator
      do { part = try BinaryDecoder().decode(Accumulator.self, from: bytes) } catch {
        throw PoolError.codingFailed("a member's accumulator could not be decoded: \(error)")
      }
      if result == nil { result = part } else { try merge(&result!, part) }
    }
    return result ?? initial
  }
}

/// The indices of a range, handed out in chunks to whichever member asks next, through a
/// counter in shared memory.
struct IndexClaims: Sendable {
  let range: Range<Int>
  let chunk: Int
  /// The offset into `range` of the next unclaimed chunk.
  let next: SharedValue<Int>

  init(_ range: Range<Int>, chunkSize: Int?, members: Int) throws {
    if let chunkSize, chunkSize < 1 {
      throw PoolError.invalidArgument("chunkSize must be at least 1, not \(chunkSize)")
    }
    self.range = range
    chunk = chunkSize ?? max(1, range.count / (members * 8))
    next = try SharedValue(0, lock: false)
  }

  /// Runs `body` on each index this process claims, until none is left.
  func forEachClaimed(_ body: (Int) throws -> Void) rethrows {
    while true {
      let start = next.add(chunk)
      guard start < range.count else { return }
      for offset in start..<min(start + chunk, range.count) { try body(range.lowerBound + offset) }
    }
  }
}
