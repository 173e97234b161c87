import Foundation
import Kernels
import Testing

/// The kernels of mpbench's scaling suite: each result is exact and independent of where and
/// in which order its units run.
@Suite struct ScalingKernelsTests {
  @Test func triadMatchesItsFormulaOnEveryThread() {
    let elements = 1 << 16
    for k in 0..<6 { #expect(Triad.unit(k, elements: elements) == Triad.expected(k, elements: elements)) }
    // A unit with another scalar after a first one on the same arrays is still exact.
    #expect(Triad.unit(1, elements: elements) != Triad.unit(2, elements: elements))
    // Another thread has arrays of its own; a new size replaces them.
    let other = DispatchQueue.global().sync { Triad.unit(4, elements: elements * 2) }
    #expect(other == Triad.expected(4, elements: elements * 2))
    #expect(Triad.elements(lastLevelCacheBytes: 0) == 1 << 22)
    #expect(Triad.elements(lastLevelCacheBytes: 300 << 20) * 24 >= 2 * (300 << 20) - 24)
  }

  @Test func allocationHeavyMatchesThePythonReference() {
    // The value Scripts/mpbench_reference.py --vector prints: same words, same fold.
    #expect(AllocationHeavy.unit(3, words: 1000) == 1_850_906_840_039_483_212)
    #expect(AllocationHeavy.unit(3, words: 1000) != AllocationHeavy.unit(4, words: 1000))
    #expect(AllocationHeavy.unit(0, words: 0) == 0)
  }

  @Test func imbalancedUnitsDifferInCost() {
    let weights = (0..<8).map(Imbalanced.weight)
    #expect(weights == [8, 8, 32, 1, 2, 2, 8, 2])  // as the Python reference computes them
    #expect((0..<64).allSatisfy { (1...32).contains(Imbalanced.weight($0)) })
    #expect(Imbalanced.unit(2, baseSamples: 100) == MonteCarloPi.unit(2, samples: 3200))
  }

  @Test(arguments: [true, false])
  func contendedCountersCountEveryIncrement(packed: Bool) {
    let counters = ContendedCounters(packed: packed)
    #expect(counters.spacing == (packed ? 8 : 128))
    DispatchQueue.concurrentPerform(iterations: 16) { k in
      #expect(counters.unit(k, increments: 10_000) == 10_000)
    }
    #expect(counters.total == 160_000)
    counters.reset()
    #expect(counters.total == 0)
  }
}
