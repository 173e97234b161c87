import ComputeEngine
import Dispatch
import Foundation

/// Counting the words of a large text: the text cut into pieces at word boundaries, each
/// piece's words counted into a dictionary, the dictionaries merged.
///
/// Three versions of one job, whose counts must be equal: serial, threads
/// (`concurrentPerform` over the pieces, each piece's counts merged under a lock), and a
/// map-reduce on a ``ProcessTeam`` (``ProcessTeam/reduce(_:chunkSize:into:accumulatorCapacity:_:merge:)``:
/// each member counts the pieces it claims into one dictionary, and the caller merges one
/// dictionary per member). The members read the text from the caller's memory, inherited at
/// the fork; only the counts travel.
///
/// Threads are the better choice when the counts are wanted as they grow (a live view, an
/// early stop on the first match), or when the text is small: a few megabytes count in less
/// time than a team takes to start and to send its dictionaries back (about 1 ms each, plus
/// a few for 5,000 words). Processes pay off when each piece's work allocates heavily (the
/// threads share one allocator) or when a malformed piece may crash its counter.
enum WordCount {
  /// A deterministic text of about `bytes` bytes: words from a vocabulary of `vocabulary`
  /// made-up words, ten to a line.
  static func text(bytes: Int, vocabulary: Int = 5000) -> [UInt8] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state >> 33
    }
    let letters = Array("abcdefghijklmnopqrstuvwxyz".utf8)
    let words = (0..<vocabulary).map { _ in (0..<(3 + Int(next() % 8))).map { _ in letters[Int(next() % 26)] } }
    var text: [UInt8] = []
    text.reserveCapacity(bytes + 16)
    var inLine = 0
    while text.count < bytes {
      // Zipf-like: small indices far more often, as in real text.
      let pick = Int(next() % UInt64(vocabulary))
      text.append(contentsOf: words[pick * pick / vocabulary])
      inLine += 1
      text.append(inLine % 10 == 0 ? UInt8(ascii: "\n") : UInt8(ascii: " "))
    }
    return text
  }

  /// Whether `byte` separates words.
  @inline(__always)
  static func isSeparator(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") }

  /// The byte range of piece `piece` of `pieces`: an even cut moved forward to the next word's
  /// start, so that every word falls in exactly one piece.
  static func bounds(of piece: Int, pieces: Int, in text: UnsafeBufferPointer<UInt8>) -> Range<Int> {
    func boundary(_ cut: Int) -> Int {
      var position = cut
      while position > 0, position < text.count, !isSeparator(text[position - 1]) { position += 1 }
      return position
    }
    return boundary(piece * text.count / pieces)..<boundary((piece + 1) * text.count / pieces)
  }

  /// Adds the words of `range` to `counts`.
  static func count(_ range: Range<Int>, of text: UnsafeBufferPointer<UInt8>, into counts: inout [String: Int]) {
    var start = range.lowerBound
    for position in range where isSeparator(text[position]) {
      if position > start {
        counts[String(decoding: UnsafeBufferPointer(rebasing: text[start..<position]), as: UTF8.self), default: 0] += 1
      }
      start = position + 1
    }
    if range.upperBound > start {
      counts[
        String(decoding: UnsafeBufferPointer(rebasing: text[start..<range.upperBound]), as: UTF8.self), default: 0] +=
        1
    }
  }

  /// The counts, on this thread.
  static func serial(_ text: [UInt8]) -> [String: Int] {
    text.withUnsafeBufferPointer { bytes in
      var counts: [String: Int] = [:]
      count(0..<bytes.count, of: bytes, into: &counts)
      return counts
    }
  }

  /// The counts, `pieces` pieces counted by threads and merged under a lock.
  static func threads(_ text: [UInt8], pieces: Int) -> [String: Int] {
    text.withUnsafeBufferPointer { bytes in
      let total = LockedCounts()
      let shared = UncheckedText(bytes)
      DispatchQueue.concurrentPerform(iterations: pieces) { piece in
        var counts: [String: Int] = [:]
        count(bounds(of: piece, pieces: pieces, in: shared.bytes), of: shared.bytes, into: &counts)
        total.merge(counts)
      }
      return total.counts
    }
  }

  /// The counts, `pieces` pieces claimed one at a time by the team's members.
  static func team(_ text: [UInt8], pieces: Int, team: ProcessTeam) throws -> [String: Int] {
    try team.reduce(0..<pieces, chunkSize: 1, into: [String: Int]()) { counts, piece in
      text.withUnsafeBufferPointer { count(bounds(of: piece, pieces: pieces, in: $0), of: $0, into: &counts) }
    } merge: { total, part in
      total.merge(part, uniquingKeysWith: +)
    }
  }
}

/// The threads' total, merged under a lock.
final class LockedCounts: @unchecked Sendable {
  // @unchecked: `counts` is touched only under `lock`, and read after every thread is done.
  private let lock = NSLock()
  private(set) var counts: [String: Int] = [:]

  func merge(_ part: [String: Int]) {
    lock.withLock { counts.merge(part, uniquingKeysWith: +) }
  }
}

/// The text, which the threads only read.
struct UncheckedText: @unchecked Sendable {
  // @unchecked: read-only while the threads run.
  let bytes: UnsafeBufferPointer<UInt8>
  init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }
}
