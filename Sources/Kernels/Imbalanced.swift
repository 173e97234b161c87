/// An imbalanced kernel: reference-kernel units whose costs differ by up to 32 times, so that
/// a static split leaves workers idle and only dynamic scheduling keeps them all busy.
public enum Imbalanced {
  /// How many times the base samples unit `k` runs: 1, 2, 4, … 32, from the unit's seed.
  public static func weight(_ k: Int) -> Int {
    1 << Int(MonteCarloPi.splitmix64(UInt64(k) &+ 0x1_0000) % 6)
  }

  /// Unit `k`: the reference kernel's unit `k` with `weight(k) × baseSamples` samples.
  public static func unit(_ k: Int, baseSamples: Int) -> UInt64 {
    MonteCarloPi.unit(UInt64(k), samples: weight(k) * baseSamples)
  }
}
