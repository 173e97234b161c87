/// An allocation-heavy kernel: builds, sorts and counts Swift strings, arrays and
/// dictionaries, so that it exercises the allocator and reference counting rather than
/// arithmetic.
///
/// The checksum folds the sorted contents, never a hash value (Swift seeds hashing per
/// process), so it is the same in every process and in the project's Python reference.
public enum AllocationHeavy {
  /// Unit `k`: `words` strings `"w" + hex(s >> 40)` from the unit's generator, sorted; a
  /// dictionary counting their first four characters; the checksum of the sorted counts and
  /// of the median word.
  public static func unit(_ k: Int, words count: Int) -> UInt64 {
    var state = MonteCarloPi.splitmix64(UInt64(k))
    var words: [String] = []
    for _ in 0..<count {
      state = MonteCarloPi.lcg(state)
      words.append("w" + String(state >> 40, radix: 16))
    }
    words.sort()
    var counts: [String: Int] = [:]
    for word in words { counts[String(word.prefix(4)), default: 0] += 1 }
    var checksum: UInt64 = 0
    func fold(_ text: String) {
      for byte in text.utf8 { checksum = checksum &* 31 &+ UInt64(byte) }
    }
    for key in counts.keys.sorted() {
      fold(key)
      checksum = checksum &* 31 &+ UInt64(counts[key]!)
    }
    if !words.isEmpty { fold(words[count / 2]) }
    return checksum
  }
}
