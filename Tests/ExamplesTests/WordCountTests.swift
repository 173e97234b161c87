import ComputeEngine
import Testing

@testable import WordCount

/// The word-count example, small: threads and the team's map-reduce make the serial counts,
/// whatever the number of pieces, and every word falls in exactly one piece.
@Suite(.timeLimit(.minutes(3))) struct WordCountTests {
  @Test(arguments: [1, 7, 64])
  func everyVersionMakesTheSerialCounts(pieces: Int) throws {
    let text = WordCount.text(bytes: 200_000, vocabulary: 300)
    let serial = WordCount.serial(text)
    #expect(serial.values.reduce(0, +) == text.filter(WordCount.isSeparator).count)
    #expect(serial.count > 100)
    #expect(WordCount.threads(text, pieces: pieces) == serial)
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    #expect(try WordCount.team(text, pieces: pieces, team: team) == serial)
  }

  @Test func piecesCoverTheTextAtWordBoundaries() {
    let text = Array("alpha beta gamma\ndelta epsilon".utf8)
    text.withUnsafeBufferPointer { bytes in
      let bounds = (0..<5).map { WordCount.bounds(of: $0, pieces: 5, in: bytes) }
      #expect(bounds.first?.lowerBound == 0 && bounds.last?.upperBound == text.count)
      for (left, right) in zip(bounds, bounds.dropFirst()) { #expect(left.upperBound == right.lowerBound) }
      for piece in bounds where piece.lowerBound > 0 && piece.lowerBound < text.count {
        #expect(WordCount.isSeparator(text[piece.lowerBound - 1]), "a piece starts at a word")
      }
    }
  }
}
