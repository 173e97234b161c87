import Foundation

/// A memory-bandwidth-bound kernel: the STREAM triad `a[i] = b[i] + s × c[i]` over arrays
/// larger than the last-level cache.
///
/// Each thread (so each worker process) keeps its own three arrays, made on its first unit
/// and reused by every later unit it runs, so that a unit is one pass over memory and not
/// page faults. Values are small integers, so every result is exact and the checksum does
/// not depend on the order of the units.
public enum Triad {
  /// Unit `k`: one triad pass with `s = k mod 5 + 1` over arrays of `elements` doubles;
  /// returns the sum of every 4096th element of `a`.
  public static func unit(_ k: Int, elements: Int) -> UInt64 {
    let arrays = Arrays.forCurrentThread(elements: elements)
    let (a, b, c) = (arrays.a, arrays.b, arrays.c)
    let scalar = Double(k % 5 + 1)
    for index in 0..<elements { a[index] = b[index] + scalar * c[index] }
    var sum: UInt64 = 0
    for index in stride(from: 0, to: elements, by: 4096) { sum &+= UInt64(a[index]) }
    return sum
  }

  /// What ``unit(_:elements:)`` returns, computed from the formula without the arrays.
  public static func expected(_ k: Int, elements: Int) -> UInt64 {
    let scalar = UInt64(k % 5 + 1)
    var sum: UInt64 = 0
    for index in stride(from: 0, to: elements, by: 4096) { sum &+= b(index) + scalar * c(index) }
    return sum
  }

  /// The initial value of `b[index]`.
  static func b(_ index: Int) -> UInt64 { UInt64(index & 1023) }
  /// The value of `c[index]`.
  static func c(_ index: Int) -> UInt64 { UInt64((index >> 10) & 7) }

  /// Elements per array so that the three arrays take twice `lastLevelCacheBytes` (at least
  /// 4 Mi elements, 96 MiB in all).
  public static func elements(lastLevelCacheBytes: Int) -> Int {
    max(1 << 22, 2 * lastLevelCacheBytes / (3 * MemoryLayout<Double>.stride))
  }

  /// One thread's arrays, freed when the thread ends.
  final class Arrays: NSObject {
    let a: UnsafeMutablePointer<Double>
    let b: UnsafeMutablePointer<Double>
    let c: UnsafeMutablePointer<Double>
    let elements: Int

    init(elements: Int) {
      self.elements = elements
      a = .allocate(capacity: elements)
      b = .allocate(capacity: elements)
      c = .allocate(capacity: elements)
      for index in 0..<elements {
        a[index] = 0
        b[index] = Double(Triad.b(index))
        c[index] = Double(Triad.c(index))
      }
    }

    deinit {
      a.deallocate()
      b.deallocate()
      c.deallocate()
    }

    static func forCurrentThread(elements: Int) -> Arrays {
      let key = "swift-multiprocessing.Triad.arrays"
      let dictionary = Thread.current.threadDictionary
      if let arrays = dictionary[key] as? Arrays, arrays.elements == elements { return arrays }
      dictionary[key] = nil
      let arrays = Arrays(elements: elements)
      dictionary[key] = arrays
      return arrays
    }
  }
}
